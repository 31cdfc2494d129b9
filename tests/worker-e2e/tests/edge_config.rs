//! The edge's configuration files agree with the code that relies on them (no worker
//! needed; the served headers are checked in `worker.rs`):
//!
//! - every environment of `wrangler.toml` has the `AICR_RATE_LIMITER` binding, with a
//!   period the platform accepts and the same period in its `AICR_RATE_LIMITER_PERIOD`
//!   (the worker's `Retry-After`), and no two environments share counters;
//! - every environment has the `AICR_CATALOGS` KV namespace (tenants' catalogs), and
//!   staging's is not production's;
//! - `www/_headers` gives the explorer `aicr_stack::EXPLORER_CSP`, and that policy lets the
//!   page's inline scripts run (by hash) and no other inline script.

use aicr_worker_e2e::{CATALOGS, RATE_LIMITER, RATE_LIMITER_PERIOD, WranglerBindings, root};
use base64::Engine as _;
use sha2::{Digest, Sha256};

#[test]
fn every_environment_has_the_rate_limiter_and_its_period() {
    let text = std::fs::read_to_string(root().join("wrangler.toml")).unwrap();
    let config = WranglerBindings::parse(&text).unwrap();
    let envs: [Option<&str>; 3] = [None, Some("staging"), Some("production")];
    let mut namespaces = Vec::new();
    for env in envs {
        let bindings: Vec<_> = config
            .bindings
            .iter()
            .filter(|b| b.env.as_deref() == env && b.name == RATE_LIMITER)
            .collect();
        assert_eq!(bindings.len(), 1, "{env:?}: one {RATE_LIMITER}: {config:?}");
        let binding = bindings[0];
        assert!(
            [10, 60].contains(&binding.period_secs) && binding.limit > 0,
            "{env:?}: {binding:?}"
        );
        let period = config
            .vars
            .iter()
            .find(|(e, name, _)| e.as_deref() == env && name == RATE_LIMITER_PERIOD)
            .map(|(_, _, value)| value.as_str());
        assert_eq!(
            period,
            Some(binding.period_secs.to_string().as_str()),
            "{env:?}: {RATE_LIMITER_PERIOD} must equal the binding's period"
        );
        namespaces.push((env, binding.namespace_id.clone()));
    }
    // The top level and production are the same worker (`aicr-edge`); staging counts apart.
    assert_eq!(namespaces[0].1, namespaces[2].1, "{namespaces:?}");
    assert_ne!(namespaces[1].1, namespaces[2].1, "{namespaces:?}");
}

#[test]
fn every_environment_has_the_catalogs_namespace() {
    let text = std::fs::read_to_string(root().join("wrangler.toml")).unwrap();
    let config = WranglerBindings::parse(&text).unwrap();
    let ids: Vec<String> = [None, Some("staging"), Some("production")]
        .into_iter()
        .map(|env| {
            let found: Vec<_> = config
                .kv_namespaces
                .iter()
                .filter(|n| n.env.as_deref() == env && n.binding == CATALOGS)
                .collect();
            assert_eq!(found.len(), 1, "{env:?}: one {CATALOGS}: {config:?}");
            assert!(!found[0].id.is_empty(), "{env:?}: {CATALOGS} has no id");
            found[0].id.clone()
        })
        .collect();
    // The top level and production are the same worker (`aicr-edge`); staging keeps its own.
    assert_eq!(ids[0], ids[2], "{ids:?}");
    assert_ne!(ids[1], ids[2], "{ids:?}");
}

/// The `/*` rule's headers in `www/_headers`.
fn headers_file() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("www/_headers")).unwrap();
    let mut rules = text.lines().filter(|l| !l.trim_start().starts_with('#'));
    assert_eq!(
        rules.next(),
        Some("/*"),
        "www/_headers starts with the /* rule"
    );
    rules
        .map(|l| {
            assert!(l.starts_with("  "), "a header line is indented: {l:?}");
            let (name, value) = l.trim().split_once(':').expect("name: value");
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect()
}

#[test]
fn the_explorer_gets_the_stacks_policy_and_its_inline_scripts_run() {
    let headers = headers_file();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        get("Content-Security-Policy"),
        Some(aicr_stack::EXPLORER_CSP)
    );
    assert_eq!(get("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(get("Referrer-Policy"), Some("no-referrer"));

    let page = std::fs::read_to_string(root().join("www/index.html")).unwrap();
    let mut inline = Vec::new();
    for part in page.split("<script").skip(1) {
        let (attributes, rest) = part.split_once('>').expect("a script tag ends");
        if attributes.contains("src=") {
            continue;
        }
        let (body, _) = rest.split_once("</script>").expect("a script element ends");
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
        inline.push(format!("'sha256-{hash}'"));
    }
    let script_src = aicr_stack::EXPLORER_CSP
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix("script-src "))
        .expect("a script-src directive");
    let allowed: Vec<String> = script_src
        .split_whitespace()
        .filter(|s| s.starts_with("'sha256-"))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        allowed, inline,
        "EXPLORER_CSP's script hashes are not those of www/index.html's inline scripts \
         (after editing one, put its hash in crates/stack/src/lib.rs and www/_headers)"
    );
}

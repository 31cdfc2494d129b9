//! Tenants' catalogs on the real server (`AICR_CATALOG_STORE`): uploaded and activated on
//! the admin listener with an admin key, served to their tenant only, rolled back, a bad
//! upload refused with its defects, and a store that fails after activation answered
//! from the last good catalog, marked stale.
//!
//! Catalogs are packed with the crate's own `pack_files` (what `cargo xtask catalog pack`
//! calls) over the embedded catalog. Breaker, retries, bulkhead and coalescing are the
//! crate's, tested there with faults injected (`crates/tenant-catalogs/tests/faults.rs`).

mod common;

use aicr_tenant_catalogs::Packed;
use aicr_tenant_catalogs::sample::{EMPTY_REGISTRY, pinned_gpu_operator as catalog};
use aicr_worker_e2e::catalog_answers::{assert_tenant, embedded_header, gpu_operator_version};
use common::{Answer, Server, call};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const RECIPE: &str = "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";

/// An artifact in the right format whose catalog is broken.
fn broken_artifact() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "format": "aicr-catalog/v1",
        "files": {
            "registry.yaml": EMPTY_REGISTRY,
            "overlays/broken.yaml": "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: broken}
spec:
  base: no-such-overlay
  criteria: {service: eks}
",
            "components/y/values.yaml": "[1, 2]\n"
        }
    }))
    .unwrap()
}

/// A fresh directory for a store.
fn temp_dir(tag: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("aicr-server-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A server with a store in `store` (if any), an admin tenant and two ordinary ones.
struct Rig {
    server: Server,
    ops: String,
    acme: String,
    beta: String,
}

fn rig(store: Option<&PathBuf>) -> Rig {
    let (tenants, keys) = common::tenants(&[("ops", true), ("acme", false), ("beta", false)]);
    let store = store.map(|s| s.display().to_string());
    let mut env = vec![
        ("AICR_KEY_SECRET", common::SECRET),
        ("AICR_TENANTS", tenants.as_str()),
    ];
    if let Some(store) = &store {
        env.push(("AICR_CATALOG_STORE", store.as_str()));
    }
    Rig {
        server: Server::start(&env),
        ops: keys[0].clone(),
        acme: keys[1].clone(),
        beta: keys[2].clone(),
    }
}

impl Rig {
    fn admin(&self, method: &str, path: &str, body: &[u8]) -> Answer {
        call(
            &self.server.admin_addr(),
            method,
            path,
            &[("authorization", &format!("Bearer {}", self.ops))],
            body,
        )
    }

    fn upload(&self, tenant: &str, bytes: &[u8]) -> Answer {
        self.admin("POST", &format!("/admin/tenants/{tenant}/catalogs"), bytes)
    }

    fn activate(&self, tenant: &str, packed: &Packed) -> Value {
        let body = json!({"digest": packed.digest.as_str()}).to_string();
        let answer = self.admin(
            "PUT",
            &format!("/admin/tenants/{tenant}/catalogs/active"),
            body.as_bytes(),
        );
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()
    }

    fn list(&self, tenant: &str) -> Value {
        let answer = self.admin("GET", &format!("/admin/tenants/{tenant}/catalogs"), b"");
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()
    }

    /// The recipe as `key`'s tenant (anonymous with `None`).
    fn recipe(&self, key: Option<&str>) -> Answer {
        let auth = key.map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        call(&self.server.addr(), "GET", RECIPE, &headers, b"")
    }
}

fn assert_embedded(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 200, "{what}: {}", answer.text());
    assert_eq!(
        answer.header("x-aicr-catalog"),
        Some(embedded_header().as_str()),
        "{what}"
    );
    assert!(
        !gpu_operator_version(answer).starts_with("v99."),
        "{what}: a tenant's version"
    );
}

#[test]
fn a_tenant_catalog_is_uploaded_activated_served_to_its_tenant_and_rolled_back() {
    let store = temp_dir("serve");
    let rig = rig(Some(&store));
    let (a, b) = (catalog("v99.1.0"), catalog("v99.2.0"));
    assert_embedded(&rig.recipe(Some(&rig.acme)), "acme before any upload");

    let created = rig.upload("acme", &a.bytes);
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json()["digest"], a.digest.as_str());
    assert_eq!(created.json()["created"], true);
    assert_eq!(
        created.header("location"),
        Some(format!("/admin/tenants/acme/catalogs/{}", a.digest).as_str())
    );
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let again = rig.upload("acme", &a.bytes);
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["created"], false);
    assert_eq!(rig.upload("acme", &b.bytes).status, 201);
    // Uploading does not activate.
    assert_embedded(&rig.recipe(Some(&rig.acme)), "acme after upload");
    let stored = rig.admin(
        "GET",
        &format!("/admin/tenants/acme/catalogs/{}", a.digest),
        b"",
    );
    assert_eq!(stored.status, 200);
    assert_eq!(stored.body, a.bytes, "the stored artifact, byte for byte");

    let pointer = rig.activate("acme", &a);
    assert_eq!(pointer["active"], a.digest.as_str());
    let first = rig.recipe(Some(&rig.acme));
    assert_tenant(&first, &a, "v99.1.0", "acme after activating a");
    assert_tenant(&rig.recipe(Some(&rig.acme)), &a, "v99.1.0", "acme again");
    assert_embedded(&rig.recipe(None), "anonymous");
    assert_embedded(&rig.recipe(Some(&rig.beta)), "another tenant");

    rig.activate("acme", &b);
    assert_tenant(
        &rig.recipe(Some(&rig.acme)),
        &b,
        "v99.2.0",
        "after activating b",
    );
    let listing = rig.list("acme");
    assert_eq!(listing["active"], b.digest.as_str());
    assert_eq!(listing["history"], json!([a.digest.as_str()]));
    let mut both = vec![a.digest.to_string(), b.digest.to_string()];
    both.sort();
    assert_eq!(listing["catalogs"], json!(both));

    let rolled = rig.admin("POST", "/admin/tenants/acme/catalogs/active/rollback", b"");
    assert_eq!(rolled.status, 200, "{}", rolled.text());
    assert_eq!(rolled.json()["active"], a.digest.as_str());
    assert_tenant(
        &rig.recipe(Some(&rig.acme)),
        &a,
        "v99.1.0",
        "after rollback",
    );
    let nothing = rig.admin("POST", "/admin/tenants/beta/catalogs/active/rollback", b"");
    assert_eq!(nothing.status, 409, "{}", nothing.text());

    let off = rig.admin("DELETE", "/admin/tenants/acme/catalogs/active", b"");
    assert_eq!(off.status, 200, "{}", off.text());
    assert_eq!(off.json()["active"], Value::Null);
    assert_embedded(&rig.recipe(Some(&rig.acme)), "after deactivation");

    // The admin routes are the admin listener's, for admin keys only.
    let tenant_key = call(
        &rig.server.admin_addr(),
        "GET",
        "/admin/tenants/acme/catalogs",
        &[("authorization", &format!("Bearer {}", rig.acme))],
        b"",
    );
    assert_eq!(tenant_key.status, 403);
    let public = call(
        &rig.server.addr(),
        "GET",
        "/admin/tenants/acme/catalogs",
        &[("authorization", &format!("Bearer {}", rig.ops))],
        b"",
    );
    assert_ne!(
        public.status, 200,
        "the public listener served an admin route"
    );
    assert_eq!(
        rig.admin("GET", "/admin/tenants/nobody/catalogs", b"")
            .status,
        404
    );

    // Loads are counted and logged; the access line names the route template.
    let metrics = common::get(&rig.server.admin_addr(), "/metrics").text();
    let count = |result: &str| -> u64 {
        let line = format!("aicr_catalog_lookups_total{{result=\"{result}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .unwrap_or_else(|| panic!("no {line} in\n{metrics}"))
            .parse()
            .unwrap()
    };
    assert!(count("hit") >= 1, "{metrics}");
    assert!(count("embedded") >= 2, "{metrics}");
    rig.server.wait_for_log("the upload's access line", |l| {
        l["route"] == "/admin/tenants/{tenant}/catalogs" && l["status"] == 201
    });
    let _ = std::fs::remove_dir_all(&store);
}

#[test]
fn a_bad_upload_is_422_with_its_defects_and_changes_nothing() {
    let store = temp_dir("bad");
    let rig = rig(Some(&store));
    let a = catalog("v99.1.0");
    assert_eq!(rig.upload("acme", &a.bytes).status, 201);
    rig.activate("acme", &a);
    let before = rig.list("acme");

    let refused = rig.upload("acme", &broken_artifact());
    assert_eq!(refused.status, 422, "{}", refused.text());
    let body = refused.json();
    assert_eq!(body["code"], "INVALID_CATALOG", "{body}");
    let defects = body["details"]["defects"].as_array().expect("defects");
    assert!(
        defects
            .iter()
            .any(|d| d["file"] == "components/y/values.yaml"),
        "{body}"
    );
    assert!(
        defects
            .iter()
            .all(|d| d["file"].is_string() && d["reason"].is_string()),
        "{body}"
    );
    assert_eq!(
        rig.list("acme"),
        before,
        "a refused upload changed the store"
    );
    assert_tenant(
        &rig.recipe(Some(&rig.acme)),
        &a,
        "v99.1.0",
        "after the refusal",
    );

    // An upload may be larger than the API's 64 KiB body limit; other admin bodies not.
    let mut big = b"{\"format\": \"aicr-catalog/v1\", \"files\": {}, \"pad\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'x', 100 * 1024));
    big.extend_from_slice(b"\"}");
    let large_upload = rig.upload("acme", &big);
    assert_eq!(large_upload.status, 422, "{}", large_upload.text());
    let large_put = rig.admin("PUT", "/admin/tenants/acme/catalogs/active", &big);
    assert_eq!(large_put.status, 413, "{}", large_put.text());
    // Only an admin's key lets an upload past 64 KiB into the server.
    let not_admin = call(
        &rig.server.admin_addr(),
        "POST",
        "/admin/tenants/acme/catalogs",
        &[("authorization", &format!("Bearer {}", rig.acme))],
        &big,
    );
    assert_eq!(not_admin.status, 403, "{}", not_admin.text());
    assert_eq!(rig.list("acme"), before);
    let _ = std::fs::remove_dir_all(&store);
}

#[test]
fn a_failing_store_after_activation_answers_stale_from_the_last_good_catalog() {
    let store = temp_dir("stale");
    let rig = rig(Some(&store));
    let a = catalog("v99.1.0");
    assert_eq!(rig.upload("acme", &a.bytes).status, 201);
    rig.activate("acme", &a);
    assert_tenant(
        &rig.recipe(Some(&rig.acme)),
        &a,
        "v99.1.0",
        "before the failure",
    );

    // The store's directory becomes a file: every read fails (not "not found").
    std::fs::remove_dir_all(&store).unwrap();
    std::fs::write(&store, b"not a directory").unwrap();
    // Past the pointer TTL the pointer is read again, and fails.
    std::thread::sleep(
        aicr_tenant_catalogs::Config::default().pointer_ttl + Duration::from_millis(200),
    );
    let stale = rig.recipe(Some(&rig.acme));
    assert_eq!(stale.status, 200, "{}", stale.text());
    assert_eq!(
        stale.header("x-aicr-catalog"),
        Some(
            format!(
                "stale;source=tenant;digest=\"{}\";reason=store-error",
                a.digest
            )
            .as_str()
        ),
    );
    assert_eq!(stale.header("cache-control"), Some("no-store"));
    assert_eq!(gpu_operator_version(&stale), "v99.1.0");
    // Other callers never read the store.
    assert_embedded(&rig.recipe(None), "anonymous during the outage");
    // An administrator is told the store failed rather than something old.
    let listing = rig.admin("GET", "/admin/tenants/acme/catalogs", b"");
    assert_eq!(listing.status, 503, "{}", listing.text());
    let _ = std::fs::remove_file(&store);
}

#[test]
fn without_a_store_everyone_is_embedded_and_the_routes_say_so() {
    let rig = rig(None);
    assert_embedded(&rig.recipe(Some(&rig.acme)), "a tenant");
    assert_embedded(&rig.recipe(None), "anonymous");
    let answer = rig.upload("acme", &catalog("v99.1.0").bytes);
    assert_eq!(answer.status, 500, "{}", answer.text());
    assert!(
        answer.text().contains("AICR_CATALOG_STORE"),
        "{}",
        answer.text()
    );
}

#[test]
fn a_store_beside_a_catalog_directory_is_refused() {
    let (status, logs) = Server::refused(&[
        ("AICR_CATALOG_STORE", "/tmp/x"),
        ("AICR_CATALOG_DIR", "/tmp/y"),
    ]);
    assert_eq!(status.code(), Some(2), "{logs:?}");
    assert!(
        logs.iter().any(|l| l.contains("AICR_CATALOG_STORE")),
        "{logs:?}"
    );
}

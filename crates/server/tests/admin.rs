//! The admin listener: who may use it, `/metrics`, run-time changes (log level, the
//! anonymous rate limit, the cache), feature flags and their rollout, and OTLP spans.

mod common;

use common::{Server, call, get};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RECIPE: &str = "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";

/// A server with an admin tenant and an ordinary one; their keys.
fn with_tenants(extra: &[(&str, &str)]) -> (Server, String, String) {
    let (tenants, keys) = common::tenants(&[("ops", true), ("acme", false)]);
    let mut env = vec![
        ("AICR_KEY_SECRET", common::SECRET),
        ("AICR_TENANTS", tenants.as_str()),
    ];
    env.extend_from_slice(extra);
    let server = Server::start(&env);
    let [ops, acme] = [keys[0].clone(), keys[1].clone()];
    (server, ops, acme)
}

fn admin(server: &Server, method: &str, path: &str, key: &str, body: &str) -> common::Answer {
    call(
        &server.admin_addr(),
        method,
        path,
        &[("authorization", &format!("Bearer {key}"))],
        body.as_bytes(),
    )
}

#[test]
fn the_admin_api_needs_an_admin_key() {
    let (server, ops, acme) = with_tenants(&[]);
    let anonymous = get(&server.admin_addr(), "/admin/identity");
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.header("www-authenticate").is_some());
    assert_eq!(
        admin(&server, "GET", "/admin/identity", &acme, "").status,
        403
    );
    let identity = admin(&server, "GET", "/admin/identity", &ops, "");
    assert_eq!(identity.status, 200, "{}", identity.text());
    let doc = identity.json();
    let catalog = aicr_embedded_catalog::catalog().info();
    assert_eq!(doc["catalog"]["digest"], catalog.digest.as_str());
    assert_eq!(doc["catalog"]["source"], "embedded");
    assert_eq!(doc["build"], aicr_api::BUILD_IDENTITY);
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(identity.header("cache-control"), Some("no-store"));
    // The admin routes are not on the public listener's tenant rules either way.
    assert_eq!(
        call(
            &server.addr(),
            "GET",
            "/admin/identity",
            &[("x-api-key", &ops)],
            b""
        )
        .status,
        404
    );
    assert_eq!(
        admin(&server, "GET", "/admin/nothing", &ops, "").status,
        404
    );
    let wrong = admin(&server, "DELETE", "/admin/log-level", &ops, "");
    assert_eq!(
        (wrong.status, wrong.header("allow")),
        (405, Some("GET, PUT"))
    );
    // Admin requests are logged like any other, with their route and tenant.
    let line = server.wait_for_log("for the admin request", |l| {
        l["listener"] == "admin" && l["status"] == 200
    });
    assert_eq!(
        (line["route"].as_str(), line["tenant"].as_str()),
        (Some("/admin/identity"), Some("ops"))
    );
}

#[test]
fn an_address_outside_the_allowlist_gets_403_whatever_its_key() {
    let (server, ops, _) = with_tenants(&[("AICR_ADMIN_ALLOW", "10.0.0.0/8, 192.0.2.1")]);
    for path in ["/admin/identity", "/metrics"] {
        let refused = admin(&server, "GET", path, &ops, "");
        assert_eq!(refused.status, 403, "{path}");
        let body = refused.json();
        assert_eq!(body["code"], "FORBIDDEN");
        assert_eq!(body["details"]["address"], "127.0.0.1");
    }
    assert_eq!(
        get(&server.addr(), "/health").status,
        200,
        "the API is not affected"
    );
}

#[test]
fn metrics_have_upstreams_names_with_route_templates() {
    let server = Server::start(&[("AICR_RATE_LIMIT", "3/m")]);
    let addr = server.addr();
    for _ in 0..4 {
        get(&addr, RECIPE);
    }
    get(&addr, "/v1/query?service=eks&selector=x");
    get(&addr, "/no/such/path?secret=1");
    let metrics = get(&server.admin_addr(), "/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = metrics.text();
    for expected in [
        "# TYPE aicr_http_requests_total counter",
        "aicr_http_requests_total{method=\"GET\",path=\"/v1/recipe\",status=\"200\"} 3",
        "aicr_http_requests_total{method=\"GET\",path=\"/v1/recipe\",status=\"429\"} 1",
        "path=\"unmatched\"",
        "# TYPE aicr_http_request_duration_seconds histogram",
        "aicr_http_request_duration_seconds_count{method=\"GET\",path=\"/v1/recipe\"} 4",
        "aicr_http_request_duration_seconds_bucket{method=\"GET\",path=\"/v1/recipe\",le=\"+Inf\"} 4",
        "aicr_http_requests_in_flight 0",
        "aicr_rate_limit_rejects_total 3",
        "aicr_build_info{",
        "process_resident_memory_bytes ",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
    assert!(
        !text.contains("/no/such/path") && !text.contains("secret"),
        "{text}"
    );
    assert!(!text.contains("service=eks"));
}

#[test]
fn log_level_changes_at_run_time() {
    let (server, ops, _) = with_tenants(&[]);
    let level = |s: &Server| admin(s, "GET", "/admin/log-level", &ops, "").json()["level"].clone();
    assert_eq!(level(&server), "info");
    let changed = admin(
        &server,
        "PUT",
        "/admin/log-level",
        &ops,
        r#"{"level":"warn"}"#,
    );
    assert_eq!(changed.status, 200, "{}", changed.text());
    assert_eq!(changed.json()["previous"], "info");
    assert_eq!(level(&server), "warn");
    let quiet = get(&server.addr(), "/health");
    let bad = admin(
        &server,
        "PUT",
        "/admin/log-level",
        &ops,
        r#"{"level":"loud"}"#,
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["details"]["allowed"][0], "error");
    assert_eq!(
        admin(&server, "PUT", "/admin/log-level", &ops, "{").status,
        400
    );
    admin(
        &server,
        "PUT",
        "/admin/log-level",
        &ops,
        r#"{"level":"info"}"#,
    );
    let loud = get(&server.addr(), "/health");
    let id = loud.header("x-request-id").unwrap();
    server.wait_for_log("at info again", |l| l["requestId"] == id);
    let quiet_id = quiet.header("x-request-id").unwrap();
    assert!(
        !server.logs().iter().any(|l| l.contains(quiet_id)),
        "logged at warn"
    );
    // Both changes are on record, with who made them.
    let changes: Vec<Value> = server
        .logs_of("admin")
        .into_iter()
        .filter(|l| l["action"] == "log-level")
        .collect();
    assert_eq!(
        changes.len(),
        1,
        "the change to warn is not logged at warn: {changes:?}"
    );
    assert_eq!(
        (changes[0]["tenant"].as_str(), changes[0]["to"].as_str()),
        (Some("ops"), Some("info"))
    );
}

#[test]
fn the_anonymous_rate_limit_changes_at_run_time() {
    let (server, ops, acme) = with_tenants(&[]);
    let addr = server.addr();
    for _ in 0..5 {
        assert_eq!(get(&addr, "/health").status, 200);
    }
    assert_eq!(
        admin(&server, "GET", "/admin/rate-limit", &ops, "").json()["anonymous"],
        Value::Null
    );
    let set = admin(
        &server,
        "PUT",
        "/admin/rate-limit",
        &ops,
        r#"{"anonymous":"2/m"}"#,
    );
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["anonymous"], "2/m");
    assert_eq!(get(&addr, "/health").header("ratelimit-limit"), Some("2"));
    get(&addr, "/health");
    let limited = get(&addr, "/health");
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
    // Tenants have their own limits (none here), untouched.
    assert_eq!(
        call(&addr, "GET", "/health", &[("x-api-key", &acme)], b"").status,
        200
    );
    let bad = admin(
        &server,
        "PUT",
        "/admin/rate-limit",
        &ops,
        r#"{"anonymous":"lots"}"#,
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["details"]["parameter"], "anonymous");
    assert_eq!(
        admin(&server, "GET", "/admin/rate-limit", &ops, "").json()["anonymous"],
        "2/m"
    );
    let off = admin(
        &server,
        "PUT",
        "/admin/rate-limit",
        &ops,
        r#"{"anonymous":null}"#,
    );
    assert_eq!(off.json()["previous"], "2/m");
    assert_eq!(get(&addr, "/health").status, 200);
    assert_eq!(get(&addr, "/health").header("ratelimit-limit"), None);
}

#[test]
fn a_cache_flush_forgets_memoised_answers() {
    let (server, ops, _) = with_tenants(&[]);
    get(&server.addr(), RECIPE);
    get(&server.addr(), &format!("{RECIPE}&format=yaml"));
    let flushed = admin(&server, "POST", "/admin/cache/flush", &ops, "");
    assert_eq!(flushed.status, 200);
    assert_eq!(flushed.json()["flushed"], 2);
    assert_eq!(
        admin(&server, "POST", "/admin/cache/flush", &ops, "").json()["flushed"],
        0
    );
    let again = get(&server.addr(), RECIPE);
    assert_eq!(again.status, 200);
    assert_eq!(
        admin(&server, "POST", "/admin/cache/flush", &ops, "").json()["flushed"],
        1
    );
}

/// Whether `key` (None: anonymous) is served `/v1/bundle` (OPTIONS: cheap, same gate).
fn bundles_for(server: &Server, key: Option<&str>) -> bool {
    let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
    let answer = call(&server.addr(), "OPTIONS", "/v1/bundle", &headers, b"");
    match answer.status {
        204 => true,
        404 => false,
        other => panic!("OPTIONS /v1/bundle: {other} {}", answer.text()),
    }
}

#[test]
fn flags_roll_out_by_percent_and_tenant() {
    let names: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
    let listed: Vec<(&str, bool)> = names.iter().map(|n| (n.as_str(), false)).collect();
    let (tenants, keys) = common::tenants(&listed);
    let base = [
        ("AICR_KEY_SECRET", common::SECRET),
        ("AICR_TENANTS", tenants.as_str()),
    ];

    // 0 %: nobody gets bundles; the 404 is the API's own (v1 body, v2 problem).
    let mut env = base.to_vec();
    env.push(("AICR_FLAGS", r#"{"bundles": 0}"#));
    let off = Server::start(&env);
    assert!(!bundles_for(&off, None));
    assert!(keys.iter().all(|k| !bundles_for(&off, Some(k))));
    let v1 = get(&off.addr(), "/v1/bundle?service=eks");
    assert_eq!(
        (v1.status, v1.json()["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let v2 = get(&off.addr(), "/v2/bundle?service=eks");
    assert_eq!(
        (v2.status, v2.header("content-type")),
        (404, Some("application/problem+json"))
    );
    assert_eq!(
        get(&off.addr(), RECIPE).status,
        200,
        "other routes are served"
    );
    drop(off);

    // 100 % (the default): everybody.
    let all = Server::start(&base);
    assert!(bundles_for(&all, None));
    assert!(keys.iter().all(|k| bundles_for(&all, Some(k))));
    drop(all);

    // A split: half of the tenants by hash, one tenant always out, one always in.
    let dir = std::env::temp_dir().join(format!("aicr-server-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("flags.json");
    std::fs::write(
        &file,
        r#"{"bundles": {"percent": 50, "tenants": {"t0": 0, "t1": 100}},
            "v2-api": {"percent": 100, "tenants": {"t2": 0}},
            "server-timing": {"tenants": {"t3": 100}}}"#,
    )
    .unwrap();
    let mut env = base.to_vec();
    let file_name = file.to_string_lossy().into_owned();
    env.push(("AICR_FLAGS_FILE", &file_name));
    let split = Server::start(&env);
    let first: Vec<bool> = keys.iter().map(|k| bundles_for(&split, Some(k))).collect();
    let again: Vec<bool> = keys.iter().map(|k| bundles_for(&split, Some(k))).collect();
    assert_eq!(first, again, "a tenant's answer is stable");
    assert!(!first[0] && first[1]);
    let inside = first[2..].iter().filter(|i| **i).count();
    assert!((8..=30).contains(&inside), "{inside} of 38 tenants at 50 %");
    let anonymous = bundles_for(&split, None);
    assert!(
        (0..5).all(|_| bundles_for(&split, None) == anonymous),
        "by address, stable"
    );

    let v2 = |key: &str| {
        call(
            &split.addr(),
            "GET",
            "/v2/query?service=eks&selector=/kind",
            &[("x-api-key", key)],
            b"",
        )
    };
    assert_eq!(v2(&keys[2]).status, 404);
    assert_eq!(
        v2(&keys[2]).header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(v2(&keys[3]).status, 200);
    let timing = |key: &str| {
        call(&split.addr(), "GET", "/health", &[("x-api-key", key)], b"")
            .header("server-timing")
            .map(str::to_owned)
    };
    assert!(timing(&keys[3]).is_some_and(|t| t.starts_with("app;dur=")));
    assert_eq!(timing(&keys[4]), None);

    let (ops_doc, ops_keys) = common::tenants(&[("ops", true)]);
    drop(split);
    let described = Server::start(&[
        ("AICR_KEY_SECRET", common::SECRET),
        ("AICR_TENANTS", &ops_doc),
        ("AICR_FLAGS", r#"{"server-timing": 12.5}"#),
    ]);
    let flags = admin(&described, "GET", "/admin/flags", &ops_keys[0], "").json();
    assert_eq!(flags["source"], "AICR_FLAGS");
    let timing = flags["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "server-timing")
        .unwrap();
    assert_eq!(
        (timing["percent"].as_f64(), timing["default"].as_f64()),
        (Some(12.5), Some(0.0))
    );
    assert!(
        timing["description"]
            .as_str()
            .unwrap()
            .contains("Server-Timing")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a collector received: (path, JSON body) per request.
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// A collector on 127.0.0.1 that answers 200 to every POST and keeps the bodies.
fn collector() -> (u16, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut raw = Vec::new();
            let mut buf = [0u8; 64 * 1024];
            let (path, body) = loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break (String::new(), Vec::new()),
                    Ok(n) => raw.extend_from_slice(&buf[..n]),
                }
                let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if raw.len() >= split + 4 + length {
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    break (path, raw[split + 4..split + 4 + length].to_vec());
                }
            };
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
            if let Ok(doc) = serde_json::from_slice(&body) {
                sink.lock().unwrap().push((path, doc));
            }
        }
    });
    (port, received)
}

#[test]
fn spans_reach_an_otlp_collector() {
    let (port, received) = collector();
    let endpoint = format!("http://127.0.0.1:{port}/otlp");
    let server = Server::start(&[("AICR_OTLP_ENDPOINT", &endpoint)]);
    let sampled = "00-11111111111111111111111111111111-2222222222222222-01";
    let unsampled = "00-33333333333333333333333333333333-4444444444444444-00";
    call(
        &server.addr(),
        "GET",
        RECIPE,
        &[("traceparent", sampled)],
        b"",
    );
    call(
        &server.addr(),
        "GET",
        "/health",
        &[("traceparent", unsampled)],
        b"",
    );
    let started = get(&server.addr(), "/v1/recipe?service=moon");
    let new_trace = &started.header("traceparent").unwrap()[3..35];

    let deadline = Instant::now() + Duration::from_secs(10);
    let spans: Vec<Value> = loop {
        let spans: Vec<Value> = received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(path, doc)| {
                assert_eq!(path, "/otlp/v1/traces");
                doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        if spans.len() >= 2 {
            break spans;
        }
        assert!(Instant::now() < deadline, "no spans arrived: {spans:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        spans.len(),
        2,
        "the unsampled trace is not exported: {spans:?}"
    );
    let continued = spans
        .iter()
        .find(|s| s["traceId"] == "11111111111111111111111111111111")
        .unwrap();
    assert_eq!(continued["parentSpanId"], "2222222222222222");
    assert_eq!(continued["name"], "GET /v1/recipe");
    assert_eq!(continued["kind"], 2);
    let attribute = |span: &Value, key: &str| {
        span["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| a["value"].clone())
    };
    assert_eq!(
        attribute(continued, "http.response.status_code").unwrap()["intValue"],
        "200"
    );
    assert_eq!(
        attribute(continued, "http.route").unwrap()["stringValue"],
        "/v1/recipe"
    );
    let start: u128 = continued["startTimeUnixNano"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let end: u128 = continued["endTimeUnixNano"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(end > start);
    let root = spans.iter().find(|s| s["traceId"] == new_trace).unwrap();
    assert!(root.get("parentSpanId").is_none());
    assert_eq!(
        attribute(root, "http.response.status_code").unwrap()["intValue"],
        "400"
    );
}

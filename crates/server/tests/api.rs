//! The API over the real binary's sockets: upstream's recorded cases, the same bytes as
//! the API crate in-process, the stack's headers, trace context, the access log, and the
//! server's own limits (431, 413, 504).

mod common;

use aicr_api::{Api, Config, RequestContext};
use aicr_conformance::{EnvCases, Upstream};
use common::{Server, call, get};
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

const RECIPE: &str = "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Upstream's material beside the checkout; outside CI a checkout on its own may lack it
/// (the test says so and checks nothing), CI always has it.
fn upstream() -> Option<Upstream> {
    let found = Upstream::beside(&workspace());
    if found.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "../shared is missing; CI must have it"
        );
        eprintln!("SKIPPED: ../shared is not beside the checkout");
    }
    found
}

#[test]
fn upstream_conformance_cases_and_bundles_over_http() {
    let Some(upstream) = upstream() else { return };
    let catalog = upstream.catalog.to_string_lossy().into_owned();
    let server = Server::start(&[("AICR_CATALOG_DIR", &catalog)]);
    let summary = aicr_conformance::run(&upstream.options(Some(server.url()), EnvCases::Skip))
        .expect("cases run");
    assert_eq!(summary.failed, 0, "{summary:?}");
    assert!(summary.passed > 100, "{summary:?}");
    aicr_conformance::bundles::judge_all_pass(&upstream.bundle_cases, &server.url())
        .expect("every recorded bundle case judged equal");
    drop(server);

    let env = upstream
        .server_environment()
        .expect("one configuration")
        .expect("some cases are recorded with allowlists");
    let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    vars.push(("AICR_CATALOG_DIR", &catalog));
    let configured = Server::start(&vars);
    let summary = aicr_conformance::run(&upstream.options(Some(configured.url()), EnvCases::Only))
        .expect("cases run");
    assert_eq!(summary.failed, 0, "{summary:?}");
    assert!(summary.passed > 0, "{summary:?}");
}

/// The API crate's answer in-process, on the embedded catalog.
fn in_process(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> http::Response<Vec<u8>> {
    let api = Api::new(aicr_embedded_catalog::catalog(), Config::default());
    let mut builder = http::Request::builder().method(method).uri(target);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    api.handle(
        &builder.body(body.to_vec()).unwrap(),
        &RequestContext::default(),
    )
}

#[test]
fn answers_are_the_api_crates_with_the_stacks_headers() {
    let server = Server::start(&[]);
    let addr = server.addr();
    let post = br#"{"kind":"RecipeCriteria","apiVersion":"aicr.nvidia.com/v1alpha1","spec":{"service":"gke","accelerator":"h100","intent":"inference"}}"#;
    for (method, target, headers, body) in [
        ("GET", RECIPE, &[][..], &b""[..]),
        ("GET", &format!("{RECIPE}&format=yaml")[..], &[], b""),
        (
            "GET",
            "/v1/query?service=eks&accelerator=h100&intent=training&selector=components.gpu-operator.values.driver.version",
            &[],
            b"",
        ),
        (
            "GET",
            "/v2/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training",
            &[],
            b"",
        ),
        (
            "GET",
            "/v2/query?service=eks&accelerator=h100&selector=/deploymentOrder/0",
            &[],
            b"",
        ),
        (
            "POST",
            "/v1/recipe",
            &[("content-type", "application/json")],
            &post[..],
        ),
        (
            "GET",
            "/v1/bundle?service=eks&accelerator=h100&intent=training",
            &[],
            b"",
        ),
        ("GET", "/", &[], b""),
        ("GET", "/openapi.json", &[], b""),
    ] {
        let ours = call(&addr, method, target, headers, body);
        let expected = in_process(method, target, headers, body);
        assert_eq!(
            ours.status,
            expected.status().as_u16(),
            "{method} {target}: {}",
            ours.text()
        );
        assert_eq!(ours.body, *expected.body(), "{method} {target}");
        for name in ["content-type", "etag", "cache-control", "x-api-version"] {
            assert_eq!(
                ours.header(name),
                expected.headers().get(name).and_then(|v| v.to_str().ok()),
                "{method} {target}: {name}"
            );
        }
        assert_eq!(ours.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(ours.header("x-frame-options"), Some("DENY"));
        assert_eq!(ours.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(
            ours.header("content-security-policy"),
            Some(aicr_stack::API_CSP)
        );
        assert_eq!(
            ours.header("strict-transport-security"),
            None,
            "no TLS, no HSTS"
        );
        assert_eq!(ours.header("traceparent").map(str::len), Some(55));
    }

    // Errors: the API's body, with a request id the answer names.
    let bad = get(&addr, "/v1/recipe?service=moon");
    assert_eq!(bad.status, 400);
    let body = bad.json();
    assert_eq!(body["code"], "INVALID_REQUEST");
    assert_eq!(body["details"]["parameter"], "service");
    assert_eq!(
        Some(body["requestId"].as_str().unwrap()),
        bad.header("x-request-id")
    );
    let problem = get(&addr, "/v2/nothing");
    assert_eq!(
        (problem.status, problem.header("content-type")),
        (404, Some("application/problem+json"))
    );

    // Conditional requests, HEAD and compression pass through as the stack makes them.
    let first = get(&addr, RECIPE);
    let etag = first.header("etag").unwrap().to_owned();
    let again = call(&addr, "GET", RECIPE, &[("if-none-match", &etag)], b"");
    assert_eq!((again.status, again.body.len()), (304, 0));
    let head = call(&addr, "HEAD", RECIPE, &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(first.body.len().to_string().as_str())
    );
    let gzip = call(&addr, "GET", RECIPE, &[("accept-encoding", "gzip")], b"");
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert_eq!(gzip.header("etag"), Some(format!("W/{etag}").as_str()));
}

#[test]
fn traceparent_is_continued_echoed_and_logged() {
    let server = Server::start(&[]);
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let answer = call(
        &server.addr(),
        "GET",
        "/health",
        &[("traceparent", parent)],
        b"",
    );
    let echoed = answer.header("traceparent").unwrap();
    assert!(
        echoed.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{echoed}"
    );
    assert!(echoed.ends_with("-01"));
    let span = &echoed[36..52];
    assert_ne!(span, "00f067aa0ba902b7", "a span of its own");
    let line = server.wait_for_log("for the traced request", |l| {
        l["target"] == "access" && l["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    });
    assert_eq!(line["spanId"], span);
    assert_eq!(line["requestId"].as_str(), answer.header("x-request-id"));

    // None, or a malformed one: a new trace, echoed and logged all the same.
    let fresh = call(
        &server.addr(),
        "GET",
        "/health",
        &[("traceparent", "garbage")],
        b"",
    );
    let echoed = fresh.header("traceparent").unwrap().to_owned();
    assert!(!echoed.contains("4bf92f3577b34da6a3ce929d0e0e4736"));
    server.wait_for_log("for the new trace", |l| {
        l["target"] == "access" && echoed.contains(l["traceId"].as_str().unwrap_or("-"))
    });
}

#[test]
fn one_access_line_per_request_without_keys_queries_or_bodies() {
    let (tenants, keys) = common::tenants(&[("acme", false)]);
    let server = Server::start(&[
        ("AICR_KEY_SECRET", common::SECRET),
        ("AICR_TENANTS", &tenants),
        ("AICR_PROTECTED_ROUTES", "/v1/query"),
    ]);
    let addr = server.addr();
    let bearer = format!("Bearer {}", keys[0]);
    let marker = "marker-7f3a9c";
    let query = format!(
        "/v1/query?service=eks&accelerator=h100&intent=training&selector=components.{marker}"
    );
    let keyed = call(&addr, "GET", &query, &[("authorization", &bearer)], b"");
    assert_eq!(keyed.status, 404, "{}", keyed.text());
    let anonymous = call(&addr, "GET", &query, &[], b"");
    assert_eq!(anonymous.status, 401);
    let body = format!(r#"{{"kind":"RecipeCriteria","spec":{{"service":"{marker}"}}}}"#);
    let posted = call(
        &addr,
        "POST",
        "/v1/recipe",
        &[("x-api-key", &keys[0])],
        body.as_bytes(),
    );
    assert_eq!(posted.status, 400);

    let ids: Vec<&str> = [&keyed, &anonymous, &posted]
        .iter()
        .map(|a| a.header("x-request-id").unwrap())
        .collect();
    for id in &ids {
        server.wait_for_log("for each request", |l| l["requestId"] == *id);
    }
    let lines = server.logs_of("access");
    assert_eq!(lines.len(), 3, "{lines:?}");
    let (key_line, anonymous_line, post_line) = (&lines[0], &lines[1], &lines[2]);
    assert_eq!(key_line["tenant"], "acme");
    assert_eq!(key_line["route"], "/v1/query");
    assert_eq!(key_line["status"], 404);
    assert_eq!(key_line["method"], "GET");
    assert_eq!(key_line["listener"], "api");
    assert!(key_line["latencyMs"].as_f64().unwrap() > 0.0);
    assert_eq!(key_line["bytes"].as_u64(), Some(keyed.body.len() as u64));
    assert_eq!(key_line["traceId"].as_str().map(str::len), Some(32));
    // Refused before it was identified.
    assert_eq!(anonymous_line["tenant"], "unknown");
    assert_eq!(anonymous_line["status"], 401);
    assert_eq!(post_line["route"], "/v1/recipe");
    let everything = server.logs().join("\n");
    for secret in [
        keys[0].as_str(),
        &keys[0][18..],
        marker,
        "service=eks",
        common::SECRET,
    ] {
        assert!(
            !everything.contains(secret),
            "the log holds {secret:?}:\n{everything}"
        );
    }
}

#[test]
fn header_body_and_time_limits() {
    let server = Server::start(&[
        ("AICR_REQUEST_TIMEOUT_MS", "700"),
        ("AICR_HEADER_READ_TIMEOUT_MS", "700"),
    ]);
    let addr = server.addr();
    // One huge header, or too many: 431 before any route runs.
    let huge = "x".repeat(70 * 1024);
    assert_eq!(
        call(&addr, "GET", "/health", &[("x-huge", &huge)], b"").status,
        431
    );
    let names: Vec<String> = (0..120).map(|i| format!("x-h{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    assert_eq!(call(&addr, "GET", "/health", &many, b"").status, 431);
    assert_eq!(call(&addr, "GET", "/health", &many[..50], b"").status, 200);

    // A body past the API's limit: its 413, the server having read one byte more.
    let big = vec![b' '; aicr_api::MAX_BODY_BYTES + 4096];
    let refused = call(
        &addr,
        "POST",
        "/v1/recipe",
        &[("content-type", "application/json")],
        &big,
    );
    assert_eq!(refused.status, 413);
    assert_eq!(refused.json()["details"]["limit"], aicr_api::MAX_BODY_BYTES);

    // A client that stops sending its body: the API's 504 TIMEOUT at the deadline.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    slow.write_all(common::head("POST", "/v1/recipe", &[], 100).as_bytes())
        .unwrap();
    slow.write_all(b"{\"kind\":").unwrap();
    let started = std::time::Instant::now();
    let timed_out = common::read_answer(&mut slow);
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(timed_out.status, 504, "{}", timed_out.text());
    let body = timed_out.json();
    assert_eq!(
        (body["code"].as_str(), body["retryable"].as_bool()),
        (Some("TIMEOUT"), Some(true))
    );
    assert_eq!(timed_out.header("x-frame-options"), Some("DENY"));
    assert!(timed_out.header("traceparent").is_some());
    let line = server.wait_for_log("for the timeout", |l| l["status"] == 504);
    assert_eq!(line["route"], "/v1/recipe");

    // Headers that never end: the connection is closed at the header-read timeout.
    let mut stalled = TcpStream::connect(&addr).unwrap();
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stalled
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stalled, &mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed at the timeout"
    );
    assert!(
        rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
}

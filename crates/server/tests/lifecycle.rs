//! The process: refusing a configuration it cannot use, and stopping gracefully.

mod common;

use common::{Server, call, get};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn a_setting_that_cannot_be_used_stops_the_start_naming_it() {
    let dir = std::env::temp_dir().join(format!("aicr-server-refusals-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("overlays")).unwrap();
    let empty_catalog = dir.to_string_lossy().into_owned();
    let missing = dir.join("missing.pem").to_string_lossy().into_owned();
    for (env, variable) in [
        (&[("PORT", "http")][..], "PORT"),
        (&[("LOG_LEVEL", "chatty")], "LOG_LEVEL"),
        (
            &[("AICR_ALLOWED_SERVICES", "eks,moon")],
            "AICR_ALLOWED_SERVICES",
        ),
        (&[("AICR_RATE_LIMIT", "fast")], "AICR_RATE_LIMIT"),
        (&[("AICR_TENANTS", "{\"tenants\": 3}")], "AICR_TENANTS"),
        (&[("AICR_ADMIN_ALLOW", "everyone")], "AICR_ADMIN_ALLOW"),
        (&[("AICR_FLAGS", "{\"no-such-flag\": 5}")], "AICR_FLAGS"),
        (
            &[("AICR_TLS_CERT", &missing), ("AICR_TLS_KEY", &missing)],
            "AICR_TLS_CERT",
        ),
        (&[("AICR_CATALOG_DIR", &empty_catalog)], "AICR_CATALOG_DIR"),
        (
            &[("AICR_OTLP_ENDPOINT", "collector:4318")],
            "AICR_OTLP_ENDPOINT",
        ),
    ] {
        let (status, logs) = Server::refused(env);
        assert_eq!(status.code(), Some(2), "{env:?}: {logs:?}");
        let line: serde_json::Value = logs
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .find(|l: &serde_json::Value| l["level"] == "ERROR")
            .unwrap_or_else(|| panic!("{env:?}: no error line in {logs:?}"));
        let named = line["variable"].as_str().unwrap_or_default();
        assert!(named.starts_with(variable), "{env:?}: {line}");
        assert!(
            line["message"].as_str().unwrap().contains("not starting"),
            "{line}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_port_in_use_exits_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (status, logs) = Server::refused(&[("PORT", &port)]);
    assert_eq!(status.code(), Some(1), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("cannot listen")), "{logs:?}");
}

/// A POST /v1/recipe whose body is sent in two parts, the second when the test says.
struct SlowRequest {
    stream: TcpStream,
    rest: &'static [u8],
}

const SLOW_BODY: &[u8] =
    br#"{"kind":"RecipeCriteria","spec":{"service":"eks","accelerator":"h100","intent":"training"}}"#;

impl SlowRequest {
    fn start(addr: &str) -> SlowRequest {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let head = common::head(
            "POST",
            "/v1/recipe",
            &[("content-type", "application/json")],
            SLOW_BODY.len(),
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&SLOW_BODY[..10]).unwrap();
        SlowRequest {
            stream,
            rest: &SLOW_BODY[10..],
        }
    }

    fn finish(mut self) -> common::Answer {
        self.stream.write_all(self.rest).unwrap();
        common::read_answer(&mut self.stream)
    }
}

#[test]
fn sigterm_drains_then_finishes_what_is_in_flight_and_exits_0() {
    let mut server = Server::start(&[("AICR_DRAIN_SECONDS", "2")]);
    let addr = server.addr();
    assert_eq!(get(&addr, "/ready").status, 200);
    let slow = SlowRequest::start(&addr);
    std::thread::sleep(Duration::from_millis(100));
    let signalled = Instant::now();
    server.signal(libc::SIGTERM);
    server.wait_for_log("saying it drains", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("draining"))
    });

    // During the delay: not ready, everything else served, keep-alive ended.
    let ready = get(&addr, "/ready");
    assert_eq!(ready.status, 503);
    let body = ready.json();
    assert_eq!(
        (body["status"].as_str(), body["reason"].as_str()),
        (Some("not_ready"), Some("shutting down"))
    );
    assert_eq!(ready.header("cache-control"), Some("no-store"));
    assert_eq!(
        ready.header("x-frame-options"),
        Some("DENY"),
        "the stack's headers"
    );
    let health = get(&addr, "/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.header("connection"), Some("close"));
    let recipe = get(&addr, "/v1/recipe?service=eks");
    assert_eq!(recipe.status, 200);
    assert!(
        signalled.elapsed() < Duration::from_secs(2),
        "checks ran within the delay"
    );

    // After the delay: no new connections; the request in flight is still answered.
    server.wait_for_log("saying it stopped accepting", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no longer accepting"))
    });
    assert!(signalled.elapsed() >= Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(200));
    assert!(TcpStream::connect(&addr).is_err(), "the listener is closed");
    let answer = slow.finish();
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["kind"], "RecipeResult");
    let status = server
        .wait(Duration::from_secs(10))
        .expect("the server exits");
    assert_eq!(status.code(), Some(0));
    assert!(
        server
            .logs()
            .iter()
            .any(|l| l.contains("\"message\":\"stopped\""))
    );
}

#[test]
fn the_shutdown_timeout_bounds_the_wait_for_requests_in_flight() {
    let mut server = Server::start(&[
        ("AICR_DRAIN_SECONDS", "0"),
        ("AICR_SHUTDOWN_TIMEOUT_SECONDS", "1"),
        ("AICR_REQUEST_TIMEOUT_MS", "60000"),
    ]);
    let _stuck = SlowRequest::start(&server.addr());
    std::thread::sleep(Duration::from_millis(100));
    let signalled = Instant::now();
    server.signal(libc::SIGINT);
    let status = server
        .wait(Duration::from_secs(10))
        .expect("the server exits");
    assert_eq!(status.code(), Some(0));
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "{took:?}"
    );
    let line = server.wait_for_log("about the cut connection", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("shutdown timeout"))
    });
    assert_eq!(line["open_connections"], 1);
}

#[test]
fn a_second_signal_ends_the_drain_delay() {
    let mut server = Server::start(&[("AICR_DRAIN_SECONDS", "60")]);
    server.signal(libc::SIGTERM);
    server.wait_for_log("saying it drains", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("draining"))
    });
    assert_eq!(call(&server.addr(), "GET", "/ready", &[], b"").status, 503);
    server.signal(libc::SIGTERM);
    let status = server
        .wait(Duration::from_secs(10))
        .expect("the server exits");
    assert_eq!(status.code(), Some(0));
}

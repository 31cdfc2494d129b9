//! What "the same answer" means: status, `Content-Type`, `Cache-Control`, the echoed
//! request id, and the JSON body as values — minus volatile fields, and minus the wording
//! of 4xx errors. One deliberate difference is accepted: `Cache-Control: no-store` where
//! upstream sent no `Cache-Control` (errors, `/health`, `/ready`) or answered a POST as
//! `public` (docs/compatibility.md: caching by method and status). Stricter is never worse
//! for a cache; anything else in the header must still match.

use crate::case::Case;
use crate::transport::Actual;
use serde_json::Value;
use std::fmt;

/// One difference between the recorded and the actual answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    pub actual: String,
}

impl Mismatch {
    pub fn new(path: &str, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Mismatch {
            path: path.to_owned(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.path, self.expected, self.actual
        )
    }
}

fn shown(v: Option<&Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(v) => {
            let s = v.to_string();
            if s.len() > 120 {
                format!("{}...", &s[..s.floor_char_boundary(120)])
            } else {
                s
            }
        }
    }
}

/// Keys ignored everywhere they appear at these paths.
fn ignored(path: &str, error_body: bool) -> bool {
    matches!(path, "requestId" | "timestamp" | "metadata.version")
        || (error_body && (path == "message" || path == "details" || path.starts_with("details.")))
}

fn diff(path: &str, expected: &Value, actual: &Value, error_body: bool, out: &mut Vec<Mismatch>) {
    if ignored(path, error_body) {
        return;
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let mut keys: Vec<&String> = e.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if ignored(&p, error_body) {
                    continue;
                }
                match (e.get(k), a.get(k)) {
                    (Some(ev), Some(av)) => diff(&p, ev, av, error_body, out),
                    (ev, av) => out.push(Mismatch::new(&format!("body.{p}"), shown(ev), shown(av))),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff(&format!("{path}[{i}]"), ev, av, error_body, out);
            }
        }
        _ if expected == actual => {}
        _ => out.push(Mismatch::new(
            &format!("body.{path}"),
            shown(Some(expected)),
            shown(Some(actual)),
        )),
    }
}

fn header_eq(case: &Case, actual: &Actual, name: &str, out: &mut Vec<Mismatch>) {
    let expected = case.response.header(name);
    let got = actual.header(name);
    let norm = |v: Option<&str>| v.map(|s| s.trim().to_ascii_lowercase());
    if norm(expected) != norm(got) {
        out.push(Mismatch::new(
            &format!("header {name}"),
            expected.unwrap_or("(absent)"),
            got.unwrap_or("(absent)"),
        ));
    }
}

/// Our `no-store` where upstream left the answer uncacheable by default (no header) or
/// made a POST answer `public`.
fn stricter_cache_control(case: &Case, actual: &Actual) -> bool {
    let ours_no_store = actual
        .header("Cache-Control")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("no-store"));
    let upstream = case.response.header("Cache-Control");
    ours_no_store && (upstream.is_none() || case.request.method.eq_ignore_ascii_case("POST"))
}

/// All differences between a recorded case and an actual answer.
pub fn compare(case: &Case, actual: &Actual) -> Vec<Mismatch> {
    let mut out = Vec::new();
    if case.response.status != actual.status {
        out.push(Mismatch::new(
            "status",
            case.response.status.to_string(),
            actual.status.to_string(),
        ));
    }
    header_eq(case, actual, "Content-Type", &mut out);
    if !stricter_cache_control(case, actual) {
        header_eq(case, actual, "Cache-Control", &mut out);
    }
    if let Some(sent) = case.request.header("X-Request-Id") {
        let echoed = case.response.header("X-Request-Id") == Some(sent);
        if echoed
            && actual.header("X-Request-Id").map(str::to_ascii_lowercase)
                != Some(sent.to_ascii_lowercase())
        {
            out.push(Mismatch::new(
                "header X-Request-Id",
                sent,
                actual.header("X-Request-Id").unwrap_or("(absent)"),
            ));
        }
    }
    if let Some(expected) = &case.response.body_json {
        let error_body = (400..500).contains(&case.response.status);
        match serde_json::from_slice::<Value>(&actual.body) {
            Ok(body) => diff("", expected, &body, error_body, &mut out),
            Err(e) => out.push(Mismatch::new(
                "body",
                "JSON",
                format!(
                    "not JSON ({e}): {}",
                    String::from_utf8_lossy(&actual.body[..actual.body.len().min(200)])
                ),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{RecordedRequest, RecordedResponse};
    use serde_json::json;

    fn case(status: u16, body: Value) -> Case {
        Case {
            id: "000".into(),
            note: String::new(),
            request: RecordedRequest {
                method: "GET".into(),
                target: "/".into(),
                headers: vec![(
                    "X-Request-Id".into(),
                    "6f9619ff-8b86-d011-b42d-00c04fc964ff".into(),
                )],
                body: None,
                body_base64: None,
            },
            response: RecordedResponse {
                status,
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    (
                        "X-Request-Id".into(),
                        "6f9619ff-8b86-d011-b42d-00c04fc964ff".into(),
                    ),
                ],
                body_json: Some(body),
            },
            server_env: Default::default(),
        }
    }

    fn actual(status: u16, body: Value) -> Actual {
        Actual {
            status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (
                    "x-request-id".into(),
                    "6f9619ff-8b86-d011-b42d-00c04fc964ff".into(),
                ),
            ],
            body: serde_json::to_vec(&body).unwrap(),
        }
    }

    #[test]
    fn volatile_fields_and_key_order_are_ignored() {
        let expected = json!({"a": 1, "b": [1, 2], "timestamp": "t1", "requestId": "x", "metadata": {"version": "0.11.1", "k": 1}});
        let got = json!({"metadata": {"k": 1, "version": "0.1.0"}, "b": [1, 2], "a": 1, "timestamp": "t2", "requestId": "y"});
        assert!(compare(&case(200, expected), &actual(200, got)).is_empty());
    }

    #[test]
    fn real_differences_are_reported_with_their_path() {
        let expected = json!({"a": {"b": [1, 2]}, "c": "x"});
        let got = json!({"a": {"b": [1, 3]}, "d": "x"});
        let found = compare(&case(200, expected), &actual(201, got));
        let paths: Vec<&str> = found.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["status", "body.a.b[1]", "body.c", "body.d"]);
    }

    #[test]
    fn error_wording_is_free_but_code_is_not() {
        let expected = json!({"code": "INVALID_REQUEST", "message": "upstream words", "details": {"error": "x"}, "retryable": false});
        let same = json!({"code": "INVALID_REQUEST", "message": "ours", "details": {"parameter": "service"}, "retryable": false});
        assert!(compare(&case(400, expected.clone()), &actual(400, same)).is_empty());
        let other = json!({"code": "NOT_FOUND", "message": "ours", "retryable": false});
        assert_eq!(compare(&case(400, expected), &actual(400, other)).len(), 1);
    }

    #[test]
    fn headers_are_compared() {
        let mut a = actual(200, json!({}));
        a.headers[0].1 = "application/yaml".into();
        a.headers[1].1 = "00000000-0000-4000-8000-000000000000".into();
        let found = compare(&case(200, json!({})), &a);
        let paths: Vec<&str> = found.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["header Content-Type", "header X-Request-Id"]);
    }

    #[test]
    fn no_store_is_accepted_only_where_upstream_was_laxer() {
        let with_cache = |mut a: Actual, value: &str| {
            a.headers.push(("cache-control".into(), value.into()));
            a
        };
        let ok = |c: &Case, a: &Actual| compare(c, a).is_empty();
        // Upstream sent none: our no-store is fine, anything else is a difference.
        assert!(ok(
            &case(400, json!({})),
            &with_cache(actual(400, json!({})), "no-store")
        ));
        assert!(!ok(
            &case(400, json!({})),
            &with_cache(actual(400, json!({})), "public")
        ));
        // A public GET answer must stay public; a POST answer may be no-store.
        let mut get = case(200, json!({}));
        get.response
            .headers
            .push(("Cache-Control".into(), "public, max-age=600".into()));
        assert!(!ok(&get, &with_cache(actual(200, json!({})), "no-store")));
        let mut post = get.clone();
        post.request.method = "POST".into();
        assert!(ok(&post, &with_cache(actual(200, json!({})), "no-store")));
    }
}

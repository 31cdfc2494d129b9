//! Hostile input is never reflected at length: 60–64 KiB values in every place a client can
//! put one (query values and keys, malformed pairs, paths, methods, selectors, headers,
//! JSON and YAML bodies with long strings in good and bad fields) get an answer whose whole
//! body stays small, and no string in it carries more than 200 bytes of the client's value.

mod common;

use aicr_api::{ApiError, Config, RequestContext};
use common::{api, longest_echo};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use serde_json::Value;

/// What the API may echo of one client value.
const ECHO_LIMIT: usize = 200;
/// Largest error body any of these requests may get.
const ERROR_BODY_LIMIT: usize = 2048;
/// Fits in a URI (the `http` crate caps one at 64 KiB − 2).
const URI_FILL: usize = 60_000;
/// Fits in a body (`MAX_BODY_BYTES`) with the document around it.
const BODY_FILL: usize = aicr_api::MAX_BODY_BYTES - 200;

/// Fillers: plain, multi-byte, and one that splits into many short backtick-quoted pieces
/// (serde quotes unknown field names in backticks without escaping them).
const FILLERS: [&str; 3] = ["A", "é", "x`"];

fn check(what: &str, filler: &str, response: &Response<Vec<u8>>) {
    let status = response.status();
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{what}");
    let body = response.body();
    let text = String::from_utf8_lossy(body);
    if status.is_client_error() || status.is_server_error() {
        assert!(
            body.len() < ERROR_BODY_LIMIT,
            "{what}: {status} body of {} bytes: {}",
            body.len(),
            &text[..text.floor_char_boundary(600)]
        );
    }
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        let echoed = longest_echo(&json, filler);
        assert!(
            echoed <= ECHO_LIMIT,
            "{what}: echoes {echoed} bytes of the client's value: {}",
            &text[..text.floor_char_boundary(600)]
        );
    } else {
        assert!(status.is_success() || body.is_empty(), "{what}: {text}");
    }
    for (name, value) in response.headers() {
        assert!(
            value.len() <= ECHO_LIMIT,
            "{what}: header {name} is {} bytes",
            value.len()
        );
    }
}

fn send(
    method: Method,
    target: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Response<Vec<u8>> {
    let mut builder = Request::builder().method(method).uri(target);
    for (k, v) in headers {
        let value = HeaderValue::from_bytes(v.as_bytes()).expect("valid header bytes");
        builder = builder.header(*k, value);
    }
    let request = builder.body(body).expect("valid test request");
    api().handle(&request, &RequestContext::default())
}

const ROUTES: [&str; 8] = [
    "/v1/recipe",
    "/v1/query",
    "/v1/bundle",
    "/",
    "/health",
    "/ready",
    "/openapi.json",
    "/no/such/route",
];

/// `filler` repeated to about `bytes` bytes.
fn fill(filler: &str, bytes: usize) -> String {
    filler.repeat(bytes / filler.len())
}

/// A percent-encoded filler that fits in a URI and never ends mid-escape.
fn uri_fill(filler: &str) -> String {
    let encoded: String = filler
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    encoded.repeat(URI_FILL / encoded.len())
}

#[test]
fn hostile_query_strings_and_paths() {
    for filler in FILLERS {
        let v = uri_fill(filler);
        let mut queries: Vec<String> = [
            "service",
            "accelerator",
            "gpu",
            "intent",
            "os",
            "platform",
            "nodes",
            "format",
            "selector",
        ]
        .iter()
        .map(|key| format!("{key}={v}"))
        .collect();
        queries.extend([
            format!("{v}=1"),
            format!("service=eks;{v}"),
            format!("{v}%zz=1"),
            format!("service={v}%e2%82"),
        ]);
        for route in ROUTES {
            for query in &queries {
                let target = format!("{route}?{query}");
                for method in [Method::GET, Method::POST] {
                    let what = format!("{method} {route}?{}…", &query[..20.min(query.len())]);
                    check(&what, filler, &send(method, &target, &[], b"{}".to_vec()));
                }
            }
        }
        let path = format!("/{v}");
        check(
            "long path",
            filler,
            &send(Method::GET, &path, &[], Vec::new()),
        );
    }
}

#[test]
fn hostile_methods_and_headers() {
    let method = Method::from_bytes(fill("A", URI_FILL).as_bytes()).unwrap();
    for route in ROUTES {
        let response = send(method.clone(), route, &[], Vec::new());
        check(&format!("long method on {route}"), "A", &response);
    }
    for filler in FILLERS {
        let long = fill(filler, aicr_api::MAX_BODY_BYTES);
        for route in ROUTES {
            for header in ["if-none-match", "accept", "x-request-id", "content-type"] {
                for method in [Method::GET, Method::POST, Method::HEAD] {
                    let what = format!("{method} {route} with a long {header}");
                    let response = send(method, route, &[(header, &long)], b"{}".to_vec());
                    check(&what, filler, &response);
                }
            }
        }
    }
}

#[test]
fn hostile_bodies() {
    for filler in FILLERS {
        let v = fill(filler, BODY_FILL);
        let j = serde_json::to_string(&v).unwrap();
        let json_bodies = [
            format!("{{{j}:1}}"),
            format!("{{\"spec\":{{{j}:1}}}}"),
            format!("{{\"spec\":{{\"service\":{j}}}}}"),
            format!("{{\"spec\":{{\"os\":{j}}}}}"),
            format!("{{\"spec\":{{\"nodes\":{j}}}}}"),
            format!("{{\"spec\":{j}}}"),
            format!("{{\"kind\":{j}}}"),
            format!("{{\"apiVersion\":{j}}}"),
            format!("{{\"metadata\":{{\"name\":1,{j}:1}}}}"),
            format!("{{\"criteria\":{{\"intent\":{j}}},\"selector\":\"criteria\"}}"),
            format!("{{\"criteria\":{{}},\"selector\":{j}}}"),
            format!("{{\"criteria\":{j}}}"),
            format!("[{j}]"),
            format!("{j} trailing"),
            format!("{{{j}"),
        ];
        let yaml_bodies = [
            format!("{v}: 1\n"),
            format!("spec:\n  {v}: 1\n"),
            format!("spec:\n  service: '{v}'\n"),
            format!("spec:\n  nodes: '{v}'\n"),
            format!("spec: '{v}'\n"),
            format!("kind: '{v}'\n"),
            format!("criteria:\n  os: '{v}'\n"),
            format!("selector: '{v}'\ncriteria: {{}}\n"),
            format!("spec: [{v}\n"),
            format!("'{v}\n"),
        ];
        let bodies = json_bodies
            .iter()
            .map(|b| ("application/json", b))
            .chain(yaml_bodies.iter().map(|b| ("application/yaml", b)))
            .chain(json_bodies.iter().map(|b| ("text/plain", b)));
        for (content_type, body) in bodies {
            assert!(body.len() <= aicr_api::MAX_BODY_BYTES, "test body too long");
            for route in ["/v1/recipe", "/v1/query", "/v1/bundle"] {
                let what = format!(
                    "POST {route} {content_type} {}…",
                    &body[..body.floor_char_boundary(30)]
                );
                let response = send(
                    Method::POST,
                    route,
                    &[("content-type", content_type)],
                    body.clone().into_bytes(),
                );
                check(&what, filler, &response);
            }
        }
    }
}

#[test]
fn configuration_errors_do_not_show_the_bad_value() {
    let secret = "s3cr3t-".repeat(40);
    for variable in [
        "AICR_ALLOWED_SERVICES",
        "AICR_ALLOWED_ACCELERATORS",
        "AICR_ALLOWED_INTENTS",
        "AICR_ALLOWED_OS",
        "AICR_CACHE_MAX_AGE",
    ] {
        let error = Config::from_vars(|k| (k == variable).then(|| secret.clone())).unwrap_err();
        assert!(
            error.to_string().contains(&secret),
            "the Display (for the host's log) keeps the value: {error}"
        );
        let response = ApiError::from(&error).to_response("id", &RequestContext::default());
        assert_eq!(response.status(), 500);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = serde_json::from_slice(response.body()).unwrap();
        let text = body.to_string();
        assert!(!text.contains("s3cr3t"), "{variable}: {text}");
        assert_eq!(body["message"], "Invalid server configuration");
        assert_eq!(body["details"]["variable"], variable);
        let expected = body["details"]["error"].as_str().unwrap();
        assert!(
            expected.contains("expected"),
            "{variable}: says what is allowed: {expected}"
        );
    }
}

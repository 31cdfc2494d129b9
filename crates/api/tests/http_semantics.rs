//! The API crate end to end, in-process, on the embedded (our) catalog: every route,
//! status class, header and format.

mod common;

use aicr_api::{Api, Config};
use common::{CTX, api, send_to as send};
use http::{Response, StatusCode};
use serde_json::Value;

fn get(target: &str) -> Response<Vec<u8>> {
    send(&api(), "GET", target, &[], b"")
}

fn json(r: &Response<Vec<u8>>) -> Value {
    serde_json::from_slice(r.body())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(r.body())))
}

fn header<'a>(r: &'a Response<Vec<u8>>, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

fn assert_error(r: &Response<Vec<u8>>, status: StatusCode, code: &str) -> Value {
    assert_eq!(r.status(), status, "{}", String::from_utf8_lossy(r.body()));
    assert_eq!(header(r, "content-type"), "application/json");
    let body = json(r);
    assert_eq!(body["code"], code);
    assert_eq!(body["requestId"], header(r, "x-request-id"));
    assert_eq!(body["timestamp"], "2026-11-28T12:40:49Z");
    assert_eq!(body["retryable"], status.is_server_error());
    body
}

#[test]
fn recipe_get_returns_the_recipe_with_cache_headers() {
    let r = get("/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "application/json");
    assert_eq!(header(&r, "cache-control"), "public, max-age=600");
    assert_eq!(header(&r, "x-api-version"), "v1");
    assert!(header(&r, "etag").starts_with('"'));
    let body = json(&r);
    assert_eq!(body["kind"], "RecipeResult");
    assert_eq!(
        body["metadata"]["appliedOverlays"],
        serde_json::json!([
            "base",
            "monitoring-hpa",
            "eks",
            "eks-training",
            "h100-eks-training",
            "h100-eks-ubuntu-training"
        ])
    );
    assert_eq!(body["deploymentOrder"][0], "aws-ebs-csi-driver");
    assert!(r.body().ends_with(b"\n"));
}

#[test]
fn post_json_and_yaml_equal_get() {
    let via_get = get("/v1/recipe?service=aks&intent=training");
    let doc = br#"{"kind":"RecipeCriteria","apiVersion":"aicr.nvidia.com/v1alpha1","metadata":{"name":"x"},"spec":{"service":"aks","intent":"training"}}"#;
    let via_json = send(
        &api(),
        "POST",
        "/v1/recipe",
        &[("content-type", "application/json")],
        doc,
    );
    let via_yaml = send(
        &api(),
        "POST",
        "/v1/recipe",
        &[("content-type", "application/yaml")],
        b"spec:\n  service: AKS\n  intent: training\n",
    );
    assert_eq!(via_get.body(), via_json.body());
    assert_eq!(via_get.body(), via_yaml.body());
}

#[test]
fn etag_gives_304_and_depends_on_criteria_and_format() {
    let first = get("/v1/recipe?service=eks");
    let tag = header(&first, "etag").to_owned();
    let again = send(
        &api(),
        "GET",
        "/v1/recipe?service=EKS",
        &[("if-none-match", &tag)],
        b"",
    );
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.body().is_empty());
    assert_eq!(header(&again, "etag"), tag);
    assert_ne!(header(&get("/v1/recipe?service=gke"), "etag"), tag);
    assert_ne!(
        header(&get("/v1/recipe?service=eks&format=yaml"), "etag"),
        tag
    );
    let stale = send(
        &api(),
        "GET",
        "/v1/recipe?service=eks",
        &[("if-none-match", "\"nope\"")],
        b"",
    );
    assert_eq!(stale.status(), StatusCode::OK);
    let star = send(
        &api(),
        "GET",
        "/v1/recipe?service=eks",
        &[("if-none-match", "*")],
        b"",
    );
    assert_eq!(star.status(), StatusCode::NOT_MODIFIED);
    // `*` only matches a representation that exists: a missing selector stays a 404.
    let missing = send(
        &api(),
        "GET",
        "/v1/query?selector=nope",
        &[("if-none-match", "*")],
        b"",
    );
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[test]
fn yaml_output_by_parameter_or_accept() {
    for r in [
        get("/v1/recipe?service=eks&format=yaml"),
        send(
            &api(),
            "GET",
            "/v1/recipe?service=eks",
            &[("accept", "application/yaml")],
            b"",
        ),
    ] {
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "content-type"), "application/yaml");
        let text = String::from_utf8(r.body().clone()).unwrap();
        assert!(
            text.starts_with("kind: RecipeResult\napiVersion: aicr.nvidia.com/v1alpha1\n"),
            "{text}"
        );
        let parsed: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(parsed, json(&get("/v1/recipe?service=eks")));
    }
    let bad = get("/v1/recipe?format=xml");
    let body = assert_error(&bad, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    assert_eq!(body["details"]["parameter"], "format");
}

#[test]
fn bad_criteria_name_parameter_value_and_allowed_values() {
    let body = assert_error(
        &get("/v1/recipe?service=lke"),
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );
    assert_eq!(body["details"]["parameter"], "service");
    assert_eq!(body["details"]["value"], "lke");
    assert_eq!(
        body["details"]["allowed"],
        serde_json::json!(["aks", "eks", "gke", "kind", "oke", "any"])
    );
    let body = assert_error(
        &get("/v1/recipe?nodes=4abc"),
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );
    assert_eq!(body["details"]["parameter"], "nodes");
    assert!(body["details"]["error"].as_str().unwrap().contains("4abc"));
    let body = assert_error(
        &get("/v1/recipe?gpu=v100"),
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );
    assert_eq!(body["details"]["parameter"], "accelerator");
    // The first bad field in upstream's order is reported.
    let body = assert_error(
        &get("/v1/recipe?os=bogus&accelerator=bogus2"),
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );
    assert_eq!(body["details"]["parameter"], "accelerator");
    let huge = "a".repeat(10_000);
    let body = assert_error(
        &get(&format!("/v1/recipe?service={huge}")),
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );
    assert!(
        body["details"]["value"].as_str().unwrap().len() < 300,
        "echoed values are truncated"
    );
}

#[test]
fn malformed_query_strings_are_rejected_not_dropped() {
    for target in [
        "/v1/recipe?service=eks;intent=training",
        "/v1/recipe?service=%zz",
    ] {
        let body = assert_error(&get(target), StatusCode::BAD_REQUEST, "INVALID_REQUEST");
        assert!(body["details"]["pair"].is_string(), "{body}");
    }
}

#[test]
fn bad_bodies() {
    let post =
        |ct: &str, body: &[u8]| send(&api(), "POST", "/v1/recipe", &[("content-type", ct)], body);
    for (ct, body) in [
        ("application/json", &b""[..]),
        ("application/json", b"{not json"),
        ("application/json", b"[1,2]"),
        ("application/json", br#"{"spec":{"nodes":"8"}}"#),
        ("application/json", br#"{"spec":{"nodes":-1}}"#),
        (
            "application/json",
            br#"{"spec":{"service":"eks","service":"gke"}}"#,
        ),
        ("application/json", br#"{"SPEC":{"SERVICE":"eks"}}"#),
        ("application/json", br#"{"kind":"Recipe"}"#),
        (
            "application/json",
            br#"{"spec":{"service":"eks"}} trailing"#,
        ),
        ("application/yaml", b"spec: [unclosed"),
        ("application/yaml", b"spec:\n  nodes: '8'\n"),
        ("text/plain", b"service=eks"),
    ] {
        let r = post(ct, body);
        let json = assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
        assert!(
            json["details"]["error"].is_string(),
            "{ct} {:?}: {json}",
            String::from_utf8_lossy(body)
        );
    }
    let oversize = vec![b' '; aicr_api::MAX_BODY_BYTES + 1];
    assert_error(
        &post("application/json", &oversize),
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
    );
    assert_eq!(post("application/json", b"null").status(), StatusCode::OK);
}

#[test]
fn methods_paths_head_and_options() {
    let r = send(&api(), "PUT", "/v1/recipe", &[], b"");
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    assert_eq!(header(&r, "allow"), "GET, HEAD, POST, OPTIONS");
    let r = send(&api(), "POST", "/health", &[], b"");
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
    assert_eq!(header(&r, "allow"), "GET, HEAD, OPTIONS");
    for path in ["/nope", "/v1/recipe/", "/v3/recipe"] {
        assert_error(&get(path), StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    let head = send(&api(), "HEAD", "/v1/recipe?service=eks", &[], b"");
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.body().is_empty());
    assert_eq!(
        header(&head, "content-length"),
        get("/v1/recipe?service=eks").body().len().to_string()
    );
    let options = send(&api(), "OPTIONS", "/v1/query", &[], b"");
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&options, "allow"), "GET, HEAD, POST, OPTIONS");
    let bundle = send(&api(), "POST", "/v1/bundle", &[], b"{}");
    assert_error(&bundle, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    let bare_get = get("/v1/bundle");
    assert_error(
        &bare_get,
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
    );
    assert_eq!(header(&bare_get, "allow"), "POST");
}

#[test]
fn system_routes() {
    let root = json(&get("/"));
    assert_eq!(root["service"], "aicr-edge");
    assert_eq!(
        root["catalog"]["digest"],
        aicr_embedded_catalog::catalog().info().digest
    );
    assert_eq!(json(&get("/health"))["status"], "healthy");
    let ready = get("/ready");
    assert_eq!(json(&ready)["status"], "ready");
}

#[test]
fn request_ids_are_echoed_canonically_or_generated() {
    let r = send(
        &api(),
        "GET",
        "/health",
        &[("x-request-id", "{6F9619FF-8B86-D011-B42D-00C04FC964FF}")],
        b"",
    );
    assert_eq!(
        header(&r, "x-request-id"),
        "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    );
    let r = send(
        &api(),
        "GET",
        "/health",
        &[("x-request-id", "not-a-uuid")],
        b"",
    );
    assert_eq!(header(&r, "x-request-id"), CTX.fresh_request_id());
}

#[test]
fn query_selects_from_the_hydrated_recipe() {
    let r = get(
        "/v1/query?service=eks&accelerator=h100&os=ubuntu&intent=training&selector=components.gpu-operator.values.driver.version",
    );
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(&r), "580.105.08");
    let cdi = json(&get(
        "/v1/query?service=eks&accelerator=h100&os=ubuntu&intent=training&selector=.components.gpu-operator.values.cdi",
    ));
    assert_eq!(cdi, serde_json::json!({"default": false, "enabled": true}));
    let missing = get("/v1/query?service=eks&selector=components.nope");
    let body = assert_error(&missing, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert!(
        body["details"]["error"]
            .as_str()
            .unwrap()
            .contains("available keys: aws-ebs-csi-driver")
    );
    let list = get("/v1/query?selector=deploymentOrder.0");
    assert_error(&list, StatusCode::NOT_FOUND, "NOT_FOUND");
    let long = format!("/v1/query?selector={}", "a.".repeat(600));
    assert_error(&get(&long), StatusCode::BAD_REQUEST, "INVALID_REQUEST");
}

#[test]
fn post_query_normalises_omitted_criteria_to_any() {
    let r = send(
        &api(),
        "POST",
        "/v1/query",
        &[("content-type", "application/json")],
        br#"{"criteria":{"service":"eks"},"selector":"criteria"}"#,
    );
    assert_eq!(
        json(&r),
        serde_json::json!({"service":"eks","accelerator":"any","intent":"any","os":"any","platform":"any","nodes":0})
    );
    let r = send(
        &api(),
        "POST",
        "/v1/query",
        &[("content-type", "application/json")],
        br#"{"criteria":{"nodes":-5}}"#,
    );
    assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    let r = send(
        &api(),
        "POST",
        "/v1/query",
        &[("content-type", "application/json")],
        br#"{"selector":"criteria"}"#,
    );
    assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
}

#[test]
fn allowlists_come_from_configuration() {
    let config =
        Config::from_vars(|k| (k == "AICR_ALLOWED_ACCELERATORS").then(|| "h100,l40".to_owned()))
            .unwrap();
    let api = Api::new(aicr_embedded_catalog::catalog(), config);
    let r = send(&api, "GET", "/v1/recipe?accelerator=gb200", &[], b"");
    let body = assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    assert_eq!(body["message"], "accelerator type not allowed");
    assert_eq!(
        body["details"]["allowed"],
        serde_json::json!(["h100", "l40"])
    );
    assert_eq!(
        send(&api, "GET", "/v1/recipe?accelerator=any", &[], b"").status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&api, "GET", "/v1/recipe?accelerator=h100", &[], b"").status(),
        StatusCode::OK
    );
}

const EKS: &str = "/v1/recipe?service=eks&intent=training";
const EKS_DOC: &[u8] = br#"{"spec":{"service":"eks","intent":"training"}}"#;

fn post_json(target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response<Vec<u8>> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    send(&api(), "POST", target, &all, body)
}

#[test]
fn if_none_match_on_post_is_412_when_it_matches_and_ignored_otherwise() {
    let tag = header(&get(EKS), "etag").to_owned();
    for inm in [tag.as_str(), "*", &format!("\"other\", W/{tag}")] {
        let r = post_json("/v1/recipe", &[("if-none-match", inm)], EKS_DOC);
        let body = assert_error(&r, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED");
        assert_eq!(body["details"]["header"], "If-None-Match", "{inm}");
        assert_eq!(header(&r, "cache-control"), "no-store");
        assert_eq!(header(&r, "etag"), "");
    }
    let r = post_json("/v1/recipe", &[("if-none-match", "\"other\"")], EKS_DOC);
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(&r, "etag"),
        tag,
        "POST and GET name the same bytes alike"
    );
    // Only an answer that would be 2xx is conditional: errors stay errors.
    let r = post_json(
        "/v1/recipe",
        &[("if-none-match", "*")],
        br#"{"spec":{"service":"lke"}}"#,
    );
    assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    let r = post_json(
        "/v1/query",
        &[("if-none-match", "*")],
        br#"{"criteria":{},"selector":"no.such.key"}"#,
    );
    assert_error(&r, StatusCode::NOT_FOUND, "NOT_FOUND");
    let query = br#"{"criteria":{"service":"eks"},"selector":"criteria"}"#;
    let r = post_json("/v1/query", &[("if-none-match", "*")], query);
    assert_error(&r, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED");
    // GET and HEAD keep answering 304.
    for method in ["GET", "HEAD"] {
        let r = send(&api(), method, EKS, &[("if-none-match", &tag)], b"");
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{method}");
    }
}

#[test]
fn cache_control_by_method_and_status() {
    let public = "public, max-age=600";
    let cases: Vec<(&str, Response<Vec<u8>>, u16, &str)> = vec![
        ("GET recipe", get(EKS), 200, public),
        (
            "HEAD recipe",
            send(&api(), "HEAD", EKS, &[], b""),
            200,
            public,
        ),
        (
            "304",
            send(&api(), "GET", EKS, &[("if-none-match", "*")], b""),
            304,
            public,
        ),
        ("GET openapi", get("/openapi.json"), 200, public),
        (
            "POST recipe",
            post_json("/v1/recipe", &[], EKS_DOC),
            200,
            "no-store",
        ),
        (
            "POST query",
            post_json(
                "/v1/query",
                &[],
                br#"{"criteria":{},"selector":"criteria"}"#,
            ),
            200,
            "no-store",
        ),
        ("health", get("/health"), 200, "no-store"),
        (
            "HEAD health",
            send(&api(), "HEAD", "/health", &[], b""),
            200,
            "no-store",
        ),
        ("ready", get("/ready"), 200, "no-store"),
        ("400", get("/v1/recipe?service=lke"), 400, "no-store"),
        (
            "HEAD 400",
            send(&api(), "HEAD", "/v1/recipe?os=x", &[], b""),
            400,
            "no-store",
        ),
        ("404", get("/nope"), 404, "no-store"),
        (
            "404 selector",
            get("/v1/query?selector=nope"),
            404,
            "no-store",
        ),
        (
            "405",
            send(&api(), "PUT", "/v1/recipe", &[], b""),
            405,
            "no-store",
        ),
        (
            "413",
            post_json("/v1/recipe", &[], &vec![b' '; aicr_api::MAX_BODY_BYTES + 1]),
            413,
            "no-store",
        ),
        (
            "400 bundle",
            send(&api(), "POST", "/v1/bundle", &[], b"{}"),
            400,
            "no-store",
        ),
    ];
    for (what, r, status, cache_control) in cases {
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert_eq!(header(&r, "cache-control"), cache_control, "{what}");
    }
}

#[test]
fn accept_q_values_choose_the_format() {
    let format = |accept: &str| {
        let r = send(&api(), "GET", EKS, &[("accept", accept)], b"");
        assert_eq!(r.status(), StatusCode::OK, "{accept}");
        header(&r, "content-type").to_owned()
    };
    for (accept, expected) in [
        ("application/yaml;q=0, */*", "application/json"),
        ("application/json;q=0, application/yaml", "application/yaml"),
        (
            "application/json;q=0.5, application/yaml;q=0.8",
            "application/yaml",
        ),
        (
            "application/yaml;q=0.5, application/json",
            "application/json",
        ),
        (
            "text/yaml;q=0.9, application/json;q=0.1",
            "application/yaml",
        ),
        ("application/yaml;q=0", "application/json"),
        ("*/*;q=0.1, application/yaml", "application/yaml"),
        ("application/json, application/yaml", "application/json"),
        ("application/yaml, application/json", "application/yaml"),
        ("APPLICATION/YAML; Q=1.0", "application/yaml"),
        (
            "application/vnd.nvidia.aicr.v2+json, application/yaml;q=0.9",
            "application/json",
        ),
        (
            "application/yaml;q=2, application/json;q=0.5",
            "application/json",
        ),
        ("application/yaml;q=abc", "application/json"),
        ("garbage, application/yaml", "application/yaml"),
    ] {
        assert_eq!(format(accept), expected, "Accept: {accept}");
    }
    // `format` wins over Accept, whatever its q-values say.
    let r = send(
        &api(),
        "GET",
        &format!("{EKS}&format=yaml"),
        &[("accept", "application/yaml;q=0, application/json")],
        b"",
    );
    assert_eq!(header(&r, "content-type"), "application/yaml");
}

#[test]
fn percent_escapes_need_two_hex_digits() {
    for escape in ["%+A", "%-1", "%4", "%+0", "%%41", "%4%41"] {
        let r = get(&format!("/v1/recipe?service=eks&os={escape}"));
        let body = assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
        assert!(
            body["message"].as_str().unwrap().contains("two hex digits"),
            "{escape}: {body}"
        );
        assert_eq!(body["details"]["pair"], format!("os={escape}"));
    }
    let r = get("/v1/recipe?service=%65ks&intent=%74raining");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(&r)["criteria"]["service"], "eks");
}

#[test]
fn every_listed_route_is_served_and_every_served_route_is_listed() {
    let listed: Vec<String> = serde_json::from_value(json(&get("/"))["routes"].clone()).unwrap();
    let not_found = json(&get("/no/such/route"));
    assert_eq!(not_found["details"]["routes"], serde_json::json!(listed));
    for route in &listed {
        let r = send(&api(), "OPTIONS", route, &[], b"");
        assert_eq!(
            r.status(),
            StatusCode::NO_CONTENT,
            "{route} is listed but not served"
        );
    }
    // What the API serves: every path its OpenAPI document describes, plus any path that
    // answers OPTIONS among the near misses of the listed ones.
    let doc = json(&get("/openapi.json"));
    let documented: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for path in documented {
        assert!(listed.contains(path), "{path} is served but not listed");
    }
    for route in &listed {
        for near in [
            format!("{route}/"),
            format!("{route}x"),
            route.to_uppercase(),
        ] {
            if !listed.contains(&near) {
                assert_eq!(get(&near).status(), StatusCode::NOT_FOUND, "{near}");
            }
        }
    }
}

//! `/openapi.json` is hand-written (`crates/api/openapi.json`), so these tests hold it to
//! the API's behaviour: every route and method the API answers is documented and nothing
//! else, enum parameters list exactly the engine's values (and what its 400s say is
//! allowed), body schemas list exactly the criteria fields, every status the API answers is
//! documented for that operation, and every error body fits the `Error` schema. They run
//! the API in-process (the worker adds no behaviour; its e2e test checks it serves the same
//! document).

use aicr_recipe::Field;
use serde_json::{Value, json};
use std::collections::BTreeSet;

mod common;
use common::in_process;

fn json_body(response: &http::Response<Vec<u8>>) -> Value {
    serde_json::from_slice(response.body()).expect("JSON body")
}

fn doc() -> Value {
    let response = in_process("GET", "/openapi.json", &[], b"");
    assert_eq!(response.status(), 200);
    json_body(&response)
}

const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn resolve<'a>(doc: &'a Value, pointer: &str) -> &'a Value {
    let path = pointer
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local $refs are used, got {pointer}"));
    doc.pointer(path)
        .unwrap_or_else(|| panic!("$ref {pointer} points nowhere"))
}

fn documented_statuses(doc: &Value, path: &str, method: &str) -> BTreeSet<u16> {
    let op = &doc["paths"][path][method.to_ascii_lowercase()];
    let responses = op["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} is not documented"));
    responses
        .keys()
        .map(|k| k.parse().expect("numeric status"))
        .collect()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn document_is_openapi_3_1_and_every_ref_resolves() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.1.0");
    fn walk(doc: &Value, value: &Value) {
        match value {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                    resolve(doc, r);
                }
                map.values().for_each(|v| walk(doc, v));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(doc, v)),
            _ => {}
        }
    }
    walk(&doc, &doc);
}

#[test]
fn every_route_is_documented_with_exactly_its_methods() {
    let doc = doc();
    let paths = doc["paths"].as_object().expect("paths");
    let root = json_body(&in_process("GET", "/", &[], b""));
    for route in strings(&root["routes"]) {
        assert!(
            paths.contains_key(route),
            "route {route} (listed by GET /) is not documented"
        );
    }
    for (path, item) in paths {
        let response = in_process("OPTIONS", path, &[], b"");
        assert_eq!(
            response.status(),
            204,
            "OPTIONS {path}: the API does not answer a documented path"
        );
        let allow = response.headers()["allow"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        let allowed: BTreeSet<&str> = allow.split(", ").collect();
        let documented: BTreeSet<&str> = OPERATIONS
            .iter()
            .copied()
            .filter(|m| item.get(*m).is_some())
            .collect();
        assert_eq!(
            documented, allowed,
            "{path}: documented operations vs the API's Allow header"
        );
    }
}

#[test]
fn enum_parameters_are_the_engines_values_and_what_its_errors_allow() {
    let doc = doc();
    let parameters = &doc["components"]["parameters"];
    let body_fields = &doc["components"]["schemas"]["CriteriaFields"]["properties"];
    let mut fields: Vec<&str> = Field::ALL.iter().map(|f| f.as_str()).collect();
    fields.sort_unstable();
    let mut documented: Vec<&str> = body_fields
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort_unstable();
    assert_eq!(
        documented, fields,
        "CriteriaFields properties vs Field::ALL"
    );
    for field in Field::ALL.into_iter().filter(|f| *f != Field::Nodes) {
        // The canonical values, `any`, the aliases and empty (`any` too); a body also
        // takes null, which `strings` leaves out.
        let mut expected = field.allowed_values().to_vec();
        expected.push("any");
        expected.extend(field.aliases().iter().map(|(alias, _)| *alias));
        expected.push("");
        let name = field.as_str();
        assert_eq!(
            strings(&parameters[name]["schema"]["enum"]),
            expected,
            "query parameter {name}"
        );
        assert_eq!(
            strings(&body_fields[name]["enum"]),
            expected,
            "body field {name}"
        );
        // Every operation that takes criteria in the query string references the parameter.
        for path in ["/v1/recipe", "/v1/query"] {
            let refs: Vec<&str> = doc["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["$ref"].as_str())
                .collect();
            assert!(
                refs.contains(&format!("#/components/parameters/{name}").as_str()),
                "GET {path} lacks {name}"
            );
        }
    }
    assert_eq!(
        strings(&parameters["gpu"]["schema"]["enum"]),
        strings(&parameters["accelerator"]["schema"]["enum"])
    );
    // What the API itself says is allowed, parameter by parameter: the canonical values its
    // 400 lists are the enum's first ones, and every value of the enum is answered.
    for name in [
        "service",
        "accelerator",
        "intent",
        "os",
        "platform",
        "format",
    ] {
        let response = in_process("GET", &format!("/v1/recipe?{name}=no-such-value"), &[], b"");
        assert_eq!(response.status(), 400, "{name}=no-such-value");
        let body = json_body(&response);
        assert_eq!(body["details"]["parameter"], name);
        let allowed = strings(&body["details"]["allowed"]);
        let documented = strings(&parameters[name]["schema"]["enum"]);
        assert_eq!(allowed, documented[..allowed.len()], "{name}");
        for value in documented {
            let target = format!("/v1/recipe?{name}={value}");
            assert_eq!(
                in_process("GET", &target, &[], b"").status(),
                200,
                "{target}"
            );
        }
    }
}

/// A request: method, target, headers, body.
type Probe = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<u8>,
);

/// Requests covering every status the API answers, with the operation they exercise.
fn probes() -> Vec<Probe> {
    let recipe = "/v1/recipe?service=eks&accelerator=h100&intent=training&os=ubuntu";
    vec![
        ("GET", recipe, vec![], vec![]),
        ("GET", "/v1/recipe?format=yaml", vec![], vec![]),
        ("GET", "/v1/recipe?service=bogus", vec![], vec![]),
        ("HEAD", recipe, vec![], vec![]),
        ("HEAD", "/v1/recipe?os=bogus", vec![], vec![]),
        (
            "POST",
            "/v1/recipe",
            vec![("content-type", "application/json")],
            br#"{"kind":"RecipeCriteria","spec":{"service":"eks"}}"#.to_vec(),
        ),
        (
            "POST",
            "/v1/recipe",
            vec![("content-type", "application/yaml")],
            b"spec:\n  os: ubuntu\n".to_vec(),
        ),
        (
            "POST",
            "/v1/recipe",
            vec![("content-type", "application/json")],
            b"{not json".to_vec(),
        ),
        (
            "POST",
            "/v1/recipe",
            vec![("content-type", "text/plain")],
            b"service=eks".to_vec(),
        ),
        (
            "POST",
            "/v1/recipe",
            vec![],
            vec![b' '; aicr_api::MAX_BODY_BYTES + 1],
        ),
        (
            "GET",
            "/v1/query?service=eks&selector=criteria",
            vec![],
            vec![],
        ),
        ("GET", "/v1/query?selector=no.such.path", vec![], vec![]),
        ("GET", "/v1/query?intent=bogus", vec![], vec![]),
        (
            "POST",
            "/v1/query",
            vec![],
            br#"{"criteria":{"service":"gke"},"selector":"criteria"}"#.to_vec(),
        ),
        (
            "POST",
            "/v1/query",
            vec![],
            br#"{"selector":"criteria"}"#.to_vec(),
        ),
        (
            "POST",
            "/v1/query",
            vec![],
            vec![b' '; aicr_api::MAX_BODY_BYTES + 1],
        ),
        ("POST", "/v1/bundle", vec![], b"{}".to_vec()),
        ("GET", "/v1/bundle", vec![], vec![]),
        ("GET", "/v1/bundle?service=eks&nodes=2", vec![], vec![]),
        (
            "GET",
            "/v1/bundle?service=eks&deployer=flux",
            vec![],
            vec![],
        ),
        ("GET", "/", vec![], vec![]),
        ("GET", "/health", vec![], vec![]),
        ("GET", "/ready", vec![], vec![]),
        ("GET", "/openapi.json", vec![], vec![]),
        ("HEAD", "/health", vec![], vec![]),
    ]
}

#[test]
fn every_status_the_api_answers_is_documented_and_errors_fit_the_schema() {
    let doc = doc();
    let error = &doc["components"]["schemas"]["Error"];
    let codes = strings(&error["properties"]["code"]["enum"]);
    let required = strings(&error["required"]);
    let known: Vec<&String> = error["properties"].as_object().unwrap().keys().collect();
    let problem = &doc["components"]["schemas"]["Problem"];
    let problem_required = strings(&problem["required"]);
    let check_problem = |what: &str, response: &http::Response<Vec<u8>>| {
        let body = json_body(response);
        for key in &problem_required {
            assert!(
                body.get(*key).is_some(),
                "{what}: problem lacks {key}: {body}"
            );
        }
        assert!(
            codes.contains(&body["code"].as_str().unwrap()),
            "{what}: undocumented code {}",
            body["code"]
        );
        assert_eq!(body["status"], response.status().as_u16(), "{what}");
        let shared = format!("Problem{}", response.status().as_u16());
        assert!(
            doc["components"]["responses"].get(&shared).is_some(),
            "{what}: no shared {shared} response"
        );
    };
    let check_error = |what: &str, response: &http::Response<Vec<u8>>| {
        if response.headers()["content-type"] == "application/problem+json" {
            assert!(what.contains(" /v2"), "{what}: problem details outside /v2");
            return check_problem(what, response);
        }
        let body = json_body(response);
        let object = body
            .as_object()
            .unwrap_or_else(|| panic!("{what}: error body is not an object"));
        for key in &required {
            assert!(
                object.contains_key(*key),
                "{what}: error body lacks {key}: {body}"
            );
        }
        for key in object.keys() {
            assert!(
                known.contains(&key),
                "{what}: undocumented error field {key}"
            );
        }
        assert!(
            codes.contains(&body["code"].as_str().unwrap()),
            "{what}: undocumented code {}",
            body["code"]
        );
        let status = response.status().as_u16().to_string();
        assert!(
            doc["components"]["responses"].get(&status).is_some(),
            "{what}: no shared {status} response"
        );
    };
    for (method, target, headers, body) in probes() {
        let what = format!("{method} {target}");
        let path = target.split('?').next().unwrap();
        let response = in_process(method, target, &headers, &body);
        let status = response.status().as_u16();
        assert!(
            documented_statuses(&doc, path, method).contains(&status),
            "{what} answered {status}, which is not documented for it"
        );
        if status == 200 && method == "GET" {
            let etag = response
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_owned());
            if let Some(etag) = etag {
                let again = in_process(method, target, &[("if-none-match", &etag)], b"");
                assert_eq!(again.status(), 304, "{what} with If-None-Match");
                assert!(
                    documented_statuses(&doc, path, method).contains(&304),
                    "{what}: 304 not documented"
                );
            }
        }
        if status >= 400 && method != "HEAD" {
            check_error(&what, &response);
        }
    }
    // Methods a path does not answer, and paths that do not exist.
    for path in doc["paths"].as_object().unwrap().keys() {
        let response = in_process("DELETE", path, &[], b"");
        assert_eq!(response.status(), 405, "DELETE {path}");
        assert!(
            response.headers().contains_key("allow"),
            "DELETE {path}: no Allow header"
        );
        check_error(&format!("DELETE {path}"), &response);
    }
    let missing = in_process("GET", "/v2/nothing", &[], b"");
    assert_eq!(missing.status(), 404);
    check_error("GET /v2/nothing", &missing);
    assert_eq!(
        json!(documented_statuses(&doc, "/v1/bundle", "POST")),
        json!([200, 400, 405, 413, 414])
    );
}

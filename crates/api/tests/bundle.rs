//! `/v1/bundle` through the API: upstream's POST (recipe body, options in the query), our
//! GET (criteria and options in the query), the headers, caching, and the 400s that name
//! what was wrong.

use aicr_api::{Api, Config, RequestContext};
use http::{Request, Response, StatusCode};
use serde_json::Value;

fn send(method: &str, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> Response<Vec<u8>> {
    let api = Api::new(aicr_embedded_catalog::catalog(), Config::default());
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    api.handle(
        &request.body(body.to_vec()).unwrap(),
        &RequestContext::default(),
    )
}

fn header<'a>(r: &'a Response<Vec<u8>>, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

fn error(r: &Response<Vec<u8>>) -> Value {
    serde_json::from_slice(r.body()).unwrap()
}

const CRITERIA: &str = "service=eks&accelerator=h100&os=ubuntu&intent=training";

fn recipe_body() -> Vec<u8> {
    let r = send("GET", &format!("/v1/recipe?{CRITERIA}"), &[], b"");
    assert_eq!(r.status(), StatusCode::OK);
    r.body().clone()
}

fn zip_names(zip: &[u8]) -> Vec<String> {
    let archive = rawzip::ZipArchive::from_slice(zip).unwrap();
    let mut names = Vec::new();
    let mut entries = archive.entries();
    while let Some(e) = entries.next_entry().unwrap() {
        names.push(e.file_path().try_normalize().unwrap().as_ref().to_owned());
    }
    names
}

#[test]
fn post_answers_a_zip_with_upstreams_headers() {
    let r = send(
        "POST",
        "/v1/bundle?set=gpuoperator:driver.version=570.86.15&nodes=8",
        &[("content-type", "application/json")],
        &recipe_body(),
    );
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(r.body())
    );
    assert_eq!(header(&r, "content-type"), "application/zip");
    assert_eq!(
        header(&r, "content-disposition"),
        "attachment; filename=\"bundles.zip\""
    );
    assert_eq!(header(&r, "cache-control"), "no-store");
    let names = zip_names(r.body());
    assert_eq!(header(&r, "x-bundle-files"), names.len().to_string());
    assert!(header(&r, "x-bundle-size").parse::<usize>().unwrap() > r.body().len());
    for expected in [
        "deploy.sh",
        "undeploy.sh",
        "recipe.yaml",
        "checksums.txt",
        "gpu-operator/values.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
}

#[test]
fn get_with_criteria_equals_post_of_the_same_recipe_and_is_cacheable() {
    let post = send("POST", "/v1/bundle?deployer=argocd", &[], &recipe_body());
    let get = send(
        "GET",
        &format!("/v1/bundle?{CRITERIA}&deployer=argocd"),
        &[],
        b"",
    );
    assert_eq!(get.status(), StatusCode::OK);
    assert_eq!(
        get.body(),
        post.body(),
        "same recipe, same options, same bytes"
    );
    assert!(header(&get, "cache-control").starts_with("public"));
    let etag = header(&get, "etag").to_owned();
    let again = send(
        "GET",
        &format!("/v1/bundle?{CRITERIA}&deployer=argocd"),
        &[("if-none-match", &etag)],
        b"",
    );
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.body().is_empty());
    let other = send("GET", &format!("/v1/bundle?{CRITERIA}"), &[], b"");
    assert_ne!(header(&other, "etag"), etag, "options are part of the tag");
    // The later `set` of a path wins, so the order of the entries is part of the tag.
    let first = send(
        "GET",
        &format!(
            "/v1/bundle?{CRITERIA}&set=cert-manager:replicaCount=2&set=cert-manager:replicaCount=3"
        ),
        &[],
        b"",
    );
    let swapped = send(
        "GET",
        &format!(
            "/v1/bundle?{CRITERIA}&set=cert-manager:replicaCount=3&set=cert-manager:replicaCount=2"
        ),
        &[],
        b"",
    );
    assert_ne!(first.body(), swapped.body());
    assert_ne!(header(&first, "etag"), header(&swapped, "etag"));
}

#[test]
fn bad_input_gets_a_400_naming_the_parameter_or_field() {
    let body = recipe_body();
    let cases: [(&str, &[u8], &str); 6] = [
        ("/v1/bundle?deployer=flux", &body, "deployer"),
        ("/v1/bundle?set=gpu-operator-driver.version", &body, "set"),
        (
            "/v1/bundle?system-node-toleration=a=b:Sometimes",
            &body,
            "system-node-toleration",
        ),
        ("/v1/bundle?nodes=-1", &body, "nodes"),
        ("/v1/bundle?colour=red", &body, "colour"),
        ("/v1/bundle", b"", "empty"),
    ];
    for (uri, body, named) in cases {
        let r = send("POST", uri, &[], body);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{uri}");
        let e = error(&r);
        assert_eq!(e["code"], "INVALID_REQUEST", "{uri}");
        assert!(e.to_string().contains(named), "{uri}: {e}");
    }
    let r = send("GET", "/v1/bundle?service=mars", &[], b"");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let mut doc: Value = serde_json::from_slice(&body).unwrap();
    doc["componentRefs"][0]["name"] = "../../etc".into();
    let r = send("POST", "/v1/bundle", &[], doc.to_string().as_bytes());
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error(&r)["details"]["field"], "componentRefs[0].name");
}

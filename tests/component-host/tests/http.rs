//! The `wasi:http/incoming-handler` export under wasmtime-wasi-http, the wasi:http
//! implementation `wasmtime serve` runs (jco is a different host, with different checks):
//! answers must be `aicr-api`'s, whatever the `Host` header says; HEAD must pass the host's
//! body framing check; a request the adapter cannot represent is the API's JSON 400, and a
//! header the host refuses is a JSON 500 reported on stderr, never some other answer.

use aicr_api::{Api, Config, RequestContext};
use aicr_component_host::{Host, Served};
use http::{HeaderName, Method, Request, Response, StatusCode, header};

const RECIPE: &str = "/v1/recipe?service=eks&accelerator=h100&intent=training";

fn request(method: Method, uri: &str, host: &str, body: &str) -> Request<String> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, host)
        .body(body.to_owned())
        .unwrap()
}

/// The component's answer; the adapter must have reported nothing.
fn serve(host: &Host, request: Request<String>) -> Response<Vec<u8>> {
    let Served {
        response, stderr, ..
    } = host.serve(request, None).unwrap();
    assert!(stderr.is_empty(), "stderr: {stderr}");
    response
}

/// `aicr-api`'s answer to the same request, in-process.
fn reference(request: &Request<String>) -> Response<Vec<u8>> {
    let config = Config::from_vars(|_| None).unwrap();
    let api = Api::new(aicr_embedded_catalog::catalog(), config);
    let (parts, body) = request.clone().into_parts();
    api.handle(
        &Request::from_parts(parts, body.into_bytes()),
        &RequestContext::default(),
    )
}

fn json(response: &Response<Vec<u8>>) -> serde_json::Value {
    serde_json::from_slice(response.body()).unwrap()
}

#[test]
fn get_head_and_extension_methods_answer_as_the_api() {
    let Some(host) = Host::shared() else { return };
    let get = request(Method::GET, RECIPE, "localhost", "");
    let got = serve(host, get.clone());
    let want = reference(&get);
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.body(), want.body());
    assert_eq!(
        got.headers()[header::CONTENT_TYPE],
        want.headers()[header::CONTENT_TYPE]
    );

    // wasmtime fails a body whose bytes differ from its Content-Length; the API's HEAD
    // answer states the GET length over an empty body.
    let head = serve(host, request(Method::HEAD, RECIPE, "localhost", ""));
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.body().is_empty());
    if let Some(length) = head.headers().get(header::CONTENT_LENGTH) {
        assert_eq!(length.to_str().unwrap(), got.body().len().to_string());
    }
    for name in [header::CONTENT_TYPE, header::ETAG, header::CACHE_CONTROL] {
        assert_eq!(
            head.headers().get(&name),
            got.headers().get(&name),
            "{name}"
        );
    }

    let purge = request(
        Method::from_bytes(b"PURGE").unwrap(),
        RECIPE,
        "localhost",
        "",
    );
    let got = serve(host, purge.clone());
    assert_eq!(got.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        got.headers()[header::ALLOW],
        reference(&purge).headers()[header::ALLOW]
    );
}

#[test]
fn the_host_header_routes_nothing() {
    let Some(host) = Host::shared() else { return };
    let post = |host: &str| {
        request(
            Method::POST,
            "/v1/recipe",
            host,
            r#"{"kind":"RecipeCriteria","apiVersion":"aicr.nvidia.com/v1alpha1","spec":{"service":"gke","accelerator":"h100"}}"#,
        )
    };
    let want_get = reference(&request(Method::GET, RECIPE, "localhost", ""));
    let want_post = reference(&post("localhost"));
    assert_eq!(want_post.status(), StatusCode::OK);
    for hostile in [
        "evil/../x",
        "evil host",
        "evil.example:99999",
        "/v1/query?selector=x#",
    ] {
        let got = serve(host, request(Method::GET, RECIPE, hostile, ""));
        assert_eq!(
            (got.status(), got.body()),
            (want_get.status(), want_get.body()),
            "GET with Host {hostile:?}"
        );
        let got = serve(host, post(hostile));
        assert_eq!(
            (got.status(), got.body()),
            (want_post.status(), want_post.body()),
            "POST with Host {hostile:?}"
        );
    }
}

#[test]
fn a_request_without_a_path_is_the_apis_400() {
    let Some(host) = Host::shared() else { return };
    // CONNECT's authority form: wasi:http gives the component no path at all.
    let got = serve(
        host,
        request(Method::CONNECT, "example.com:443", "example.com:443", ""),
    );
    assert_eq!(got.status(), StatusCode::BAD_REQUEST);
    assert_eq!(got.headers()[header::CONTENT_TYPE], "application/json");
    let body = json(&got);
    assert_eq!(body["code"], "INVALID_REQUEST");
    assert_eq!(body["message"], "The request has no path");
    assert!(
        body["requestId"].as_str().is_some_and(|id| id.len() == 36),
        "{body}"
    );
}

#[test]
fn a_header_the_host_refuses_is_a_500_reported_with_the_request_id() {
    let Some(host) = Host::shared() else { return };
    let refused = HeaderName::from_static("x-api-version");
    let request = request(Method::GET, "/health", "localhost", "");
    let Served {
        response, stderr, ..
    } = host.serve(request, Some(refused)).unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert!(response.headers().get("x-api-version").is_none());
    let body = json(&response);
    assert_eq!(body["code"], "INTERNAL");
    let id = body["requestId"].as_str().unwrap();
    assert!(
        stderr.contains(id) && stderr.contains("x-api-version"),
        "stderr: {stderr}"
    );
}

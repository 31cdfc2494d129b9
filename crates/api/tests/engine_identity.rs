//! A strong ETag names the bytes: the same catalog served by a different engine build is a
//! different representation, so its tag differs and an old tag no longer gets a 304.

use aicr_api::{Api, Config, RequestContext};
use http::{Request, Response, StatusCode};

fn api(build: &'static str) -> Api<'static> {
    Api::new(aicr_embedded_catalog::catalog(), Config::default()).with_build_identity(build)
}

fn get(api: &Api<'_>, target: &str, if_none_match: Option<&str>) -> Response<Vec<u8>> {
    let mut request = Request::builder().uri(target);
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    api.handle(
        &request.body(Vec::new()).unwrap(),
        &RequestContext::default(),
    )
}

fn etag(response: &Response<Vec<u8>>) -> String {
    response.headers()["etag"].to_str().unwrap().to_owned()
}

#[test]
fn same_catalog_different_engine_gives_a_new_tag() {
    let (old, new) = (api("engine build A"), api("engine build B"));
    for target in [
        "/v1/recipe?service=eks&intent=training",
        "/v1/recipe?service=eks&intent=training&format=yaml",
        "/v1/query?service=eks&selector=criteria",
    ] {
        let old_tag = etag(&get(&old, target, None));
        assert_eq!(
            old_tag,
            etag(&get(&api("engine build A"), target, None)),
            "{target}: the same engine identity gives the same tag"
        );
        let new_answer = get(&new, target, Some(&old_tag));
        assert_eq!(
            new_answer.status(),
            StatusCode::OK,
            "{target}: a tag from another engine build must not revalidate"
        );
        assert_ne!(etag(&new_answer), old_tag, "{target}");
        assert_eq!(
            get(&new, target, Some(&etag(&new_answer))).status(),
            StatusCode::NOT_MODIFIED
        );
    }
}

#[test]
fn the_default_identity_is_this_build() {
    let target = "/v1/recipe?service=gke";
    let default = Api::new(aicr_embedded_catalog::catalog(), Config::default());
    let tag = etag(&get(&default, target, None));
    assert_eq!(
        tag,
        etag(&get(&api(aicr_api::BUILD_IDENTITY), target, None))
    );
    assert_ne!(tag, etag(&get(&api("another build"), target, None)));
    assert_eq!(aicr_api::BUILD_IDENTITY.len(), 64);
    assert!(
        aicr_api::BUILD_IDENTITY
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
    );
}

#[test]
fn an_api_over_a_shared_catalog_answers_as_one_over_a_borrowed_one() {
    let catalog = aicr_embedded_catalog::catalog();
    let shared = Api::shared(std::sync::Arc::new(catalog.clone()), Config::default());
    let borrowed = Api::new(catalog, Config::default());
    let request = http::Request::get("/v1/recipe?service=eks&accelerator=h100&intent=training")
        .body(Vec::new())
        .unwrap();
    let ctx = RequestContext::default();
    let (a, b) = (
        shared.handle(&request, &ctx),
        borrowed.handle(&request, &ctx),
    );
    assert_eq!((a.status(), a.body()), (b.status(), b.body()));
    assert_eq!(a.headers()["etag"], b.headers()["etag"]);
}

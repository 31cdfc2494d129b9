//! `Api::representation_tag`: the strong ETag an answer would carry, known without
//! resolving or rendering, for hosts that key a shared cache on it (the edge worker's
//! Cache API). It must equal the answer's own `ETag` whenever the answer has one, follow
//! the normalised inputs rather than their spelling, and be absent wherever the answer
//! could not be a cacheable 200.

use aicr_api::{Allowlists, Api, Config, RequestContext};

use http::Request;

fn api() -> Api<'static> {
    Api::new(aicr_embedded_catalog::catalog(), Config::default())
}

fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> Request<Vec<u8>> {
    let mut b = Request::builder().method(method).uri(target);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Vec::new()).unwrap()
}

const CRITERIA: &str = "service=eks&accelerator=h100&os=ubuntu&intent=training";

#[test]
fn the_tag_is_the_answers_etag_for_every_cacheable_route_and_format() {
    let api = api();
    for target in [
        format!("/v1/recipe?{CRITERIA}"),
        format!("/v1/recipe?{CRITERIA}&format=yaml"),
        format!("/v2/recipe?{CRITERIA}"),
        format!("/v1/query?{CRITERIA}&selector=components.gpu-operator.values.driver.version"),
        format!("/v2/query?{CRITERIA}&selector=/componentRefs/3/values/driver/version"),
    ] {
        for method in ["GET", "HEAD"] {
            let r = request(method, &target, &[]);
            let tag = api
                .representation_tag(&r)
                .unwrap_or_else(|| panic!("{method} {target}: no tag"));
            let answer = api.handle(&r, &RequestContext::default());
            assert_eq!(answer.status(), 200, "{method} {target}");
            assert_eq!(answer.headers()["etag"], tag.as_str(), "{method} {target}");
        }
    }
}

#[test]
fn the_tag_follows_normalised_inputs_not_their_spelling() {
    let api = api();
    let tag = |target: &str, headers: &[(&str, &str)]| {
        api.representation_tag(&request("GET", target, headers))
            .unwrap_or_else(|| panic!("{target}: no tag"))
    };
    let plain = tag(&format!("/v1/recipe?{CRITERIA}"), &[]);
    // Case, spaces, order, the `gpu` alias and a repeated parameter (first wins).
    let respelled = tag(
        "/v1/recipe?intent=Training&os=%20UBUNTU&gpu=h100&service=eks&service=gke",
        &[],
    );
    assert_eq!(plain, respelled);
    // The format is negotiated before tagging: Accept and format= name the same YAML.
    let yaml = tag(&format!("/v1/recipe?{CRITERIA}&format=yaml"), &[]);
    assert_ne!(plain, yaml);
    assert_eq!(
        yaml,
        tag(
            &format!("/v1/recipe?{CRITERIA}"),
            &[("accept", "application/yaml")]
        )
    );
    // Versions and criteria give different tags.
    assert_ne!(plain, tag(&format!("/v2/recipe?{CRITERIA}"), &[]));
    assert_ne!(
        plain,
        tag(
            "/v1/recipe?service=eks&accelerator=h100&intent=training",
            &[]
        )
    );
}

#[test]
fn nothing_is_resolved_or_rendered_for_a_tag() {
    let api = api();
    let r = request("GET", &format!("/v1/recipe?{CRITERIA}"), &[]);
    assert!(api.representation_tag(&r).is_some());
    assert_eq!(api.memo_len(), 0);
    api.handle(&r, &RequestContext::default());
    assert_eq!(api.memo_len(), 1);
}

#[test]
fn no_tag_where_the_answer_cannot_be_a_cacheable_200() {
    let api = api();
    for (method, target) in [
        ("POST", format!("/v1/recipe?{CRITERIA}")),
        ("GET", format!("/v1/bundle?{CRITERIA}")),
        ("GET", "/health".to_owned()),
        ("GET", "/".to_owned()),
        ("GET", "/v1/recipe?service=nope".to_owned()),
        ("GET", format!("/v1/recipe?{CRITERIA}&format=xml")),
        (
            "GET",
            format!("/v2/query?{CRITERIA}&selector=no-leading-slash"),
        ),
        ("GET", "/no/such/route".to_owned()),
    ] {
        let r = request(method, &target, &[]);
        assert_eq!(api.representation_tag(&r), None, "{method} {target}");
    }
}

#[test]
fn a_tenants_allowlists_in_the_extensions_apply_to_the_tag() {
    let api = api();
    let mut r = request("GET", &format!("/v1/recipe?{CRITERIA}"), &[]);
    let tag = api.representation_tag(&r);
    assert!(tag.is_some());
    let gke_only =
        Config::from_vars(|name| (name == "AICR_ALLOWED_SERVICES").then(|| "gke".into()))
            .expect("a valid allowlist")
            .allowlists;
    r.extensions_mut().insert::<Allowlists>(gke_only);
    assert_eq!(api.representation_tag(&r), None);
    // As the answer: the service (which reads the extensions) refuses the same request.
    let answer = tower_service::Service::call(&mut api.clone(), r)
        .into_inner()
        .expect("infallible");
    assert_eq!(answer.status(), 400);
}

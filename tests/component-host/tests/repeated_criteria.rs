//! One meaning for repeated criteria in every entry point. The HTTP API keeps the FIRST
//! value of a repeated query parameter and reads `gpu` only when `accelerator` is absent or
//! empty (upstream's rule); the WIT `parse-criteria`, the `wasi:cli/run` command line and
//! the `wasi:http` export must answer the same input with the same recipe, byte for byte,
//! or fail on the same value.

use aicr_api::{Api, Config, RequestContext};
use aicr_component_host::{Host, wit};
use aicr_recipe::{Accelerator, Criteria, Intent, Os, Platform, Service};

/// Repeated and aliased input, and the criteria the first-value rule gives.
fn cases() -> Vec<(&'static [(&'static str, &'static str)], Criteria)> {
    vec![
        (
            &[("service", "eks"), ("service", "gke")],
            Criteria {
                service: Service::Eks,
                ..Criteria::default()
            },
        ),
        (
            &[("gpu", "h100"), ("accelerator", "l40")],
            Criteria {
                accelerator: Accelerator::L40,
                ..Criteria::default()
            },
        ),
        (
            &[("accelerator", "h100"), ("gpu", "l40")],
            Criteria {
                accelerator: Accelerator::H100,
                ..Criteria::default()
            },
        ),
        (
            &[("accelerator", ""), ("gpu", "gb200"), ("gpu", "h100")],
            Criteria {
                accelerator: Accelerator::Gb200,
                ..Criteria::default()
            },
        ),
        (
            &[
                ("intent", "training"),
                ("intent", "inference"),
                ("os", "ubuntu"),
                ("os", "not-an-os"),
                ("nodes", "8"),
                ("nodes", "x"),
                ("platform", "kubeflow"),
                ("platform", "dynamo"),
                ("service", "eks"),
                ("service", ""),
            ],
            Criteria {
                service: Service::Eks,
                intent: Intent::Training,
                os: Os::Ubuntu,
                platform: Platform::Kubeflow,
                nodes: 8,
                ..Criteria::default()
            },
        ),
    ]
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `GET /v1/recipe?<pairs>` answered by `aicr-api` in-process.
fn http_answer(pairs: &[(&str, &str)]) -> http::Response<Vec<u8>> {
    let api = Api::new(
        aicr_embedded_catalog::catalog(),
        Config::from_vars(|_| None).unwrap(),
    );
    let request = http::Request::get(format!("/v1/recipe?{}", query_string(pairs)))
        .body(Vec::new())
        .unwrap();
    api.handle(&request, &RequestContext::default())
}

fn cli_args(pairs: &[(&str, &str)]) -> Vec<String> {
    let mut args = vec!["recipe".to_owned(), "--format=json".to_owned()];
    args.extend(pairs.iter().map(|(k, v)| format!("--{k}={v}")));
    args
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn repeated_and_aliased_criteria_mean_the_same_everywhere() {
    let Some(host) = Host::shared() else { return };
    let (mut store, bindings) = host.instantiate().unwrap();
    let resolver = bindings.aicr_recipe_resolver();
    for (pairs, criteria) in cases() {
        let http = http_answer(pairs);
        assert_eq!(http.status(), 200, "HTTP {pairs:?}");
        let native = aicr_embedded_catalog::catalog().resolve(&criteria).unwrap();
        let document = serde_json::to_string(&native).unwrap() + "\n";
        assert_eq!(
            String::from_utf8_lossy(http.body()),
            document,
            "HTTP {pairs:?}"
        );

        let parsed = resolver
            .call_parse_criteria(&mut store, &owned(pairs))
            .unwrap()
            .unwrap_or_else(|e| panic!("parse-criteria {pairs:?}: {e:?}"));
        let rendered = resolver
            .call_render(&mut store, parsed, wit::Format::Json)
            .unwrap()
            .unwrap();
        assert_eq!(rendered, document, "parse-criteria {pairs:?}");

        let args = cli_args(pairs);
        let out = host
            .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .unwrap();
        assert!(out.success, "CLI {args:?}: {}", out.stderr);
        assert_eq!(out.stdout, document, "CLI {args:?}");

        let uri = format!("/v1/recipe?{}", query_string(pairs));
        let request = http::Request::get(uri)
            .header(http::header::HOST, "localhost")
            .body(String::new())
            .unwrap();
        let served = host.serve(request, None).unwrap().response;
        assert_eq!(
            String::from_utf8_lossy(served.body()),
            document,
            "wasi:http {pairs:?}"
        );
    }
}

#[test]
fn a_bad_first_value_fails_everywhere() {
    let Some(host) = Host::shared() else { return };
    let (mut store, bindings) = host.instantiate().unwrap();
    let resolver = bindings.aicr_recipe_resolver();
    let pairs: &[(&str, &str)] = &[("service", "lke"), ("service", "eks")];

    let http = http_answer(pairs);
    assert_eq!(http.status(), 400);
    let body: serde_json::Value = serde_json::from_slice(http.body()).unwrap();
    assert_eq!(body["details"]["parameter"], "service");
    assert_eq!(body["details"]["value"], "lke");

    match resolver
        .call_parse_criteria(&mut store, &owned(pairs))
        .unwrap()
    {
        Err(wit::Error::InvalidCriteria(e)) => {
            assert_eq!((e.field, e.value.as_str()), (wit::Field::Service, "lke"));
        }
        other => panic!("expected invalid-criteria, got {other:?}"),
    }

    let args = cli_args(pairs);
    let out = host
        .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .unwrap();
    assert!(!out.success, "{args:?} should fail");
    assert!(
        out.stderr.contains("--service") && out.stderr.contains("\"lke\""),
        "{}",
        out.stderr
    );
}

//! No input crashes the API: random query strings, headers and bodies always get a 2xx,
//! 304 or 4xx answer with a well-formed body, never a panic or a 5xx.

use aicr_api::{Api, Config, RequestContext};
use proptest::prelude::*;

fn api() -> Api<'static> {
    Api::new(aicr_embedded_catalog::catalog(), Config::default())
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("service".to_owned()),
        Just("accelerator".to_owned()),
        Just("gpu".to_owned()),
        Just("intent".to_owned()),
        Just("os".to_owned()),
        Just("platform".to_owned()),
        Just("nodes".to_owned()),
        Just("selector".to_owned()),
        Just("format".to_owned()),
        Just("eks".to_owned()),
        Just("h100".to_owned()),
        Just("%".to_owned()),
        Just("%zz".to_owned()),
        Just("%41".to_owned()),
        Just(";".to_owned()),
        Just("=".to_owned()),
        Just("&".to_owned()),
        Just("+".to_owned()),
        Just(".".to_owned()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ]
}

fn query_string() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..12).prop_map(|parts| parts.concat())
}

fn check(response: &http::Response<Vec<u8>>) -> Result<(), TestCaseError> {
    let status = response.status();
    prop_assert!(
        status.is_success() || status.is_client_error() || status == 304,
        "status {status}"
    );
    if status.is_client_error() {
        let body: serde_json::Value = serde_json::from_slice(response.body())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(body["code"].is_string() && body["message"].is_string());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_query_strings(path in prop_oneof![Just("/v1/recipe"), Just("/v1/query")], query in query_string()) {
        let uri = format!("{path}?{}", query.replace(' ', "+").replace('#', "%23"));
        let Ok(request) = http::Request::builder().uri(uri.as_str()).body(Vec::new()) else { return Ok(()) };
        check(&api().handle(&request, &RequestContext::default()))?;
    }

    #[test]
    fn random_bodies(
        path in prop_oneof![Just("/v1/recipe"), Just("/v1/query")],
        content_type in prop_oneof![Just("application/json"), Just("application/yaml"), Just("text/plain"), Just("")],
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            "[ -~\\n]{0,120}".prop_map(String::into_bytes),
            (query_string(), query_string()).prop_map(|(a, b)| format!("{{\"spec\":{{\"service\":\"{a}\",\"nodes\":{}}},\"criteria\":{{\"os\":\"{b}\"}},\"selector\":\"{a}\"}}", b.len()).into_bytes()),
            (query_string(), query_string()).prop_map(|(a, b)| format!("spec:\n  service: {a}\n  os: {b}\ncriteria:\n  intent: {a}\nselector: {b}\n").into_bytes()),
        ],
    ) {
        let request = http::Request::builder().method("POST").uri(path).header("content-type", content_type).body(body).unwrap();
        check(&api().handle(&request, &RequestContext::default()))?;
    }
}

//! Shared by the worker's test files: a request answered in-process by the API crate, the
//! reference the worker's answers (and the OpenAPI document) are held to.

use aicr_api::{Api, Config, RequestContext};

pub fn in_process(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> http::Response<Vec<u8>> {
    let mut request = http::Request::builder().method(method).uri(target);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(body.to_vec()).expect("valid test request");
    let api = Api::new(aicr_embedded_catalog::catalog(), Config::default());
    api.handle(
        &request,
        &RequestContext {
            unix_nanos: 1,
            random: [9; 16],
        },
    )
}

//! What the tests of tenants' catalogs expect of an answer, on every host that serves them
//! (the edge worker, the native server): which catalog made it, as `X-AICR-Catalog` says,
//! and the gpu-operator version its recipe pins (the sample tenant catalog pins its own).

use crate::client::Answer;
use aicr_tenant_catalogs::Packed;

/// The gpu-operator version of a recipe answer; panics with the body when it has none.
pub fn gpu_operator_version(answer: &Answer) -> String {
    let body = answer.json();
    body["componentRefs"]
        .as_array()
        .and_then(|refs| refs.iter().find(|c| c["name"] == "gpu-operator"))
        .and_then(|c| c["version"].as_str())
        .unwrap_or_else(|| panic!("no gpu-operator in {body}"))
        .to_owned()
}

/// `X-AICR-Catalog` of an answer from the embedded catalog.
pub fn embedded_header() -> String {
    format!(
        "embedded;digest=\"{}\"",
        aicr_embedded_catalog::catalog().info().digest
    )
}

/// `X-AICR-Catalog` of an answer from the tenant catalog `packed`.
pub fn tenant_header(packed: &Packed) -> String {
    format!("tenant;digest=\"{}\"", packed.digest)
}

/// A recipe answered from `packed`, pinned to `version`.
pub fn assert_tenant(answer: &Answer, packed: &Packed, version: &str, what: &str) {
    assert_eq!(answer.status, 200, "{what}: {}", answer.text());
    assert_eq!(
        answer.header("x-aicr-catalog"),
        Some(tenant_header(packed).as_str()),
        "{what}"
    );
    assert_eq!(gpu_operator_version(answer), version, "{what}");
}

//! The admin routes for tenants' catalogs: `aicr_tenant_catalogs::routes`, shared with the
//! native server (routes, answers and error bodies are documented there). What is the
//! worker's own: the 500 without the `AICR_CATALOGS` KV binding.

use aicr_stack::Policy;
use aicr_tenant_catalogs::TenantCatalogs;
use http::{Request, Response};

pub use aicr_tenant_catalogs::routes::UPLOAD_READ_LIMIT;

/// The 500's message without the KV binding.
const UNCONFIGURED: &str =
    "Tenant catalogs are not configured here: the worker has no AICR_CATALOGS KV binding";

/// Answers one `/admin/` request. `catalogs` is `None` without the KV binding.
pub async fn answer(
    catalogs: Option<TenantCatalogs>,
    policy: &Policy,
    request: Request<Vec<u8>>,
) -> Response<Vec<u8>> {
    aicr_tenant_catalogs::routes::answer(catalogs, UNCONFIGURED, policy, request).await
}

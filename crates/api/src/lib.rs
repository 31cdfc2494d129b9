//! # aicr-api — the HTTP API as a pure function
//!
//! [`Api::handle`] turns an `http::Request` into an `http::Response` for `/v1/recipe`,
//! `/v1/query`, `/v1/bundle` (a deployable zip, built by `aicr-bundle`), `/`, `/health` and `/ready`:
//! parsing, validation, error bodies, headers, ETag/304, JSON or YAML. It has no runtime,
//! no sockets, no clock and no randomness: the host passes a [`RequestContext`] with the
//! time and 16 random bytes. So the edge worker, the WASI component's `wasi:http` export
//! and the tests all run exactly this code, and each host stays a thin type adapter.
//!
//! [`Api`] is also a tower `Service` (the request's [`RequestContext`] rides in its
//! extensions): the innermost service of the stack every HTTP host assembles from
//! `aicr-stack`, where access control, rate limits, CORS, headers and compression live as
//! tower `Layer`s. This crate must never depend on a runtime (tokio, workers-rs, wasi):
//! those belong to the hosts.
//!
//! ```
//! use aicr_api::{Api, Config, RequestContext};
//! use http::Request;
//!
//! # let catalog = aicr_recipe::Catalog::new(Default::default()).unwrap();
//! let api = Api::new(&catalog, Config::default());
//! let request = Request::builder().uri("/health").body(Vec::new()).unwrap();
//! let response = api.handle(&request, &RequestContext::default());
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["x-content-type-options"], "nosniff");
//! ```

mod bundle;
mod config;
mod context;
mod errors;
mod etag;
mod handler;
mod memo;
mod query_string;
mod render;
mod routes;
mod v2;

pub use config::{Allowlists, Config, ConfigError};
pub use context::RequestContext;
pub use errors::{ApiError, ErrorCode, is_v2_path, truncate};
pub use handler::{Api, request_id};
pub use render::Format;

/// The route a path is served by (its template, for logs and metric labels), or
/// `"unmatched"`: labels stay few whatever paths clients send.
pub fn route_template(path: &str) -> &'static str {
    routes::Route::find(path).map_or("unmatched", |r| r.path)
}

/// Largest request body accepted (413 beyond).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest selector accepted on `/v1/query` and `/v2/query`.
pub const MAX_SELECTOR_BYTES: usize = 1024;
/// Value of the `X-API-Version` header.
pub const API_VERSION_HEADER_VALUE: &str = "v1";
/// This build's identity: hex SHA-256 over the engine's, the catalog loader's and this
/// crate's sources and `Cargo.lock` (see `build.rs`). An [`Api`] puts it in every strong
/// ETag unless told otherwise ([`Api::with_build_identity`]).
pub const BUILD_IDENTITY: &str = env!("AICR_API_BUILD_IDENTITY");

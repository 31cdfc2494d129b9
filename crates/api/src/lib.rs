//! # aicr-api — the HTTP API as a pure function
//!
//! [`Api::handle`] turns an `http::Request` into an `http::Response` for `/v1/recipe`,
//! `/v1/query`, `/v1/bundle` (a deployable zip, built by `aicr-bundle`), `/`, `/health` and `/ready`:
//! parsing, validation, error bodies, headers, ETag/304, JSON or YAML. It has no runtime,
//! no sockets, no clock and no randomness: the host passes a [`RequestContext`] with the
//! time and 16 random bytes. So the edge worker, the WASI component's `wasi:http` export
//! and the tests all run exactly this code, and each host stays a thin type adapter.
//!
//! Later layers (auth, CORS, rate limits, caching, metrics) wrap any [`Handler`] in
//! another `Handler` without editing this crate. It must never depend on a runtime
//! (tokio, workers-rs, wasi) — those belong to the hosts.
//!
//! ```
//! use aicr_api::{Api, Config, Handler, RequestContext};
//! use http::{Request, Response, header::HeaderValue};
//!
//! /// A layer: lets browsers from one origin read the API.
//! struct Cors<H>(H, &'static str);
//!
//! impl<H: Handler> Handler for Cors<H> {
//!     fn handle(&self, request: &Request<Vec<u8>>, ctx: &RequestContext) -> Response<Vec<u8>> {
//!         let mut response = self.0.handle(request, ctx);
//!         let headers = response.headers_mut();
//!         headers.insert("access-control-allow-origin", HeaderValue::from_static(self.1));
//!         headers.insert("vary", HeaderValue::from_static("Origin"));
//!         response
//!     }
//! }
//!
//! # let catalog = aicr_recipe::Catalog::new(Default::default()).unwrap();
//! let api = Cors(Api::new(&catalog, Config::default()), "https://dash.example");
//! let request = Request::builder().uri("/health").body(Vec::new()).unwrap();
//! let response = api.handle(&request, &RequestContext::default());
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["access-control-allow-origin"], "https://dash.example");
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

pub use config::{Allowlists, Config, ConfigError};
pub use context::RequestContext;
pub use errors::{ApiError, ErrorCode};
pub use handler::{Api, Handler};
pub use render::Format;

/// Largest request body accepted (413 beyond).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest selector accepted on `/v1/query`.
pub const MAX_SELECTOR_BYTES: usize = 1024;
/// Value of the `X-API-Version` header.
pub const API_VERSION_HEADER_VALUE: &str = "v1";
/// This build's identity: hex SHA-256 over the engine's, the catalog loader's and this
/// crate's sources and `Cargo.lock` (see `build.rs`). An [`Api`] puts it in every strong
/// ETag unless told otherwise ([`Api::with_build_identity`]).
pub const BUILD_IDENTITY: &str = env!("AICR_API_BUILD_IDENTITY");

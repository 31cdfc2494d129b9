//! # aicr-api — the HTTP API as a pure function
//!
//! [`Api::handle`] turns an `http::Request` into an `http::Response` for `/v1/recipe`,
//! `/v1/query`, `/`, `/health` and `/ready` (and answers `/v1/bundle` honestly with 501):
//! parsing, validation, error bodies, headers, ETag/304, JSON or YAML. It has no runtime,
//! no sockets, no clock and no randomness: the host passes a [`RequestContext`] with the
//! time and 16 random bytes. So the edge worker, the WASI component's `wasi:http` export
//! and the tests all run exactly this code, and each host stays a thin type adapter.
//!
//! Later layers (auth, CORS, rate limits, caching, metrics) wrap any [`Handler`] in
//! another `Handler` without editing this crate. It must never depend on a runtime
//! (tokio, workers-rs, wasi) — those belong to the hosts.

mod config;
mod context;
mod errors;
mod etag;
mod handler;
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

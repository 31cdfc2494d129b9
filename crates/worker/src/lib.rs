//! # aicr-worker — the API at the edge
//!
//! The edge worker's Rust half: it hands one request to [`aicr_api::Api`] and gives the
//! answer back. Routing, statuses, headers, ETags and error bodies all live in `aicr-api`,
//! so this host and every other one answer byte for byte alike. The platform supplies what
//! the API deliberately does not own: the clock (`Date.now()`), randomness
//! (`crypto.getRandomValues`) and configuration (worker vars, see `wrangler.toml`).
//!
//! ## One crossing each way
//!
//! The worker's entry module (`js/entry.mjs`) reads the platform's `Request` and calls
//! [`answer`] once, with plain values: method, path and query, all headers as one string,
//! the body bytes (or why they could not be read). The answer comes back as one string
//! (status and headers) and the body (one more call, [`take_body`]), which the entry module
//! turns into a `Response`.
//! A CPU profile of the first version, which used workers-rs's `Request`/`Response` and its
//! async `fetch` event, showed the glue costing three times the API's own work: a promise
//! and microtask per request, the `cf` object read on every request, a JS call per header
//! read and per header written, URL parsing twice. The values crossing here are the same;
//! only the number of crossings changed.
//!
//! Nothing the platform hands over may turn into its own plain-text 500: a body stream that
//! breaks, or headers the adapter cannot represent, become the API's JSON error with an
//! `X-Request-Id` (400), and the cause goes to the worker's log.
//!
//! The explorer's static files never reach this code: wrangler's `assets` serve them, and
//! only API paths run the worker first (`run_worker_first` in `wrangler.toml`).

use aicr_api::{Api, ApiError, Config, ConfigError, MAX_BODY_BYTES, RequestContext};
use std::cell::OnceCell;
use wasm_bindgen::prelude::*;
use worker::{Date, Env, console_error};

thread_local! {
    /// The API, configured once per isolate: worker vars are fixed for a deployment, so
    /// reading and validating them on every request would only cost time.
    static API: OnceCell<Result<Api<'static>, ConfigError>> = const { OnceCell::new() };
}

/// Worker vars the API reads (see `Config::from_vars`).
fn api(env: &Env) -> Result<Api<'static>, ConfigError> {
    Config::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))
        .map(|config| Api::new(aicr_embedded_catalog::catalog(), config))
}

thread_local! {
    /// The body of the answer [`answer`] just gave, until [`take_body`] moves it out.
    static BODY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The body of the last answer, moved out (read it once); empty for HEAD, 204 and 304.
#[wasm_bindgen(js_name = takeBody)]
pub fn take_body() -> Vec<u8> {
    BODY.with(|b| std::mem::take(&mut *b.borrow_mut()))
}

/// The size of this instance's linear memory in bytes. The entry module offers it to the
/// inspector (`globalThis.aicrLinearMemoryBytes()`), where the memory test reads it: the
/// platform stops an isolate whose wasm memory and JS heap pass 128 MB together.
#[wasm_bindgen(js_name = linearMemoryBytes)]
pub fn linear_memory_bytes() -> usize {
    #[cfg(target_arch = "wasm32")]
    return core::arch::wasm32::memory_size(0) * 65536;
    // A native build (the workspace's clippy and tests) has no linear memory.
    #[cfg(not(target_arch = "wasm32"))]
    0
}

/// How many body bytes the entry module reads at most: one past the API's limit, so the
/// API can tell a body that is too large (413) without the worker buffering all of it.
#[wasm_bindgen(js_name = bodyReadLimit)]
pub fn body_read_limit() -> usize {
    MAX_BODY_BYTES + 1
}

/// Answers one request: returns the status and headers as `status\nname\nvalue\n…` and
/// keeps the body for [`take_body`] (two plain values, no wrapper object for the runtime to
/// track). `headers` is `name\nvalue\n` for each header (HTTP header names and values hold
/// no newline); `body_error` is set when the platform's body stream failed (then `body` is
/// what arrived before). The entry module reads at most [`body_read_limit`] bytes.
#[wasm_bindgen]
pub fn answer(
    env: &Env,
    method: &str,
    path_and_query: &str,
    headers: &str,
    body: Vec<u8>,
    body_error: Option<String>,
) -> String {
    let ctx = request_context();
    let response = match to_http(method, path_and_query, headers, body, body_error) {
        Ok(request) => API.with(|api| match api.get_or_init(|| self::api(env)) {
            Ok(api) => api.handle(&request, &ctx),
            Err(e) => {
                console_error!("invalid worker configuration: {e}");
                ApiError::from(e).to_response(&ctx.fresh_request_id(), &ctx)
            }
        }),
        Err(failure) => {
            let id = ctx.fresh_request_id();
            console_error!("request {id}: {} {:?}", failure.message, failure.details);
            failure.to_response(&id, &ctx)
        }
    };
    let (parts, body) = response.into_parts();
    BODY.with(|b| *b.borrow_mut() = body);
    let mut head = String::with_capacity(256);
    head.push_str(parts.status.as_str());
    head.push('\n');
    for (name, value) in &parts.headers {
        // The API only writes visible ASCII; anything else would be its bug, not a client's.
        if let Ok(value) = value.to_str() {
            head.push_str(name.as_str());
            head.push('\n');
            head.push_str(value);
            head.push('\n');
        }
    }
    head
}

/// The time and 16 random bytes the API needs for request ids and timestamps. Without
/// randomness the id falls back to one derived from the time: an answer still goes out.
fn request_context() -> RequestContext {
    let unix_nanos = u128::from(Date::now().as_millis()) * 1_000_000;
    let mut random = [0u8; 16];
    if let Err(e) = getrandom::getrandom(&mut random) {
        console_error!("crypto.getRandomValues failed: {e}");
        random = unix_nanos.to_le_bytes();
    }
    RequestContext { unix_nanos, random }
}

/// The request as `http` holds it, or the API's 400 for what cannot be represented.
fn to_http(
    method: &str,
    path_and_query: &str,
    headers: &str,
    body: Vec<u8>,
    body_error: Option<String>,
) -> Result<http::Request<Vec<u8>>, ApiError> {
    if let Some(e) = body_error {
        return Err(
            ApiError::bad_request("The request body could not be read to its end")
                .detail("error", e),
        );
    }
    let mut builder = http::Request::builder().method(method).uri(path_and_query);
    let mut lines = headers.split('\n');
    while let (Some(name), Some(value)) = (lines.next(), lines.next()) {
        builder = builder.header(name, value);
    }
    builder.body(body).map_err(|e| {
        ApiError::bad_request("The request cannot be represented in HTTP")
            .detail("error", e.to_string())
    })
}

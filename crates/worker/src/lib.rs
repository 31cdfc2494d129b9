//! # aicr-worker — the API at the edge
//!
//! The edge worker's Rust half: it hands one request to the [`aicr_stack::Stack`] every
//! host runs (security headers, CORS, API keys and signed requests, rate limits, then the
//! API) and gives the answer back. Routing, statuses, headers, ETags, error bodies and
//! access control all live in those crates, so this host and every other one answer byte
//! for byte alike. The platform supplies what they deliberately do not own: the clock
//! (`Date.now()`), randomness (`crypto.getRandomValues`), the client's address
//! (`CF-Connecting-IP`, which the platform sets and overwrites when a client sends it),
//! rate-limit counts (the `AICR_RATE_LIMITER` binding, see [`limit`]), tenants' catalogs
//! (the `AICR_CATALOGS` Workers KV binding, see [`catalogs`]), a shared cache of their
//! answers (the Cache API, see [`cache`]) and configuration (worker vars and secrets, see
//! `wrangler.toml`).
//!
//! The stack's innermost service is [`edge::Edge`]: the API over the built-in catalog for
//! anonymous callers, over a tenant's own catalog (published at run time through the
//! admin routes, [`admin`]) for that tenant's keys.
//!
//! The stack is assembled with HSTS (the edge is only served over TLS; browsers ignore it
//! from `http://localhost`) and without compression (the platform compresses, and would
//! otherwise get bodies it cannot recompress for each client).
//!
//! ## One crossing each way
//!
//! The worker's entry module (`js/entry.mjs`) reads the platform's `Request` and calls
//! [`answer`] once, with plain values: method, path and query, all headers as one string,
//! the body bytes (or why they could not be read), and the request's `ExecutionContext`
//! (for cache stores that finish after the answer). When every layer answered at once (no
//! rate limit to ask the binding about, no store or cache to read: the common case) the
//! answer comes back as one string (status and headers) and the body (one more call,
//! [`take_body`]), which the entry module turns into a `Response`. When a layer waits for
//! the platform (the binding's count, a KV read, a cache lookup), [`answer`] returns a
//! `Promise` of `[head, body]` instead: other requests of the same isolate run while this
//! one waits, so its body travels with its head rather than in the slot [`take_body`]
//! empties, whose safety would then rest on when the runtime resumes each request (the
//! synchronous path takes its body before any other request can run).
//!
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
//! ## Configuration
//!
//! Read once per isolate (a deployment's bindings are fixed): the API's variables
//! ([`aicr_api::Config::from_vars`]), the stack's ([`aicr_stack::Policy::from_vars`]), the
//! binding's period ([`limit`]) and whether the KV binding and the Cache API exist.
//! `AICR_KEY_SECRET` and `AICR_TENANTS` belong in worker
//! secrets (`wrangler secret put`; `.dev.vars` locally); secrets and vars reach the worker
//! as the same kind of text binding, so one lookup reads either, and a deployment that
//! keeps them in vars still works. A value that cannot be used makes every request answer
//! the API's 500 naming the variable (not its value, which goes to the log only).
//!
//! The explorer's static files never reach this code: wrangler's `assets` serve them (with
//! the headers in `www/_headers`), and only API paths run the worker first
//! (`run_worker_first` in `wrangler.toml`).

pub mod admin;
pub mod cache;
pub mod catalogs;
pub mod edge;
pub mod limit;

use aicr_api::{ApiError, Config, ConfigError, MAX_BODY_BYTES, RequestContext};
use aicr_stack::{Connection, HostOptions, Policy, Stack};
use std::cell::{OnceCell, RefCell};
use std::net::IpAddr;
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use worker::js_sys::{Array, Uint8Array};
use worker::wasm_bindgen_futures::future_to_promise;
use worker::{Date, Env, console_error};

thread_local! {
    /// The stack, assembled once per isolate, or why the configuration cannot be used.
    static STACK: OnceCell<Result<(Stack, Arc<Policy>), ConfigError>> = const { OnceCell::new() };
    /// The body of the answer [`answer`] just gave synchronously, until [`take_body`]
    /// moves it out (in the same turn of the entry module, so no other request between).
    static BODY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The stack around [`edge::Edge`], configured from the worker's bindings, and the policy
/// it enforces (the entry module asks it before reading an upload).
fn assemble(env: &Env) -> Result<(Stack, Arc<Policy>), ConfigError> {
    let text = |name: &str| env.var(name).ok().map(|v| v.to_string());
    let config = Config::from_vars(text)?;
    let policy = Arc::new(Policy::from_vars(text)?);
    let limiter = limit::EdgeLimiter::from_env(env, &policy, text)?;
    let options = HostOptions {
        hsts: true,
        compress: false,
    };
    let edge = edge::Edge::new(
        config,
        policy.clone(),
        catalogs::from_env(env),
        cache::available(),
    );
    Ok((
        Stack::around(edge, policy.clone(), limiter, options),
        policy,
    ))
}

/// The body of the last synchronous answer, moved out (read it once); empty for HEAD,
/// 204 and 304.
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

/// The same for a catalog upload (`POST /admin/tenants/{tenant}/catalogs`, the one route
/// whose bodies may be larger): one past the largest artifact.
#[wasm_bindgen(js_name = uploadReadLimit)]
pub fn upload_read_limit() -> usize {
    admin::UPLOAD_READ_LIMIT
}

/// Whether the request's headers (`name\nvalue\n…`) present an admin tenant's valid key:
/// only then does the entry module read a catalog upload beyond the API's body limit, so
/// a caller without one cannot make an isolate buffer up to [`upload_read_limit`] bytes
/// (its request is refused by the stack all the same, from the first bytes).
#[wasm_bindgen(js_name = admitsUpload)]
pub fn admits_upload(env: &Env, headers: &str) -> bool {
    let mut map = http::HeaderMap::new();
    let mut lines = headers.split('\n');
    while let (Some(name), Some(value)) = (lines.next(), lines.next()) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    STACK.with(|stack| match stack.get_or_init(|| assemble(env)) {
        Ok((_, policy)) => policy.admits_admin(&map),
        Err(_) => false,
    })
}

/// Answers one request. `execution` is the request's `ExecutionContext` (borrowed; kept
/// past the call only for a keyed request, whose answer may be stored in the edge cache
/// after it is sent); `headers` is `name\nvalue\n` for each header (HTTP header names and
/// values hold no newline); `body_error` is set when the platform's body stream failed
/// (then `body` is what arrived before). The entry module reads at most
/// [`body_read_limit`] bytes ([`upload_read_limit`] for a catalog upload).
///
/// Returns the status and headers as a string `status\nname\nvalue\n…`, the body kept for
/// [`take_body`] (two plain values, no wrapper object for the runtime to track); or, when
/// a layer had to wait for the platform, a `Promise` of the array `[head, body]`.
#[wasm_bindgen]
pub fn answer(
    env: &Env,
    execution: &worker::worker_sys::Context,
    method: &str,
    path_and_query: &str,
    headers: &str,
    body: Vec<u8>,
    body_error: Option<String>,
) -> JsValue {
    let ctx = request_context();
    let mut request = match to_http(method, path_and_query, headers, body, body_error) {
        Ok(request) => request,
        Err(failure) => {
            let id = ctx.fresh_request_id();
            console_error!("request {id}: {} {:?}", failure.message, failure.details);
            return now(failure.to_response(&id, &ctx));
        }
    };
    let stack = STACK.with(|stack| match stack.get_or_init(|| assemble(env)) {
        Ok((stack, _)) => Ok(stack.clone()),
        Err(e) => {
            let id = ctx.fresh_request_id();
            console_error!("request {id}: invalid worker configuration: {e}");
            Err(now(ApiError::from(e).to_response(&id, &ctx)))
        }
    });
    let stack = match stack {
        Ok(stack) => stack,
        Err(answer) => return answer,
    };
    let connection = Connection {
        peer: client_address(&request),
    };
    // Only a request that presents a key can be a tenant's, and only a tenant's answer
    // may be stored in the edge cache after it is sent. Anonymous requests (most) keep
    // nothing of the context: borrowed, it costs them no crossing back into JS to drop.
    let keyed = request.headers().contains_key(http::header::AUTHORIZATION)
        || request.headers().contains_key("x-api-key");
    if keyed {
        let owned = JsValue::clone(execution.as_ref()).unchecked_into();
        let context = worker::Context::new(owned);
        request
            .extensions_mut()
            .insert(cache::WaitUntil(Arc::new(context)));
    }
    match aicr_stack::now_or_later(stack.answer(request, ctx, connection)) {
        Ok(response) => now(response),
        Err(later) => future_to_promise(async move {
            let (head, body) = split(later.await);
            let body = Uint8Array::from(body.as_slice());
            Ok(Array::of2(&JsValue::from(head), &body).into())
        })
        .into(),
    }
}

/// A synchronous answer: the head, the body kept for [`take_body`].
fn now(response: http::Response<Vec<u8>>) -> JsValue {
    let (head, body) = split(response);
    BODY.with(|b| *b.borrow_mut() = body);
    JsValue::from(head)
}

/// The answer as its head (`status\nname\nvalue\n…`) and its body.
///
/// Each name appears once (repeated values joined with `, `, as HTTP allows for every
/// header the stack writes), so the entry module can hand the runtime a plain object. The
/// runtime derives `Content-Length` from a body it is given, so the head carries it only
/// when there is no body (a HEAD answer states the length of the GET's).
fn split(response: http::Response<Vec<u8>>) -> (String, Vec<u8>) {
    let (parts, body) = response.into_parts();
    let mut head = String::with_capacity(512);
    head.push_str(parts.status.as_str());
    head.push('\n');
    for name in parts.headers.keys() {
        if *name == http::header::CONTENT_LENGTH && !body.is_empty() {
            continue;
        }
        let mut values = parts.headers.get_all(name).iter();
        // The stack only writes visible ASCII; anything else would be its bug, not a client's.
        let Some(first) = values.next().and_then(|v| v.to_str().ok()) else {
            continue;
        };
        head.push_str(name.as_str());
        head.push('\n');
        head.push_str(first);
        for value in values.filter_map(|v| v.to_str().ok()) {
            head.push_str(", ");
            head.push_str(value);
        }
        head.push('\n');
    }
    (head, body)
}

/// The client's address as the platform reports it. `CF-Connecting-IP` is set by the
/// platform on every request it forwards, replacing any a client sent; `X-Forwarded-For`
/// is the client's to write and is only believed from trusted proxies (none by default).
fn client_address(request: &http::Request<Vec<u8>>) -> Option<IpAddr> {
    request
        .headers()
        .get("cf-connecting-ip")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
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

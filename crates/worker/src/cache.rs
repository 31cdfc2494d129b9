//! Edge caching of answers from tenants' catalogs: the platform's Cache API
//! (`caches.default`), shared by every isolate of the worker in a location.
//!
//! An isolate already keeps its rendered answers (the API's memo), so the shared cache
//! helps where that memo is empty: in every new isolate, after a deploy, and for the many
//! criteria one isolate sees once. It is used for `GET` and `HEAD` of `/v1/recipe`,
//! `/v1/query`, `/v2/recipe` and `/v2/query` answered from a tenant's active catalog. It is
//! not used for anonymous callers and tenants without a catalog of their own: those are
//! answered synchronously from the built-in catalog, and a cache lookup (a promise the
//! request must wait for) would cost them more than the memo hit it could replace.
//!
//! The key is the answer's strong ETag ([`aicr_api::Api::representation_tag`]: a hash of
//! the engine and API versions, [`aicr_api::BUILD_IDENTITY`], the catalog's digest, the
//! route, the normalised criteria and selector, and the negotiated format), under the
//! request's host. So keys are few and stable (`gpu=H100` and `accelerator=h100` share
//! one), a new catalog or engine never meets an old entry, and tenants whose layered
//! catalogs are identical share entries, rightly, since their bytes are too.
//!
//! The API's caching headers decide: only a `200` to a `GET` whose `Cache-Control` is
//! `public` with a positive `max-age` is stored, for that long; errors, `no-store` (stale
//! answers among them) and `POST` answers never are. A hit is the stored answer with this
//! request's id; a matching `If-None-Match` makes it a `304` as the API would answer.
//! Stores run after the answer is sent (`waitUntil`). Where the platform has no Cache API
//! the worker does without it; on `*.workers.dev` hosts the platform's cache stores
//! nothing, so every lookup there is a miss.

use aicr_api::RequestContext;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use worker::js_sys::{Reflect, global};
use worker::wasm_bindgen::JsValue;
use worker::{Cache, console_error};

/// The response header that says whether the edge cache answered: `hit` or `miss`.
pub const CACHE_HEADER: HeaderName = HeaderName::from_static("x-aicr-cache");

/// The platform's `ExecutionContext`, for work that outlives the answer (a cache store).
/// In the request's extensions.
#[derive(Clone)]
pub struct WaitUntil(pub Arc<worker::Context>);

/// Whether this isolate has the Cache API (`caches.default`).
pub fn available() -> bool {
    let has = |target: &JsValue, name: &str| {
        Reflect::get(target, &JsValue::from_str(name))
            .ok()
            .filter(|v| v.is_object())
    };
    has(&global(), "caches").is_some_and(|caches| has(&caches, "default").is_some())
}

/// The cache key of the answer tagged `tag` to `request`: a URL on the request's host
/// (the platform partitions its cache by zone), `None` when the request names no usable
/// host.
pub fn key(request: &Request<Vec<u8>>, tag: &str) -> Option<String> {
    let host = request.headers().get(header::HOST)?.to_str().ok()?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
    };
    let tag = tag.trim_matches('"');
    (plain(host) && plain(tag)).then(|| format!("https://{host}/.aicr-cache/{tag}"))
}

/// The stored answer for `key`, as the answer to `request`; `None` on a miss. A cache
/// that fails is logged and counts as a miss.
pub async fn lookup(key: &str, request: &Request<Vec<u8>>) -> Option<Response<Vec<u8>>> {
    let mut stored = match Cache::default().get(key, false).await {
        Ok(stored) => stored?,
        Err(e) => {
            console_error!("edge cache lookup failed ({e}); answering without it");
            return None;
        }
    };
    if stored.status_code() != StatusCode::OK.as_u16() {
        return None;
    }
    let body = match stored.bytes().await {
        Ok(body) => body,
        Err(e) => {
            console_error!("edge cache entry unreadable ({e}); answering without it");
            return None;
        }
    };
    let mut response = Response::new(body);
    for (name, value) in stored.headers().entries() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    let ctx = RequestContext::of(request);
    if let Ok(id) = HeaderValue::from_str(&aicr_api::request_id(request, &ctx)) {
        response.headers_mut().insert(REQUEST_ID, id);
    }
    let etag = response
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let if_none_match = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if if_none_match.is_some_and(|list| matches_any(list, etag)) {
        // As the API answers a GET whose tag the client holds: no body, no type.
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response.body_mut().clear();
        response.headers_mut().remove(header::CONTENT_TYPE);
        response.headers_mut().remove(header::CONTENT_LENGTH);
    } else if request.method() == Method::HEAD {
        let length = HeaderValue::from(response.body().len());
        response.body_mut().clear();
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, length);
    }
    Some(response)
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// RFC 9110 §13.1.2 `If-None-Match`: `*`, or any listed tag equal to `etag` by weak
/// comparison.
fn matches_any(list: &str, etag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    !etag.is_empty()
        && list
            .split(',')
            .any(|t| t.trim() == "*" || opaque(t) == opaque(etag))
}

/// Whether the API's answer to `method` may be stored, by its own headers.
pub fn storable(method: &Method, response: &Response<Vec<u8>>) -> bool {
    let cache_control = response
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut public = false;
    let mut max_age = 0u64;
    for directive in cache_control.split(',').map(str::trim) {
        match directive.split_once('=') {
            Some((name, value)) if name.eq_ignore_ascii_case("max-age") => {
                max_age = value.trim().parse().unwrap_or(0);
            }
            _ if directive.eq_ignore_ascii_case("public") => public = true,
            _ if directive.eq_ignore_ascii_case("no-store")
                || directive.eq_ignore_ascii_case("private") =>
            {
                return false;
            }
            _ => {}
        }
    }
    *method == Method::GET
        && response.status() == StatusCode::OK
        && response.headers().contains_key(header::ETAG)
        && public
        && max_age > 0
}

/// Stores `response` (the API's answer, before this host's headers) under `key` once the
/// answer has gone out. The request id is the one thing not kept: each hit gets its own.
pub fn store(wait: &WaitUntil, key: String, response: &Response<Vec<u8>>) {
    let headers = worker::Headers::new();
    for (name, value) in response.headers() {
        if name == REQUEST_ID {
            continue;
        }
        if let Ok(value) = value.to_str() {
            // Names and values came from http's checked types; the platform accepts them.
            let _ = headers.append(name.as_str(), value);
        }
    }
    let stored = worker::Response::builder()
        .with_status(response.status().as_u16())
        .with_headers(headers)
        .fixed(response.body().clone());
    wait.0.wait_until(async move {
        if let Err(e) = Cache::default().put(key.as_str(), stored).await {
            console_error!("edge cache store of {key} failed: {e}");
        }
    });
}

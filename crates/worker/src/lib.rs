//! # aicr-worker — the API at the edge
//!
//! A workers-rs `fetch` handler that only adapts types: it turns a `worker::Request` into an
//! `http::Request<Vec<u8>>`, asks [`aicr_api::Api`] for the answer and turns the
//! `http::Response` back. Routing, statuses, headers, ETags and error bodies all live in
//! `aicr-api`, so this host and every other one answer byte for byte alike. The platform
//! supplies what the API deliberately does not own: the clock (`Date.now()`), randomness
//! (`crypto.getRandomValues`) and configuration (worker vars, see `wrangler.toml`).
//!
//! The explorer's static files never reach this code: wrangler's `assets` serve them, and
//! only API paths run the worker first (`run_worker_first` in `wrangler.toml`).

use aicr_api::{Api, ApiError, Config, ConfigError, Handler, MAX_BODY_BYTES, RequestContext};
use futures_util::StreamExt;
use worker::{Context, Date, Env, Headers, Request, Response, ResponseBuilder, Result, event};

/// Worker vars the API reads (see `Config::from_vars`).
fn config(env: &Env) -> std::result::Result<Config, ConfigError> {
    Config::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let ctx = request_context()?;
    let request = to_http(&mut req).await?;
    let response = match config(&env) {
        Ok(config) => Api::new(aicr_embedded_catalog::catalog(), config).handle(&request, &ctx),
        Err(e) => ApiError::from(&e).to_response(&ctx.fresh_request_id(), &ctx),
    };
    from_http(response)
}

/// The time and 16 random bytes the API needs for request ids and timestamps.
fn request_context() -> Result<RequestContext> {
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random)
        .map_err(|e| worker::Error::RustError(format!("crypto.getRandomValues: {e}")))?;
    Ok(RequestContext {
        unix_nanos: u128::from(Date::now().as_millis()) * 1_000_000,
        random,
    })
}

/// Copies method, path + query, headers and body. The body is read only up to one byte
/// past the API's limit: enough for the API to answer 413, without buffering a huge upload.
async fn to_http(req: &mut Request) -> Result<http::Request<Vec<u8>>> {
    let inner = req.inner();
    let url = req.url()?;
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let mut builder = http::Request::builder()
        .method(inner.method().as_str())
        .uri(path_and_query);
    for (name, value) in req.headers().entries() {
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    if inner.body().is_some() {
        let mut stream = req.stream()?;
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk?);
            if body.len() > MAX_BODY_BYTES {
                break;
            }
        }
    }
    builder
        .body(body)
        .map_err(|e| worker::Error::RustError(format!("unusable request: {e}")))
}

fn from_http(response: http::Response<Vec<u8>>) -> Result<Response> {
    let (parts, body) = response.into_parts();
    let headers = Headers::new();
    for (name, value) in &parts.headers {
        headers.append(name.as_str(), value.to_str().unwrap_or_default())?;
    }
    let builder = ResponseBuilder::new()
        .with_status(parts.status.as_u16())
        .with_headers(headers);
    // Null-body statuses (204, 304) and HEAD answers must not carry a body object at all.
    Ok(if body.is_empty() {
        builder.empty()
    } else {
        builder.fixed(body)
    })
}

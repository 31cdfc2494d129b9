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

//!
//! Nothing the platform hands over may turn into the platform's own plain-text 500: a URL,
//! header or body stream the adapter cannot read, or an answer header the platform refuses,
//! becomes the API's JSON error with an `X-Request-Id` (400 when the request's body is
//! broken, 500 otherwise), and the cause goes to the worker's log.

use aicr_api::{
    Api, ApiError, Config, ConfigError, ErrorCode, Handler, MAX_BODY_BYTES, RequestContext,
};
use futures_util::StreamExt;
use std::cell::OnceCell;
use worker::{
    Context, Date, Env, Headers, Request, Response, ResponseBuilder, Result, console_error, event,
};

thread_local! {
    /// The API, configured once per isolate: worker vars are fixed for a deployment, so
    /// reading and validating them on every request would only cost time.
    static API: OnceCell<std::result::Result<Api<'static>, ConfigError>> = const { OnceCell::new() };
}

/// Worker vars the API reads (see `Config::from_vars`).
fn api(env: &Env) -> std::result::Result<Api<'static>, ConfigError> {
    Config::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))
        .map(|config| Api::new(aicr_embedded_catalog::catalog(), config))
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let ctx = request_context();
    let response = match to_http(&mut req).await {
        Ok(request) => API.with(|api| match api.get_or_init(|| self::api(&env)) {
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
    from_http(response).or_else(|e| {
        let id = ctx.fresh_request_id();
        console_error!("request {id}: the platform refused the answer: {e}");
        from_http(
            ApiError::new(
                ErrorCode::Internal,
                "The answer could not be handed to the platform",
            )
            .to_response(&id, &ctx),
        )
    })
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

/// Copies method, path + query, headers and body. The body is read only up to one byte
/// past the API's limit: enough for the API to answer 413, without buffering a huge upload.
async fn to_http(req: &mut Request) -> std::result::Result<http::Request<Vec<u8>>, ApiError> {
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        ApiError::new(
            ErrorCode::Internal,
            format!("The worker could not read the request's {what}"),
        )
        .detail("error", e.to_string())
    };
    let url = req.url().map_err(|e| internal("URL", &e))?;
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let mut builder = http::Request::builder()
        .method(req.inner().method().as_str())
        .uri(path_and_query);
    for (name, value) in req.headers().entries() {
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    if req.inner().body().is_some() {
        let mut stream = req.stream().map_err(|e| internal("body", &e))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request("The request body could not be read to its end")
                    .detail("error", e.to_string())
            })?;
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BODY_BYTES {
                break;
            }
        }
    }
    builder.body(body).map_err(|e| {
        ApiError::bad_request("The request cannot be represented in HTTP")
            .detail("error", e.to_string())
    })
}

fn from_http(response: http::Response<Vec<u8>>) -> Result<Response> {
    let (parts, body) = response.into_parts();
    let headers = Headers::new();
    for (name, value) in &parts.headers {
        let value = value
            .to_str()
            .map_err(|e| worker::Error::RustError(format!("header {name}: {e}")))?;
        headers.append(name.as_str(), value)?;
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

//! `wasi:http/incoming-handler`: wasi:http request → `http::Request` → [`Api::handle`] →
//! `http::Response` → wasi:http response. Type adaptation only; every route, status and
//! header comes from `aicr-api`. The host supplies the clock (wall clock via std) and the
//! request-id randomness (`wasi:random`).

use crate::Component;
use crate::exports::wasi::http::incoming_handler::Guest;
use crate::wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam, Scheme,
};
use crate::wasi::io::streams::StreamError;
use aicr_api::{Api, ApiError, Config, ConfigError, Handler, MAX_BODY_BYTES, RequestContext};
use std::sync::OnceLock;

/// Largest chunk `blocking-write-and-flush` accepts (wasi:io guarantees 4096).
const WRITE_CHUNK: usize = 4096;

/// The API over the embedded catalog, configured once from the component's environment
/// (`AICR_ALLOWED_*`, `AICR_CACHE_MAX_AGE`; `wasmtime serve --env`). A value it cannot use
/// makes every request a 500 naming the variable, as the edge worker answers.
fn api() -> Result<&'static Api<'static>, &'static ConfigError> {
    static API: OnceLock<Result<Api<'static>, ConfigError>> = OnceLock::new();
    API.get_or_init(|| {
        Config::from_vars(|name| std::env::var(name).ok())
            .map(|config| Api::new(crate::resolver::catalog(), config))
    })
    .as_ref()
}

fn context() -> RequestContext {
    let unix_nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut random = [0u8; 16];
    let bytes = crate::wasi::random::random::get_random_bytes(16);
    random.copy_from_slice(&bytes[..16]);
    RequestContext { unix_nanos, random }
}

fn method(m: Method) -> http::Method {
    let name = match &m {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => other,
    };
    http::Method::from_bytes(name.as_bytes()).unwrap_or(http::Method::GET)
}

/// Reads the body, stopping one byte past the API's limit (the API answers 413 then).
fn read_body(request: &IncomingRequest) -> Vec<u8> {
    let mut body = Vec::new();
    let Ok(incoming) = request.consume() else {
        return body;
    };
    if let Ok(stream) = incoming.stream() {
        while body.len() <= MAX_BODY_BYTES {
            match stream.blocking_read((MAX_BODY_BYTES + 1 - body.len()) as u64) {
                Ok(chunk) => body.extend_from_slice(&chunk),
                Err(StreamError::Closed) | Err(StreamError::LastOperationFailed(_)) => break,
            }
        }
    }
    body
}

fn to_http(request: &IncomingRequest) -> http::Request<Vec<u8>> {
    let scheme = match request.scheme() {
        Some(Scheme::Https) => "https",
        _ => "http",
    };
    let authority = request.authority().unwrap_or_else(|| "localhost".into());
    let path = request.path_with_query().unwrap_or_else(|| "/".into());
    let mut builder = http::Request::builder()
        .method(method(request.method()))
        .uri(format!("{scheme}://{authority}{path}"));
    for (name, value) in request.headers().entries() {
        builder = builder.header(name, value);
    }
    let body = read_body(request);
    builder.body(body).unwrap_or_else(|_| {
        // Only a URI the http crate rejects gets here; hand the API its path alone.
        let mut fallback = http::Request::new(Vec::new());
        *fallback.uri_mut() = path.parse().unwrap_or_default();
        fallback
    })
}

fn send(response: http::Response<Vec<u8>>, out: ResponseOutparam) {
    let (parts, body) = response.into_parts();
    let entries: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let headers = Fields::from_list(&entries).unwrap_or_else(|_| Fields::new());
    let outgoing = OutgoingResponse::new(headers);
    // Any status `http` produced is in wasi:http's range.
    let _ = outgoing.set_status_code(parts.status.as_u16());
    let Ok(outgoing_body) = outgoing.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(outgoing));
    if let Ok(stream) = outgoing_body.write() {
        for chunk in body.chunks(WRITE_CHUNK) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing_body, None);
}

impl Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let request = to_http(&request);
        let ctx = context();
        let response = match api() {
            Ok(api) => api.handle(&request, &ctx),
            Err(e) => ApiError::from(e).to_response(&ctx.fresh_request_id(), &ctx),
        };
        send(response, response_out);
    }
}

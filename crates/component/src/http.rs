//! `wasi:http/incoming-handler`: wasi:http request → `http::Request` → [`Api::handle`] →
//! `http::Response` → wasi:http response. Type adaptation only; every route, status and
//! header comes from `aicr-api`. The host supplies the clock (wall clock via std) and the
//! request-id randomness (`wasi:random`).
//!
//! The adaptation is strict, because each shortcut here once changed what a request meant:
//!
//! - The request's URI is its path and query, nothing else. The authority is what the
//!   client put in `Host` (hosts fill `authority` from it); it routes nothing in this API,
//!   and gluing it into the URI let `Host: evil/../x` change the route and a Host with a
//!   space make the URI unparsable.
//! - A request `http` cannot represent (no path, a path, method or header it rejects, a
//!   body that cannot be read) is answered 400 with the API's error body, never handed on
//!   as some other request (it used to become a `GET /`).
//! - The answer frames its own body: wasi:http hosts count the bytes written against
//!   `Content-Length` and fail the body when they differ, so a `Content-Length` that does
//!   not describe the bytes written (a HEAD answer carries the GET body's length over an
//!   empty body) is left out.
//! - A header the host refuses turns the answer into a 500 with the API's error body (a
//!   recipe without its `ETag` or `Content-Type` is not the same answer); the 500 leaves
//!   out whichever of its own headers the host refuses too. Failures after
//!   the answer has started (writing or finishing the body) cannot change it any more;
//!   they are written to stderr with the request id, where the host's log shows them.

use crate::Component;
use crate::exports::wasi::http::incoming_handler::Guest;
use crate::wasi::http::types::{
    ErrorCode as WasiErrorCode, Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse,
    ResponseOutparam,
};
use crate::wasi::io::streams::{OutputStream, StreamError};
use aicr_api::{Api, ApiError, Config, ConfigError, ErrorCode, MAX_BODY_BYTES, RequestContext};
use aicr_stack::{Connection, Gcra, HostOptions, Policy, Stack};
use http::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use std::cell::OnceCell;
use std::io::Write;

/// The header the API names every answer's request id in.
const REQUEST_ID: &str = "x-request-id";

/// The stack over the API and the embedded catalog, configured once from the component's
/// environment (`AICR_ALLOWED_*`, `AICR_CACHE_MAX_AGE`, the stack's `AICR_KEY_SECRET`,
/// `AICR_TENANTS`, …; `wasmtime serve --env`). A value it cannot use makes every request
/// a 500 naming the variable, as the edge worker answers.
///
/// Compression is on (wasi:http hosts do not compress). Rate-limit counts live in this
/// instance's memory: they hold across requests on hosts that reuse an instance, but
/// `wasmtime serve` makes one instance per request, where no count survives — limit in
/// front of it (HAProxy, the native server). wasi:http 0.2 gives no peer address, so
/// anonymous callers share one bucket here. `AICR_HSTS=on` adds HSTS behind a TLS proxy.
fn stack() -> Result<Stack, ConfigError> {
    thread_local! {
        static STACK: OnceCell<Result<Stack, ConfigError>> = const { OnceCell::new() };
    }
    STACK.with(|stack| {
        stack
            .get_or_init(|| {
                let var = |name: &str| std::env::var(name).ok();
                let api = Api::new(crate::resolver::catalog(), Config::from_vars(var)?);
                let options = HostOptions {
                    hsts: var("AICR_HSTS").is_some_and(|v| v == "on"),
                    compress: true,
                };
                Ok(Stack::new(
                    api,
                    Policy::from_vars(var)?,
                    Some(Gcra::default()),
                    options,
                ))
            })
            .clone()
    })
}

fn context() -> RequestContext {
    let unix_nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut random = [0u8; 16];
    let bytes = crate::wasi::random::random::get_random_bytes(16);
    random.iter_mut().zip(bytes).for_each(|(r, b)| *r = b);
    RequestContext { unix_nanos, random }
}

/// Writes a failure the answer can no longer carry to stderr, for the host's log.
fn report(request_id: &str, what: &str) {
    // Nothing is left to tell if stderr itself fails.
    let _ = writeln!(std::io::stderr(), "aicr: request {request_id}: {what}");
}

fn method(m: Method) -> Result<http::Method, ApiError> {
    Ok(match m {
        Method::Get => http::Method::GET,
        Method::Head => http::Method::HEAD,
        Method::Post => http::Method::POST,
        Method::Put => http::Method::PUT,
        Method::Delete => http::Method::DELETE,
        Method::Connect => http::Method::CONNECT,
        Method::Options => http::Method::OPTIONS,
        Method::Trace => http::Method::TRACE,
        Method::Patch => http::Method::PATCH,
        Method::Other(other) => http::Method::from_bytes(other.as_bytes()).map_err(|e| {
            ApiError::bad_request("The request method is not an HTTP method token")
                .detail("error", e.to_string())
        })?,
    })
}

/// The URI the API routes on: the request's path and query alone (see the module docs).
fn uri(path_with_query: Option<String>) -> Result<http::Uri, ApiError> {
    let path = path_with_query.ok_or_else(|| ApiError::bad_request("The request has no path"))?;
    let path = http::uri::PathAndQuery::try_from(path).map_err(|e| {
        ApiError::bad_request("The request path is not a valid URI path")
            .detail("error", e.to_string())
    })?;
    Ok(http::Uri::from(path))
}

/// Method, URI and headers as `http` holds them, from wasi:http's plain values (kept
/// apart from the resource calls so the rules can be unit-tested natively).
fn request_head(
    method: Method,
    path_with_query: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
) -> Result<http::request::Builder, ApiError> {
    let mut builder = http::Request::builder()
        .method(self::method(method)?)
        .uri(uri(path_with_query)?);
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| {
            ApiError::bad_request("A request header name is not valid in HTTP")
                .detail("error", e.to_string())
        })?;
        let value = HeaderValue::from_bytes(&value).map_err(|e| {
            ApiError::bad_request("A request header value is not valid in HTTP")
                .detail("header", name.as_str())
                .detail("error", e.to_string())
        })?;
        builder = builder.header(name, value);
    }
    Ok(builder)
}

/// Reads the body, stopping one byte past the API's limit (the API answers 413 then).
fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, ApiError> {
    let unreadable = |why: String| {
        ApiError::bad_request("The request body could not be read").detail("error", why)
    };
    let incoming = request
        .consume()
        .map_err(|()| unreadable("the host gave no body".into()))?;
    let stream = incoming
        .stream()
        .map_err(|()| unreadable("the host gave no body stream".into()))?;
    let mut body = Vec::new();
    while body.len() <= MAX_BODY_BYTES {
        match stream.blocking_read((MAX_BODY_BYTES + 1 - body.len()) as u64) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(unreadable(e.to_debug_string()));
            }
        }
    }
    Ok(body)
}

fn to_http(request: &IncomingRequest) -> Result<http::Request<Vec<u8>>, ApiError> {
    let head = request_head(
        request.method(),
        request.path_with_query(),
        request.headers().entries(),
    )?;
    // `request_head` checked method, URI and headers, so this cannot fail; if it ever
    // does, it is still the client's request that `http` refused.
    head.body(read_body(request)?).map_err(|e| {
        ApiError::bad_request("The request is not valid HTTP").detail("error", e.to_string())
    })
}

/// The answer's headers as wasi:http fields, one by one: those the host takes, and a
/// note naming each one it refuses.
fn fields(headers: &http::HeaderMap) -> (Fields, Vec<String>) {
    let fields = Fields::new();
    let refused = headers
        .iter()
        .filter_map(|(name, value)| {
            let refusal = fields.append(name.as_str(), value.as_bytes()).err()?;
            Some(format!(
                "the host refused the response header {name} ({refusal:?})"
            ))
        })
        .collect();
    (fields, refused)
}

/// The status, headers and body to send: the answer's own, or, if the host refuses one
/// of its headers, a 500 carrying the headers of it the host takes (the rest reported).
fn answer_parts(
    response: http::Response<Vec<u8>>,
    request_id: &str,
    ctx: &RequestContext,
) -> (http::StatusCode, Fields, Vec<u8>) {
    let (mut parts, body) = response.into_parts();
    let frames_body = parts
        .headers
        .get(CONTENT_LENGTH)
        .is_none_or(|v| v.as_bytes() == body.len().to_string().as_bytes());
    if !frames_body {
        parts.headers.remove(CONTENT_LENGTH);
    }
    let (headers, refused) = fields(&parts.headers);
    if refused.is_empty() {
        return (parts.status, headers, body);
    }
    report(
        request_id,
        &format!("{}; answering 500", refused.join("; ")),
    );
    let (parts, body) = ApiError::new(
        ErrorCode::Internal,
        "The host refused a header of the answer",
    )
    .detail("refused", refused)
    .to_response(request_id, ctx)
    .into_parts();
    let (headers, refused) = fields(&parts.headers);
    for refusal in refused {
        report(
            request_id,
            &format!("{refusal}; the 500 goes out without it"),
        );
    }
    (parts.status, headers, body)
}

/// Writes `body` in as few host calls as the host allows, then flushes once.
///
/// `blocking-write-and-flush` takes at most 4 KiB a call and waits for the host to send
/// each piece: two hand-overs to the host's sending task for a recipe. The host states how
/// much it takes at once (`check-write`; wasmtime: 1 MiB), so a recipe goes in one `write`,
/// and the one `blocking-flush` at the end waits for all of it.
fn write_all(stream: &OutputStream, mut body: &[u8]) -> Result<(), StreamError> {
    while !body.is_empty() {
        let permitted = usize::try_from(stream.check_write()?).unwrap_or(usize::MAX);
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let (now, rest) = body.split_at(permitted.min(body.len()));
        stream.write(now)?;
        body = rest;
    }
    stream.blocking_flush()
}

fn send(
    response: http::Response<Vec<u8>>,
    out: ResponseOutparam,
    request_id: &str,
    ctx: &RequestContext,
) {
    let (status, headers, body) = answer_parts(response, request_id, ctx);
    let outgoing = OutgoingResponse::new(headers);
    if outgoing.set_status_code(status.as_u16()).is_err() {
        report(request_id, &format!("the host refused status {status}"));
    }
    let outgoing_body = match outgoing.body() {
        Ok(b) => b,
        Err(()) => {
            let why = "the host gave the answer no body";
            report(request_id, why);
            ResponseOutparam::set(out, Err(WasiErrorCode::InternalError(Some(why.into()))));
            return;
        }
    };
    ResponseOutparam::set(out, Ok(outgoing));
    match outgoing_body.write() {
        Ok(stream) => {
            if let Err(e) = write_all(&stream, &body) {
                let why = match e {
                    StreamError::LastOperationFailed(e) => e.to_debug_string(),
                    StreamError::Closed => "the stream is closed".into(),
                };
                report(request_id, &format!("writing the body failed: {why}"));
            }
            // The stream is the body's child: it must be gone before `finish`.
            drop(stream);
        }
        Err(()) => report(request_id, "the host gave no body stream"),
    }
    if let Err(e) = OutgoingBody::finish(outgoing_body, None) {
        report(request_id, &format!("finishing the body failed: {e:?}"));
    }
}

impl Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let ctx = context();
        let response = match (to_http(&request), stack()) {
            (Ok(request), Ok(stack)) => {
                match aicr_stack::now_or_later(stack.answer(request, ctx, Connection::default())) {
                    Ok(response) => response,
                    // Every layer on this host answers at once (no platform call to wait
                    // for); an answer that would wait is this build's bug, not the client's.
                    Err(_) => ApiError::new(
                        ErrorCode::Internal,
                        "An answer had to wait on a host that cannot",
                    )
                    .to_response(&ctx.fresh_request_id(), &ctx),
                }
            }
            (Err(e), _) => e.to_response(&ctx.fresh_request_id(), &ctx),
            (_, Err(e)) => {
                let e = &e;
                // Clients see the variable and what it accepts; the log gets the value too.
                let id = ctx.fresh_request_id();
                report(&id, &format!("invalid configuration: {e}"));
                ApiError::from(e).to_response(&id, &ctx)
            }
        };
        // The API names the id it used (the client's, or the fresh one from `ctx`).
        let request_id = response
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| ctx.fresh_request_id(), str::to_owned);
        send(response, response_out, &request_id, &ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(
        method: Method,
        path: Option<&str>,
        headers: &[(&str, &[u8])],
    ) -> Result<http::Request<()>, ApiError> {
        let headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.to_vec()))
            .collect();
        request_head(method, path.map(str::to_owned), headers)
            .map(|b| b.body(()).expect("request_head checked every part"))
    }

    fn refused(result: Result<http::Request<()>, ApiError>) -> String {
        match result {
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InvalidRequest);
                e.message
            }
            Ok(r) => panic!("accepted {r:?}"),
        }
    }

    #[test]
    fn a_usable_request_keeps_its_method_path_query_and_headers() {
        let purge = Method::Other("PURGE".into());
        let r = head(
            purge,
            Some("/v1/recipe?service=eks"),
            &[("x-a", b"\x80 ok")],
        )
        .unwrap();
        assert_eq!(r.method().as_str(), "PURGE");
        assert_eq!(r.uri(), "/v1/recipe?service=eks");
        assert_eq!(r.headers()["x-a"].as_bytes(), b"\x80 ok");
    }

    #[test]
    fn an_unusable_request_is_a_400_not_a_get_of_the_root() {
        assert_eq!(
            refused(head(Method::Get, None, &[])),
            "The request has no path"
        );
        // An absolute URI in the path slot must not route to its path on another host.
        for path in [
            "/a b",
            "/\u{7f}",
            "/v1/recipe?x=\n",
            "http://evil/v1/recipe",
        ] {
            let message = refused(head(Method::Post, Some(path), &[]));
            assert_eq!(
                message, "The request path is not a valid URI path",
                "{path:?}"
            );
        }
        let message = refused(head(Method::Other("GET /".into()), Some("/"), &[]));
        assert_eq!(message, "The request method is not an HTTP method token");
        let message = refused(head(Method::Get, Some("/"), &[("bad name", b"x")]));
        assert_eq!(message, "A request header name is not valid in HTTP");
        let message = refused(head(Method::Get, Some("/"), &[("x-a", b"a\nb")]));
        assert_eq!(message, "A request header value is not valid in HTTP");
    }
}

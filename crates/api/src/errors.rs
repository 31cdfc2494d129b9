//! The error body every failure answers with: `{code, message, details?, requestId,
//! timestamp, retryable}` (upstream's shape), the status each code maps to, and the bounds
//! on what of the client's input an error may repeat.
//!
//! Every client value an error echoes goes through [`truncate`] (a value on its own) or
//! [`elide_quoted`] / [`parser_message`] (a message that quotes the value): an error body
//! never carries more than [`ECHO_LIMIT`] bytes of anything the client sent, so a hostile
//! 64 KiB value costs the client, not the server, and never lands whole in logs or caches.

use crate::context::RequestContext;
use aicr_recipe::CriteriaError;
use http::StatusCode;
use serde_json::{Map, Value, json};

/// Machine-readable error codes (upstream's, plus the ones our extra checks need).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    /// No usable credentials where the route needs them (401, with `WWW-Authenticate`).
    Unauthorized,
    /// Credentials are good, but their tenant may not do this (403; ours, upstream has none).
    Forbidden,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    PreconditionFailed,
    /// Over a rate limit (429, with `Retry-After`); retrying later succeeds.
    RateLimitExceeded,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::PreconditionFailed => "PRECONDITION_FAILED",
            ErrorCode::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ErrorCode::RateLimitExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether retrying the same request can succeed (5xx and 429, as upstream).
    pub fn retryable(self) -> bool {
        self.status().is_server_error() || self == ErrorCode::RateLimitExceeded
    }
}

/// A failed request: code, a one-line message, structured details, extra headers.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Map<String, Value>,
    /// Extra response headers, e.g. `Allow` on 405.
    pub headers: Vec<(http::HeaderName, String)>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: Map::new(),
            headers: Vec::new(),
        }
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    pub fn header(mut self, name: http::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }

    /// A 400 for a bad criteria value: message plus `{parameter, value, allowed, error}`.
    pub fn criteria(message: &str, e: &CriteriaError) -> Self {
        let mut err = ApiError::bad_request(message)
            .detail("parameter", e.field.as_str())
            .detail("value", truncate(&e.value))
            .detail("error", elide_quoted(&e.to_string()));
        let allowed = e.allowed();
        if !allowed.is_empty() {
            err = err.detail("allowed", allowed);
        }
        err
    }

    pub fn method_not_allowed(method: &http::Method, allowed: &[&str]) -> Self {
        ApiError::new(ErrorCode::MethodNotAllowed, "Method not allowed")
            .detail("method", truncate(method.as_str()))
            .detail("allowed", allowed)
            .header(http::header::ALLOW, allowed.join(", "))
    }

    /// A 412: a POST whose `If-None-Match` matches the representation it would get
    /// (RFC 9110 §13.1.2: only GET and HEAD answer a false condition with 304).
    pub fn precondition_failed(etag: &str) -> Self {
        ApiError::new(ErrorCode::PreconditionFailed, "Precondition failed")
            .detail("header", "If-None-Match")
            .detail("etag", etag)
            .detail(
                "error",
                "If-None-Match matches the representation this request would get; \
                 only GET and HEAD are answered 304, other methods 412",
            )
    }

    /// The whole answer: status, JSON body, `Content-Type`, `Cache-Control: no-store` (an
    /// error is about one request, never a representation to reuse), the error's extra
    /// headers, and the headers of every answer (`X-Request-Id`, `X-API-Version`,
    /// `nosniff`). Hosts use it for failures of their own (unusable configuration, a
    /// request they cannot read) so those look like every other error.
    pub fn to_response(&self, request_id: &str, ctx: &RequestContext) -> http::Response<Vec<u8>> {
        let mut bytes =
            serde_json::to_vec(&self.body(request_id, &ctx.timestamp())).unwrap_or_default();
        bytes.push(b'\n');
        let mut response = http::Response::new(bytes);
        *response.status_mut() = self.code.status();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        headers.insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static(NO_STORE),
        );
        for (name, value) in &self.headers {
            if let Ok(v) = http::HeaderValue::from_str(value) {
                headers.insert(name.clone(), v);
            }
        }
        crate::handler::stamp(&mut response, request_id);
        response
    }

    /// The JSON body.
    pub fn body(&self, request_id: &str, timestamp: &str) -> Value {
        let mut body = json!({ "code": self.code.as_str(), "message": self.message });
        if !self.details.is_empty() {
            body["details"] = Value::Object(self.details.clone());
        }
        body["requestId"] = request_id.into();
        body["timestamp"] = timestamp.into();
        body["retryable"] = self.code.retryable().into();
        body
    }
}

/// `Cache-Control` of answers no cache may keep: errors, liveness, readiness, POST answers.
pub const NO_STORE: &str = "no-store";

/// Most bytes of one client value an error body repeats.
pub const ECHO_LIMIT: usize = 200;

/// Most bytes of a client value quoted inside a message: shorter than [`ECHO_LIMIT`] so the
/// message's own explanation (what was expected, where) fits beside it.
const QUOTED_LIMIT: usize = 64;

/// The longest prefix of `value` of at most `limit` bytes that ends on a character boundary.
fn prefix(value: &str, limit: usize) -> &str {
    &value[..value.floor_char_boundary(limit)]
}

/// A client value echoed on its own (`details.value`, `details.pair`, …): at most
/// [`ECHO_LIMIT`] bytes of it, then how long it was (upstream echoed 10k characters back).
pub fn truncate(value: &str) -> String {
    if value.len() <= ECHO_LIMIT {
        return value.to_owned();
    }
    format!(
        "{}… ({} bytes in all)",
        prefix(value, ECHO_LIMIT),
        value.len()
    )
}

/// A message with every quoted span (`"…"` with backslash escapes, as `{:?}` writes
/// values, or `` `…` ``, as serde writes field names) cut to [`QUOTED_LIMIT`] bytes.
/// Exact for messages that quote client values with `{:?}` (criteria and selector errors);
/// see [`parser_message`] for messages that may not.
pub fn elide_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4 * ECHO_LIMIT));
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = rest.as_bytes()[open];
        out.push_str(&rest[..=open]);
        let body = &rest[open + 1..];
        let mut escaped = false;
        let close = body.bytes().position(|b| {
            let end = b == quote && !escaped;
            escaped = quote == b'"' && b == b'\\' && !escaped;
            end
        });
        let (span, after) = match close {
            Some(close) => (&body[..close], &body[close..]),
            None => (body, ""),
        };
        out.push_str(prefix(span, QUOTED_LIMIT));
        if span.len() > QUOTED_LIMIT {
            out.push('…');
        }
        match after.chars().next() {
            Some(c) => {
                out.push(c);
                rest = &after[c.len_utf8()..];
            }
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// A parser's error message (serde_json, serde_norway) for an error body. Parsers quote
/// the offending input, and serde's backtick quotes are not escaped, so a crafted field
/// name can split into many short "quoted" spans; eliding long spans keeps the message's
/// explanation, and the [`ECHO_LIMIT`] cut on the whole bounds what any input can reflect.
pub fn parser_message(error: &impl std::fmt::Display) -> String {
    truncate(&elide_quoted(&error.to_string()))
}

//! The error body every failure answers with: `{code, message, details?, requestId,
//! timestamp, retryable}` (upstream's shape) on `/v1` and the other unversioned paths,
//! RFC 9457 problem details (`application/problem+json`) under `/v2`; the status each code
//! maps to; and the bounds on what of the client's input an error may repeat.
//!
//! Both shapes carry the same facts from one [`ApiError`], so a fault answers with the same
//! status and the same details in either version: only the envelope differs. `/v1` keeps
//! upstream's envelope byte for byte (clients of upstream parse it); `/v2` uses the
//! standard one, which generic HTTP clients and gateways understand.
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
    /// The answer took longer than the host allows (504, upstream's `TIMEOUT`).
    Timeout,
    /// An uploaded tenant catalog does not pass the build's checks (422, `details.defects`
    /// names each defect; admin routes only, ours).
    InvalidCatalog,
    /// The request contradicts the state of what it addresses, e.g. a rollback with
    /// nothing to return to (409; admin routes only, ours).
    Conflict,
    /// A store the answer needs cannot be reached now (503; admin routes only, ours);
    /// retrying later can succeed.
    ServiceUnavailable,
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
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::InvalidCatalog => "INVALID_CATALOG",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::ServiceUnavailable => "SERVICE_UNAVAILABLE",
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
            ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::InvalidCatalog => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The RFC 9457 problem type: [`PROBLEM_TYPE_BASE`] and the code in lower case with
    /// dashes (`INVALID_REQUEST` is `…/problems/invalid-request`). An identifier to compare
    /// as a string; the README's problem type table documents each.
    pub fn problem_type(self) -> String {
        let code = self.as_str().to_ascii_lowercase().replace('_', "-");
        format!("{PROBLEM_TYPE_BASE}{code}")
    }

    /// The problem type's title: one short sentence, the same for every occurrence
    /// (RFC 9457 §3.1.3); what is particular to one request goes in `detail`.
    pub fn title(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "The request is not valid",
            ErrorCode::Unauthorized => "Credentials are missing or not valid",
            ErrorCode::Forbidden => "The credentials do not allow this request",
            ErrorCode::NotFound => "Nothing exists at this location",
            ErrorCode::MethodNotAllowed => "The route does not answer this method",
            ErrorCode::PayloadTooLarge => "The request body is too large",
            ErrorCode::PreconditionFailed => "A request precondition failed",
            ErrorCode::RateLimitExceeded => "Too many requests",
            ErrorCode::Internal => "The server failed to answer",
            ErrorCode::Timeout => "The answer took too long",
            ErrorCode::InvalidCatalog => "The catalog is not valid",
            ErrorCode::Conflict => "The request conflicts with the current state",
            ErrorCode::ServiceUnavailable => "A store the answer needs is unavailable",
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
        let body = self.body(request_id, &ctx.timestamp());
        self.answer(&body, "application/json", request_id)
    }

    /// The answer to a request for `path`: [`ApiError::to_problem_response`] under `/v2`
    /// ([`is_v2_path`]), [`ApiError::to_response`] everywhere else.
    pub fn to_response_for(
        &self,
        path: &str,
        request_id: &str,
        ctx: &RequestContext,
    ) -> http::Response<Vec<u8>> {
        if is_v2_path(path) {
            self.to_problem_response(request_id, ctx)
        } else {
            self.to_response(request_id, ctx)
        }
    }

    /// [`ApiError::to_response`] with an RFC 9457 body ([`ApiError::problem`]) as
    /// `application/problem+json` and `X-API-Version: v2`; status and other headers are
    /// the same.
    pub fn to_problem_response(
        &self,
        request_id: &str,
        ctx: &RequestContext,
    ) -> http::Response<Vec<u8>> {
        let members = self.problem_members(request_id, &ctx.timestamp());
        let mut response = self.answer(&Ordered(&members), PROBLEM_JSON, request_id);
        crate::v2::stamp(&mut response);
        response
    }

    /// RFC 9457 problem details: `type` ([`ErrorCode::problem_type`]), `title`
    /// ([`ErrorCode::title`]), `status`, `detail` (the message, then the `error` detail
    /// when there is one), `instance` (`urn:uuid:` and the request id); then, as extension
    /// members, `code` (the v1 code), every other detail under its own name (`parameter`,
    /// `value`, `allowed`, …), `requestId`, `timestamp` and `retryable`. A detail whose
    /// name a standard member already has stays under `details` instead of clobbering it.
    pub fn problem(&self, request_id: &str, timestamp: &str) -> Value {
        Value::Object(
            self.problem_members(request_id, timestamp)
                .into_iter()
                .collect(),
        )
    }

    /// The members of [`ApiError::problem`] in the order they are written: the standard
    /// ones first, so a reader sees what went wrong before the particulars.
    fn problem_members(&self, request_id: &str, timestamp: &str) -> Vec<(String, Value)> {
        let detail = match self.details.get("error") {
            Some(Value::String(error)) => format!("{}: {error}", self.message),
            _ => self.message.clone(),
        };
        let mut members: Vec<(String, Value)> = vec![
            ("type".into(), self.code.problem_type().into()),
            ("title".into(), self.code.title().into()),
            ("status".into(), self.code.status().as_u16().into()),
            ("detail".into(), detail.into()),
            ("instance".into(), format!("urn:uuid:{request_id}").into()),
            ("code".into(), self.code.as_str().into()),
        ];
        let mut clashing = Map::new();
        for (key, value) in &self.details {
            if key == "error" && value.is_string() {
                continue;
            }
            if PROBLEM_MEMBERS.contains(&key.as_str()) {
                clashing.insert(key.clone(), value.clone());
            } else {
                members.push((key.clone(), value.clone()));
            }
        }
        if !clashing.is_empty() {
            members.push(("details".into(), Value::Object(clashing)));
        }
        members.push(("requestId".into(), request_id.into()));
        members.push(("timestamp".into(), timestamp.into()));
        members.push(("retryable".into(), self.code.retryable().into()));
        members
    }

    /// Status, `body` as `content_type`, `no-store`, the error's own headers and those of
    /// every answer.
    fn answer(
        &self,
        body: &impl serde::Serialize,
        content_type: &'static str,
        request_id: &str,
    ) -> http::Response<Vec<u8>> {
        let mut bytes = serde_json::to_vec(body).unwrap_or_default();
        bytes.push(b'\n');
        let mut response = http::Response::new(bytes);
        *response.status_mut() = self.code.status();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
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

/// Members serialised as a JSON object in the given order.
struct Ordered<'a>(&'a [(String, Value)]);

impl serde::Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// The media type of RFC 9457 problem details, the error bodies under `/v2`.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Where the problem type URIs live ([`ErrorCode::problem_type`]).
pub const PROBLEM_TYPE_BASE: &str = "https://aicr-edge.dev/problems/";

/// The members a problem body always has, which no detail may replace.
const PROBLEM_MEMBERS: [&str; 10] = [
    "type",
    "title",
    "status",
    "detail",
    "instance",
    "code",
    "details",
    "requestId",
    "timestamp",
    "retryable",
];

/// Whether `path` is under `/v2`, whose errors are problem details (unknown paths too, so
/// a client of `/v2` never meets the v1 envelope).
pub fn is_v2_path(path: &str) -> bool {
    path == "/v2" || path.starts_with("/v2/")
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

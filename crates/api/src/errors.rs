//! The error body every failure answers with: `{code, message, details?, requestId,
//! timestamp, retryable}` (upstream's shape), and the status each code maps to.

use crate::context::RequestContext;
use aicr_recipe::CriteriaError;
use http::StatusCode;
use serde_json::{Map, Value, json};

/// Machine-readable error codes (upstream's, plus the ones our extra checks need).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    NotImplemented,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::NotImplemented => "NOT_IMPLEMENTED",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether retrying the same request can succeed (5xx, as upstream).
    pub fn retryable(self) -> bool {
        self.status().is_server_error() && self != ErrorCode::NotImplemented
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
            .detail("error", e.to_string());
        let allowed = e.allowed();
        if !allowed.is_empty() {
            err = err.detail("allowed", allowed);
        }
        err
    }

    pub fn method_not_allowed(method: &http::Method, allowed: &[&str]) -> Self {
        ApiError::new(ErrorCode::MethodNotAllowed, "Method not allowed")
            .detail("method", method.as_str())
            .detail("allowed", allowed)
            .header(http::header::ALLOW, allowed.join(", "))
    }

    /// The whole answer: status, JSON body, `Content-Type` and the error's extra headers.
    /// Hosts use it for failures of their own (e.g. unusable configuration) so those look
    /// like every other error.
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
        for (name, value) in &self.headers {
            if let Ok(v) = http::HeaderValue::from_str(value) {
                headers.insert(name.clone(), v);
            }
        }
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

/// Client values echoed in errors are cut to a readable length (upstream echoed 10k
/// characters back).
pub fn truncate(value: &str) -> String {
    const LIMIT: usize = 200;
    if value.len() <= LIMIT {
        return value.to_owned();
    }
    let mut end = LIMIT;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &value[..end], value.len())
}

//! `/ready` while the server drains. The API is always ready (its catalog is in memory),
//! but a process that has been told to stop is not: from the signal on, `GET /ready`
//! answers 503 so load balancers and Kubernetes take the instance out of rotation during
//! the drain delay, while every other route is still served. A service inside the stack,
//! so the answer has every header any other answer has.

use crate::catalogs::Answer;
use aicr_api::RequestContext;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tower_service::Service;

/// Answers `/ready` with 503 once `draining` is set; everything else goes to `inner`.
#[derive(Clone)]
pub struct Readiness<S> {
    pub inner: S,
    pub draining: Arc<AtomicBool>,
}

/// Upstream's not-ready body (`{"status":"not_ready","reason":…}`), with our reason.
fn not_ready(request: &Request<Vec<u8>>) -> Response<Vec<u8>> {
    let ctx = RequestContext::of(request);
    let mut body = serde_json::to_vec(&serde_json::json!({
        "status": "not_ready",
        "reason": "shutting down",
        "timestamp": ctx.timestamp(),
    }))
    .unwrap_or_default();
    body.push(b'\n');
    let len = body.len();
    if request.method() == Method::HEAD {
        body.clear();
    }
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert("x-api-version", HeaderValue::from_static("v1"));
    if let Ok(id) = HeaderValue::from_str(&aicr_api::request_id(request, &ctx)) {
        headers.insert("x-request-id", id);
    }
    response
}

impl<S> Service<Request<Vec<u8>>> for Readiness<S>
where
    S: Service<Request<Vec<u8>>, Response = Response<Vec<u8>>, Error = Infallible, Future = Answer>,
{
    type Response = Response<Vec<u8>>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Vec<u8>>) -> Answer {
        let probe = request.uri().path() == "/ready"
            && matches!(*request.method(), Method::GET | Method::HEAD);
        if probe && self.draining.load(Ordering::Relaxed) {
            return Answer::Now(Some(not_ready(&request)));
        }
        self.inner.call(request)
    }
}

//! # aicr-stack — one HTTP stack for every host
//!
//! The edge worker, the wasi:http component and the native server answer through this
//! one stack, assembled in [`Stack::new`]: the pure [`aicr_api::Api`] is the innermost
//! tower `Service`, and every cross-cutting policy is a tower `Layer` around it. A host
//! adapts its request type to `http::Request<Vec<u8>>`, puts in what only it has (the
//! clock and randomness as [`aicr_api::RequestContext`], the peer as [`Connection`]), and
//! supplies a [`RateLimitBackend`] that fits its lifetime model. No host repeats a policy.
//!
//! Outermost first:
//!
//! | layer | what | from |
//! |---|---|---|
//! | trace | W3C `traceparent` continued or started, echoed on every answer | ours ([`trace`]) |
//! | security headers | `nosniff`, `Referrer-Policy`, `X-Frame-Options`, a `Content-Security-Policy` for API answers, HSTS where the host serves TLS | tower-http `SetResponseHeaderLayer` |
//! | compression | br / gzip by `Accept-Encoding`, ≥ 1 KiB textual bodies, hosts without platform compression | ours ([`compress`]: buffered bodies, no tokio) |
//! | CORS | origin allowlist, preflight 204, `Vary: Origin`, no credentials | tower-http `CorsLayer`, wrapped ([`cors`]) |
//! | authentication | API keys (HMAC-stored), signed requests, replay guard, tenant routes and origins | tower-http `ValidateRequestHeaderLayer` with our decision ([`auth`]) |
//! | rate limits | per tenant, else per trusted client address; 429 with `Retry-After`, `RateLimit-*` | ours ([`limit`]), counts in governor's GCRA or the edge's binding |
//! | API | routes, validation, ETags, errors | `aicr-api` (or any inner service: [`Stack::around`]) |
//!
//! Timers (timeouts, request tracing) need a clock the wasm hosts do not share with tokio;
//! they belong to the native server, which adds them outside this stack.

pub mod auth;
pub mod client;
#[cfg(feature = "compression")]
pub mod compress;
pub mod cors;
pub mod hook;
pub mod keys;
pub mod limit;
pub mod policy;
pub mod trace;

pub use auth::Principal;
pub use client::Connection;
#[cfg(feature = "gcra")]
pub use limit::Gcra;
pub use limit::{Decision, RateLimitBackend};
pub use policy::{Limit, Policy, Tenant};
pub use trace::{AccessRecord, TraceContext};

use aicr_api::{Api, ApiError, RequestContext};
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::ServiceBuilder;
use tower::util::option_layer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::validate_request::ValidateRequestHeaderLayer;
use tower_service::Service;

/// A future the host can await: `Send` on native hosts (a multi-threaded runtime moves
/// it between threads), not on wasm, where the edge's platform futures are not.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// A future the host can await (wasm: single-threaded, platform futures are not `Send`).
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + 'static>>;

/// `Send` where [`BoxFuture`] must be, nothing on wasm.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send> MaybeSend for T {}
/// `Send` where [`BoxFuture`] must be, nothing on wasm.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T> MaybeSend for T {}

/// What differs between hosts in how the stack is assembled.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostOptions {
    /// Send `Strict-Transport-Security`: the host is only reached over TLS (the edge; a
    /// server with TLS or behind a TLS ingress).
    pub hsts: bool,
    /// Compress answers (hosts whose platform does not).
    pub compress: bool,
}

/// The `Content-Security-Policy` of API answers: JSON, YAML and zips render nothing.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// The `Content-Security-Policy` of the explorer page: its own scripts, styles and wasm,
/// nothing from anywhere else (hosts that serve the page send it). The hash is the page's
/// inline boot script's (`www/index.html`), which must run before any file arrives;
/// `tests/worker-e2e` fails when the page's inline scripts and these hashes part.
pub const EXPLORER_CSP: &str = "default-src 'none'; \
     script-src 'self' 'wasm-unsafe-eval' 'sha256-52jKNppcpQfrlHriJNF4g+0AZFD3yG0hKjhXRvoRXKU='; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";
/// HSTS value: two years, subdomains included.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// A refusal by a layer (or by a host's own service inside the stack) as the API would
/// answer it: same body shape (upstream's under `/v1`, RFC 9457 problem details under
/// `/v2`), request id and headers.
pub fn error_response(request: &Request<Vec<u8>>, error: ApiError) -> Response<Vec<u8>> {
    let ctx = RequestContext::of(request);
    let id = aicr_api::request_id(request, &ctx);
    error.to_response_for(request.uri().path(), &id, &ctx)
}

/// The assembled stack's entry point, shareable between threads where hosts have them.
#[cfg(not(target_arch = "wasm32"))]
type Entry = dyn Fn(Request<Vec<u8>>) -> BoxFuture<Response<Vec<u8>>> + Send + Sync;
/// The assembled stack's entry point (wasm: one thread).
#[cfg(target_arch = "wasm32")]
type Entry = dyn Fn(Request<Vec<u8>>) -> BoxFuture<Response<Vec<u8>>>;

/// `Sync` where the stack is shared between threads, nothing on wasm.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync> MaybeSync for T {}
/// `Sync` where the stack is shared between threads, nothing on wasm.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T> MaybeSync for T {}

/// The assembled stack. Cheap to clone (shared state behind `Arc`s); call it per request.
#[derive(Clone)]
pub struct Stack {
    call: Arc<Entry>,
}

impl Stack {
    /// Assembles the layers around `api`. `limiter` keeps rate-limit counts (`None`: the
    /// host cannot keep them, and no limit is applied; say so in the host's docs).
    pub fn new<B: RateLimitBackend + MaybeSync>(
        api: Api<'static>,
        policy: Policy,
        limiter: Option<B>,
        options: HostOptions,
    ) -> Stack {
        Stack::around(api, Arc::new(policy), limiter, options)
    }

    /// The same layers around another inner service (a server's admin routes, say), so
    /// every listener applies one policy the same way.
    pub fn around<S, B>(
        inner: S,
        policy: Arc<Policy>,
        limiter: Option<B>,
        options: HostOptions,
    ) -> Stack
    where
        S: Service<Request<Vec<u8>>, Response = Response<Vec<u8>>, Error = Infallible>
            + Clone
            + MaybeSend
            + MaybeSync
            + 'static,
        S::Future: MaybeSend + 'static,
        B: RateLimitBackend + MaybeSync,
    {
        let authorize = auth::Authorize {
            policy: policy.clone(),
        };
        let header = |name: HeaderName, value: &'static str| {
            SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
        };
        #[cfg(feature = "compression")]
        let compression = option_layer(
            options
                .compress
                .then_some(hook::HookLayer(compress::Compress)),
        );
        #[cfg(not(feature = "compression"))]
        let compression = {
            assert!(
                !options.compress,
                "aicr-stack was built without its compression feature"
            );
            tower_layer::Identity::new()
        };
        let service = ServiceBuilder::new()
            .layer(hook::HookLayer(trace::Trace))
            .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(header(header::REFERRER_POLICY, "no-referrer"))
            .layer(header(header::X_FRAME_OPTIONS, "DENY"))
            .layer(header(header::CONTENT_SECURITY_POLICY, API_CSP))
            .layer(option_layer(
                options
                    .hsts
                    .then(|| header(header::STRICT_TRANSPORT_SECURITY, HSTS)),
            ))
            .layer(compression)
            // Without any origin configured no browser may read cross-origin, and the
            // answers need neither CORS headers nor `Vary: Origin`.
            .layer(option_layer(
                policy
                    .any_cors_origin()
                    .then(|| cors::CorsLayer::new(policy.clone())),
            ))
            .layer(ValidateRequestHeaderLayer::custom(authorize))
            .layer(hook::HookLayer(trace::RecordPrincipal))
            .layer(option_layer(
                limiter.map(|b| limit::RateLimitLayer::new(policy.clone(), b)),
            ))
            .service(inner);
        Stack {
            call: Arc::new(move |request| {
                let mut service = service.clone();
                // Every layer is ready at once unless a backend says otherwise; then the
                // request waits for readiness inside its future.
                let mut cx = Context::from_waker(std::task::Waker::noop());
                if let Poll::Ready(Ok(())) = service.poll_ready(&mut cx) {
                    let answer = service.call(request);
                    return Box::pin(async move {
                        match answer.await {
                            Ok(response) => response,
                            Err(never) => match never {},
                        }
                    });
                }
                Box::pin(async move {
                    match tower::ServiceExt::ready(&mut service).await {
                        Ok(ready) => match ready.call(request).await {
                            Ok(response) => response,
                            Err(never) => match never {},
                        },
                        Err(never) => match never {},
                    }
                })
            }),
        }
    }

    /// Answers one request. The host sets `ctx` (clock, randomness) and `connection`.
    pub fn answer(
        &self,
        mut request: Request<Vec<u8>>,
        ctx: RequestContext,
        connection: Connection,
    ) -> BoxFuture<Response<Vec<u8>>> {
        request.extensions_mut().insert(ctx);
        request.extensions_mut().insert(connection);
        (self.call)(request)
    }
}

/// The stack is itself a tower `Service` (for hosts built on tower, such as hyper via
/// hyper-util); the request's extensions must already hold its context and connection.
impl Service<Request<Vec<u8>>> for Stack {
    type Response = Response<Vec<u8>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Vec<u8>>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Vec<u8>>) -> Self::Future {
        let answer = (self.call)(request);
        Box::pin(async move { Ok(answer.await) })
    }
}

/// The answer of `future` if it is already complete, for hosts that answer synchronously
/// when every layer did (the edge worker, the wasi:http component): the first poll is
/// the only one when no layer waits for the platform.
pub fn now_or_later<T>(mut future: BoxFuture<T>) -> Result<T, BoxFuture<T>> {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(value) => Ok(value),
        Poll::Pending => Err(future),
    }
}

//! CORS with an origin allowlist: tower-http's `Cors` with our origins, credentials never
//! allowed. Two things differ from using that layer bare:
//!
//! - Only a real preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//!   is answered by the CORS layer, with 204 No Content. Any other `OPTIONS` still reaches
//!   the API, which answers it with `Allow` as before (tower-http treats every `OPTIONS`
//!   as a preflight).
//! - Preflights carry no credentials, so they are allowed for the union of the global
//!   origins and every tenant's; the tenant's own list is enforced once its key is known
//!   (see `auth`).

use crate::policy::{Origins, Policy};
use crate::{BoxFuture, MaybeSend};
use http::header::{self, HeaderName};
use http::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer as Inner};
use tower_layer::Layer;
use tower_service::Service;

/// Request headers a browser may send cross-origin.
const ALLOWED_HEADERS: [HeaderName; 7] = [
    header::CONTENT_TYPE,
    header::AUTHORIZATION,
    header::IF_NONE_MATCH,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("x-aicr-timestamp"),
    HeaderName::from_static("x-aicr-signature"),
];

/// Response headers a page may read besides the CORS-safelisted ones.
const EXPOSED_HEADERS: [HeaderName; 15] = [
    header::ETAG,
    header::RETRY_AFTER,
    header::CONTENT_DISPOSITION,
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("x-api-version"),
    HeaderName::from_static("x-bundle-files"),
    HeaderName::from_static("x-bundle-size"),
    HeaderName::from_static("ratelimit-limit"),
    HeaderName::from_static("ratelimit-remaining"),
    HeaderName::from_static("ratelimit-reset"),
    HeaderName::from_static("ratelimit-policy"),
    header::WWW_AUTHENTICATE,
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("x-aicr-catalog"),
    HeaderName::from_static("x-aicr-cache"),
];

/// How long a browser may cache a preflight.
const MAX_AGE: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct CorsLayer {
    inner: Inner,
}

impl CorsLayer {
    pub fn new(policy: Arc<Policy>) -> CorsLayer {
        let origins = match &policy.cors_origins {
            Origins::Any => AllowOrigin::any(),
            _ => AllowOrigin::predicate(move |origin, _| {
                origin
                    .to_str()
                    .is_ok_and(|origin| policy.preflight_allows(origin))
            }),
        };
        CorsLayer {
            inner: Inner::new()
                .allow_origin(origins)
                .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
                .allow_headers(ALLOWED_HEADERS)
                .expose_headers(EXPOSED_HEADERS)
                .max_age(MAX_AGE),
        }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;
    fn layer(&self, inner: S) -> Cors<S> {
        Cors {
            cors: self.inner.layer(inner),
        }
    }
}

/// tower-http's `Cors`, consulted for preflights and cross-origin requests; a plain
/// `OPTIONS` goes past it to the service it wraps.
#[derive(Clone)]
pub struct Cors<S> {
    cors: tower_http::cors::Cors<S>,
}

fn is_preflight<B>(request: &Request<B>) -> bool {
    request.method() == Method::OPTIONS
        && request.headers().contains_key(header::ORIGIN)
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

impl<S> Service<Request<Vec<u8>>> for Cors<S>
where
    S: Service<Request<Vec<u8>>, Response = Response<Vec<u8>>, Error = Infallible>
        + MaybeSend
        + 'static,
    S::Future: MaybeSend + 'static,
{
    type Response = Response<Vec<u8>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Vec<u8>>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.cors.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Vec<u8>>) -> Self::Future {
        if is_preflight(&request) {
            let answer = self.cors.call(request);
            return Box::pin(async move {
                let mut response = answer.await?;
                if response.status() == StatusCode::OK {
                    *response.status_mut() = StatusCode::NO_CONTENT;
                }
                Ok(response)
            });
        }
        if request.method() == Method::OPTIONS {
            return Box::pin(self.cors.get_mut().call(request));
        }
        Box::pin(self.cors.call(request))
    }
}

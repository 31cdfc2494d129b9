//! Rate limits per tenant, else per client address: one caller cannot starve the others
//! (upstream has one bucket for everyone). The layer decides the key and the limit; a
//! [`RateLimitBackend`] keeps the counts, because where they can live differs by host: in
//! process memory where a process or instance outlives a request ([`Gcra`]), in the
//! platform's rate-limiting binding on the edge, where isolates come and go.
//!
//! Answers carry `RateLimit-Limit`, `RateLimit-Remaining` (when the backend knows it) and
//! `RateLimit-Reset`; a refusal is upstream's 429 `RATE_LIMIT_EXCEEDED` with
//! `Retry-After`.

use crate::auth::Principal;
use crate::client::client_ip;
use crate::policy::{Limit, Policy};
use crate::{BoxFuture, MaybeSend, error_response};
use aicr_api::{ApiError, ErrorCode};
use http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use http::{Request, Response};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// A backend's verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The limit the backend applied, when it applies the one it was asked for; `None`
    /// when it keeps its own (the edge's binding), so answers state no numbers they do
    /// not enforce.
    pub applied: Option<Limit>,
    /// Requests left in the current window, when the backend can tell.
    pub remaining: Option<u32>,
    /// Seconds until a refused request may succeed, or until the window resets.
    pub reset_secs: u64,
}

/// Where counts are kept. `key` is `tenant:<name>` or `ip:<address>` (`ip:unknown` when
/// the host cannot tell the client).
pub trait RateLimitBackend: Clone + MaybeSend + 'static {
    type Future: Future<Output = Decision> + MaybeSend + 'static;
    fn check(&self, key: &str, limit: Limit) -> Self::Future;
}

/// Adds [`RateLimit`] around a service.
#[derive(Clone)]
pub struct RateLimitLayer<B> {
    policy: Arc<Policy>,
    backend: B,
}

impl<B> RateLimitLayer<B> {
    pub fn new(policy: Arc<Policy>, backend: B) -> Self {
        RateLimitLayer { policy, backend }
    }
}

impl<S, B: Clone> Layer<S> for RateLimitLayer<B> {
    type Service = RateLimit<S, B>;
    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            policy: self.policy.clone(),
            backend: self.backend.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RateLimit<S, B> {
    inner: S,
    policy: Arc<Policy>,
    backend: B,
}

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The key and limit a request counts against, if any.
fn bucket(request: &Request<Vec<u8>>, policy: &Policy) -> Option<(String, Limit)> {
    match request.extensions().get::<Principal>() {
        Some(Principal::Tenant(name)) => {
            let tenant = policy.tenants().iter().find(|t| *t.name == **name)?;
            Some((format!("tenant:{name}"), tenant.limit?))
        }
        _ => {
            let limit = policy.anonymous_limit()?;
            let key = match client_ip(request, policy) {
                Some(ip) => format!("ip:{ip}"),
                None => "ip:unknown".to_owned(),
            };
            Some((key, limit))
        }
    }
}

fn stamp(headers: &mut http::HeaderMap, decision: &Decision) {
    if let Some(limit) = decision.applied {
        headers.insert(LIMIT, HeaderValue::from(limit.requests));
        if let Ok(v) = HeaderValue::from_str(&format!("{};w={}", limit.requests, limit.period_secs))
        {
            headers.insert(POLICY, v);
        }
    }
    if let Some(remaining) = decision.remaining {
        headers.insert(REMAINING, HeaderValue::from(remaining));
    }
    headers.insert(RESET, HeaderValue::from(decision.reset_secs));
}

impl<S, B> Service<Request<Vec<u8>>> for RateLimit<S, B>
where
    S: Service<Request<Vec<u8>>, Response = Response<Vec<u8>>, Error = Infallible>
        + Clone
        + MaybeSend
        + 'static,
    S::Future: MaybeSend + 'static,
    B: RateLimitBackend,
{
    type Response = Response<Vec<u8>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Vec<u8>>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Vec<u8>>) -> Self::Future {
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let Some((key, limit)) = bucket(&request, &self.policy) else {
            return Box::pin(inner.call(request));
        };
        let check = self.backend.check(&key, limit);
        Box::pin(async move {
            let decision = check.await;
            if !decision.allowed {
                let retry = decision.reset_secs.max(1);
                let mut error = ApiError::new(ErrorCode::RateLimitExceeded, "Rate limit exceeded")
                    .header(RETRY_AFTER, retry.to_string());
                if let Some(applied) = decision.applied {
                    error = error
                        .detail("limit", applied.requests)
                        .detail("periodSeconds", applied.period_secs);
                }
                let mut response = error_response(&request, error);
                stamp(response.headers_mut(), &decision);
                return Ok(response);
            }
            let mut response = inner.call(request).await?;
            stamp(response.headers_mut(), &decision);
            Ok(response)
        })
    }
}

#[cfg(feature = "gcra")]
pub use gcra::Gcra;

#[cfg(feature = "gcra")]
mod gcra {
    //! In-memory GCRA (the `governor` crate), one keyed limiter per distinct limit.
    //! Idle keys are dropped every [`SWEEP_EVERY`] checks, so memory follows the number
    //! of recently active clients, not of all clients ever seen.

    use super::{Decision, RateLimitBackend};
    use crate::policy::Limit;
    use governor::clock::{Clock, DefaultClock};
    use governor::middleware::StateInformationMiddleware;
    use governor::state::keyed::DefaultKeyedStateStore;
    use governor::{Quota, RateLimiter};
    use std::collections::HashMap;
    use std::num::NonZeroU32;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    type Keyed = RateLimiter<
        String,
        DefaultKeyedStateStore<String>,
        DefaultClock,
        StateInformationMiddleware,
    >;

    const SWEEP_EVERY: u64 = 4096;

    /// Counts in this process; share one (clones share state).
    #[derive(Clone, Default)]
    pub struct Gcra {
        limiters: Arc<Mutex<HashMap<Limit, Arc<Keyed>>>>,
        checks: Arc<AtomicU64>,
    }

    impl Gcra {
        fn limiter(&self, limit: Limit) -> Arc<Keyed> {
            let mut limiters = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
            limiters
                .entry(limit)
                .or_insert_with(|| {
                    let burst = NonZeroU32::new(limit.requests).unwrap_or(NonZeroU32::MIN);
                    let period =
                        Duration::from_secs(u64::from(limit.period_secs)) / limit.requests.max(1);
                    let quota = Quota::with_period(period)
                        .unwrap_or_else(|| Quota::per_second(burst))
                        .allow_burst(burst);
                    Arc::new(RateLimiter::keyed(quota).with_middleware())
                })
                .clone()
        }
    }

    impl RateLimitBackend for Gcra {
        type Future = std::future::Ready<Decision>;

        fn check(&self, key: &str, limit: Limit) -> Self::Future {
            let limiter = self.limiter(limit);
            if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
                limiter.retain_recent();
            }
            let key = key.to_owned();
            let decision = match limiter.check_key(&key) {
                Ok(snapshot) => Decision {
                    allowed: true,
                    applied: Some(limit),
                    remaining: Some(snapshot.remaining_burst_capacity()),
                    reset_secs: u64::from(limit.period_secs),
                },
                Err(not_until) => {
                    let wait = not_until.wait_time_from(DefaultClock::default().now());
                    Decision {
                        allowed: false,
                        applied: Some(limit),
                        remaining: Some(0),
                        reset_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                    }
                }
            };
            std::future::ready(decision)
        }
    }
}

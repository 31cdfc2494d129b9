//! Rate-limit counts at the edge: the platform's Workers Rate Limiting binding
//! (`AICR_RATE_LIMITER`, `[[ratelimits]]` in `wrangler.toml`) behind
//! [`aicr_stack::RateLimitBackend`].
//!
//! An isolate lives for an unknown number of requests and many run at once, in many
//! places, so counts kept in its memory would limit nothing; the binding keeps them
//! where every isolate of the worker sees them. The stack still decides *whether* a
//! request counts and under *which key* (`tenant:<name>` for a key's tenant, else
//! `ip:<client address>` when `AICR_RATE_LIMIT` is set); the binding only counts.
//!
//! What differs from hosts that count in memory: the binding is configured with one
//! limit and period (`simple = { limit, period }`, period 10 or 60 seconds), and it
//! applies that limit to every key it is asked about. The numbers in `AICR_RATE_LIMIT`
//! and in a tenant's `rateLimit` decide here only that its requests are limited at all;
//! the component and the native server honour them exactly. The binding tells whether a
//! request is within the limit, not how many remain, so answers carry no
//! `RateLimit-Remaining`, and a refusal's `Retry-After` is the binding's period
//! (`AICR_RATE_LIMITER_PERIOD`, which must equal it): the longest the client can have to
//! wait.
//!
//! A binding that fails to answer lets the request through (and logs why): it protects
//! capacity, and its outage must not become the API's.

use aicr_api::ConfigError;
use aicr_stack::{BoxFuture, Decision, Limit, Policy, RateLimitBackend};
use std::sync::Arc;
use worker::{Env, RateLimiter, console_error};

/// The binding's name in `wrangler.toml`.
pub const BINDING: &str = "AICR_RATE_LIMITER";
/// The var holding the binding's period in seconds.
const PERIOD: &str = "AICR_RATE_LIMITER_PERIOD";
/// The period when [`PERIOD`] is not set: `wrangler.toml`'s.
const DEFAULT_PERIOD_SECS: u64 = 60;

/// Counts in the `AICR_RATE_LIMITER` binding. Cheap to clone.
#[derive(Clone)]
pub struct EdgeLimiter {
    binding: Arc<RateLimiter>,
    period_secs: u64,
}

impl EdgeLimiter {
    /// The limiter over the worker's binding; `None` when nothing is limited and there
    /// is no binding. Limits configured without the binding are a configuration error
    /// naming it: silently serving unlimited would be the opposite of what was asked.
    pub fn from_env(
        env: &Env,
        policy: &Policy,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<EdgeLimiter>, ConfigError> {
        let period_secs = match var(PERIOD) {
            None => DEFAULT_PERIOD_SECS,
            Some(v) => match v.trim() {
                "" => DEFAULT_PERIOD_SECS,
                "10" => 10,
                "60" => 60,
                _ => {
                    return Err(ConfigError {
                        variable: PERIOD.to_owned(),
                        value: v,
                        expected: format!(
                            "10 or 60: the period in seconds of the {BINDING} binding \
                             (simple.period of its [[ratelimits]] entry)"
                        ),
                    });
                }
            },
        };
        let limited = policy.anonymous_limit().is_some()
            || policy.tenants().iter().any(|t| t.limit.is_some());
        match env.rate_limiter(BINDING) {
            Ok(binding) => Ok(Some(EdgeLimiter {
                binding: Arc::new(binding),
                period_secs,
            })),
            Err(_) if !limited => Ok(None),
            Err(e) => Err(ConfigError {
                variable: BINDING.to_owned(),
                value: e.to_string(),
                expected: "a Workers Rate Limiting binding ([[ratelimits]] in wrangler.toml): \
                           AICR_RATE_LIMIT or a tenant's rateLimit asks for limits, and the \
                           edge counts in that binding"
                    .to_owned(),
            }),
        }
    }
}

impl RateLimitBackend for EdgeLimiter {
    type Future = BoxFuture<Decision>;

    /// Counts one request under `key` against the binding's own limit (see the module
    /// docs for why `_limit` is not the one applied).
    fn check(&self, key: &str, _limit: Limit) -> Self::Future {
        let binding = self.binding.clone();
        let key = key.to_owned();
        let reset_secs = self.period_secs;
        Box::pin(async move {
            let allowed = match binding.limit(key).await {
                Ok(outcome) => outcome.success,
                Err(e) => {
                    console_error!("{BINDING} did not answer ({e}); the request is let through");
                    true
                }
            };
            Decision {
                allowed,
                applied: None,
                remaining: None,
                reset_secs,
            }
        })
    }
}

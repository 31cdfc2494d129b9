//! Every serving-path store read goes through here: bulkhead, then retries with backoff,
//! each attempt asking the circuit breaker and bounded by a timeout.
//!
//! Retries are backon's exponential backoff (maintained, `no_std`-capable, no runtime of
//! its own): its sleeper is the host's timer and its jitter is seeded per read from the
//! host's randomness, so it runs the same on the server and the edge. The breaker sits
//! inside the retries, per attempt: every failed attempt counts towards opening it, and once
//! it is open the remaining attempts stop at once instead of waiting out their backoff. The
//! bulkhead sits outside, per read: a read holds its place through all its attempts.

use crate::breaker::{Breaker, BreakerConfig, Transition};
use crate::bulkhead::Bulkhead;
use crate::host::{BoxFuture, Host, MaybeSend, MaybeSync};
use crate::store::{Store, StoreError};
use backon::{ExponentialBuilder, Retryable};
use futures_util::future::{Either, select};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How reads are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts per read, the first included (at least 1).
    pub attempts: u32,
    /// Backoff before the first retry; each later one doubles it, up to `max_delay`, and
    /// adds jitter of up to one more delay.
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: 3,
            min_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
        }
    }
}

/// Why a store read gave nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFailure {
    /// All places in the bulkhead were taken; the read was not tried.
    BulkheadFull,
    /// The breaker is open (or half-open with its probe out); the read was not tried.
    BreakerOpen,
    /// The last attempt took longer than the read timeout.
    Timeout,
    /// The last attempt failed.
    Store(StoreError),
}

impl ReadFailure {
    fn retryable(&self) -> bool {
        matches!(self, ReadFailure::Timeout | ReadFailure::Store(_))
    }
}

impl fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadFailure::BulkheadFull => f.write_str("too many catalog store reads in flight"),
            ReadFailure::BreakerOpen => f.write_str("the catalog store's circuit breaker is open"),
            ReadFailure::Timeout => f.write_str("the catalog store did not answer in time"),
            ReadFailure::Store(e) => e.fmt(f),
        }
    }
}

/// What happened around the store, for the host's logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The circuit breaker changed state.
    Breaker(Transition),
    /// A read of `key` failed (`error`) and is tried again after `delay`.
    Retry {
        key: String,
        error: String,
        delay: Duration,
    },
    /// The bulkhead turned a read of `key` away.
    BulkheadFull { key: String },
    /// A tenant's catalog was read and layered (a miss; `millis` from the read's start).
    Loaded {
        tenant: String,
        digest: String,
        millis: u64,
    },
    /// A tenant's active artifact does not layer over this host's base catalog (or is not
    /// in the store): it is not served, and answers are stale until that changes.
    Refused {
        tenant: String,
        digest: String,
        reason: String,
    },
}

/// Receives [`Event`]s (a host's logger or metrics).
pub trait Observer: MaybeSend + MaybeSync + 'static {
    fn event(&self, event: &Event);
}

impl<F: Fn(&Event) + MaybeSend + MaybeSync + 'static> Observer for F {
    fn event(&self, event: &Event) {
        self(event)
    }
}

/// The bulkhead, breaker, retry policy and timeout around a store's reads.
pub(crate) struct Guard {
    pub host: Arc<dyn Host>,
    pub breaker: Breaker,
    pub bulkhead: Bulkhead,
    pub retry: RetryConfig,
    pub timeout: Duration,
    pub observer: Option<Box<dyn Observer>>,
}

impl Guard {
    pub fn new(
        host: Arc<dyn Host>,
        breaker: BreakerConfig,
        max_in_flight: usize,
        retry: RetryConfig,
        timeout: Duration,
        observer: Option<Box<dyn Observer>>,
    ) -> Guard {
        Guard {
            host,
            breaker: Breaker::new(breaker),
            bulkhead: Bulkhead::new(max_in_flight),
            retry,
            timeout,
            observer,
        }
    }

    pub fn observe(&self, event: Event) {
        if let Some(observer) = &self.observer {
            observer.event(&event);
        }
    }

    fn transition(&self, transition: Option<Transition>) {
        if let Some(t) = transition {
            self.observe(Event::Breaker(t));
        }
    }

    /// Reads `key` through the bulkhead, retries, breaker and timeout. (Boxed with its
    /// lifetime named: the retry closure's borrowed futures are then provably `Send`.)
    pub fn read<'a>(
        &'a self,
        store: &'a dyn Store,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, ReadFailure>> {
        let Some(slot) = self.bulkhead.try_enter() else {
            self.observe(Event::BulkheadFull {
                key: key.to_owned(),
            });
            return Box::pin(std::future::ready(Err(ReadFailure::BulkheadFull)));
        };
        let backoff = ExponentialBuilder::new()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_factor(2.0)
            .with_max_times(self.retry.attempts.max(1) as usize - 1)
            .with_jitter()
            .with_jitter_seed(self.host.random_u64());
        let host = self.host.clone();
        // The sleeper owns the bulkhead slot: it lives exactly as long as the read does.
        let retried = (move || self.attempt(store, key))
            .retry(backoff)
            .sleep(move |delay| {
                let _held = &slot;
                host.sleep(delay)
            })
            .when(ReadFailure::retryable)
            .notify(move |error, delay| {
                self.observe(Event::Retry {
                    key: key.to_owned(),
                    error: error.to_string(),
                    delay,
                })
            });
        Box::pin(retried)
    }

    /// One attempt: the breaker's leave, then the read against the timeout.
    fn attempt<'a>(
        &'a self,
        store: &'a dyn Store,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, ReadFailure>> {
        Box::pin(async move {
            let (permit, transition) = self
                .breaker
                .try_acquire(self.host.now_ms())
                .map_err(|_| ReadFailure::BreakerOpen)?;
            self.transition(transition);
            let outcome = self.within_timeout(store.get(key)).await;
            let now = self.host.now_ms();
            let transition = match &outcome {
                Ok(_) => permit.success(now),
                Err(_) => permit.failure(now),
            };
            self.transition(transition);
            outcome
        })
    }

    /// `operation`, or [`ReadFailure::Timeout`] if it takes longer than the timeout.
    pub async fn within_timeout<T>(
        &self,
        operation: BoxFuture<'_, Result<T, StoreError>>,
    ) -> Result<T, ReadFailure> {
        match select(operation, self.host.sleep(self.timeout)).await {
            Either::Left((outcome, _)) => outcome.map_err(ReadFailure::Store),
            Either::Right(_) => Err(ReadFailure::Timeout),
        }
    }
}

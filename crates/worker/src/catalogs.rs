//! Tenants' catalogs at the edge: the platform half of `aicr-tenant-catalogs`, which owns
//! everything else (validation, layering, pointer documents, breaker, retries, bulkhead,
//! single-flight, stale fallback).
//!
//! The store is one Workers KV namespace, bound as `AICR_CATALOGS` (`[[kv_namespaces]]` in
//! `wrangler.toml`, one namespace per environment); `wrangler dev` simulates it locally,
//! persisted under `.wrangler/state`. The host is the isolate's: `Date.now()` for the
//! clock, `setTimeout` (workers-rs' [`Delay`]) for sleeps and timeouts,
//! `crypto.getRandomValues` for the retry jitter. One [`TenantCatalogs`] lives per isolate,
//! so a tenant's pointer and catalog are read from KV once per isolate and pointer TTL,
//! not per request.
//!
//! KV is eventually consistent: a write is visible at once where it was made and within
//! about a minute elsewhere (KV's own edge caching, which we leave at its default rather
//! than lengthen: a cached "not found" for an artifact uploaded elsewhere a moment ago
//! would then last as long). So an activation reaches every location within that minute
//! plus [`Config::pointer_ttl`]; meanwhile other locations answer from the catalog active
//! before, or mark the answer stale (`artifact-missing`) if the pointer arrived before
//! the artifact. Two administrators activating at once: the last write wins.
//!
//! Without the binding (a deployment that does not offer tenant catalogs, the bench's
//! bare workerd) every tenant is answered from the built-in catalog and the admin
//! routes say that tenant catalogs are not configured.

use aicr_tenant_catalogs::{
    Base, BoxFuture, Config, Event, Host, Store, StoreError, TenantCatalogs,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use worker::send::SendFuture;
use worker::{Date, Delay, Env, KvStore, console_error, console_log};

/// The KV binding's name in `wrangler.toml`.
pub const BINDING: &str = "AICR_CATALOGS";

/// Tenant catalogs over the worker's KV binding, or `None` when it has none.
pub fn from_env(env: &Env) -> Option<TenantCatalogs> {
    let kv = env.kv(BINDING).ok()?;
    Some(TenantCatalogs::new(
        KvCatalogStore { kv },
        Base::embedded(),
        Arc::new(EdgeHost),
        edge_config(),
        Some(Box::new(log_event)),
    ))
}

/// The crate's defaults, with fewer tenants kept: an isolate's memory (wasm and JS heap
/// together) is capped at 128 MB, and each kept tenant holds a whole layered catalog.
fn edge_config() -> Config {
    Config {
        max_tenants: 8,
        ..Config::default()
    }
}

/// Store events in the worker's log: loads (the misses), refusals, retries, the breaker.
fn log_event(event: &Event) {
    match event {
        Event::Loaded {
            tenant,
            digest,
            millis,
        } => console_log!("tenant catalog loaded: tenant={tenant} digest={digest} ms={millis}"),
        Event::Refused {
            tenant,
            digest,
            reason,
        } => console_error!(
            "tenant catalog refused: tenant={tenant} digest={digest} reason={reason}"
        ),
        Event::Retry { key, error, delay } => console_error!(
            "catalog store read retried: key={key} after={}ms error={error}",
            delay.as_millis()
        ),
        Event::BulkheadFull { key } => {
            console_error!("catalog store read refused: key={key} bulkhead full")
        }
        Event::Breaker(transition) => {
            console_error!("catalog store circuit breaker: {transition:?}")
        }
    }
}

/// Workers KV as the crate's [`Store`]. Keys and values are the crate's (see
/// `aicr_tenant_catalogs::store`); listing follows KV's cursor to the end.
struct KvCatalogStore {
    kv: KvStore,
}

fn kv_error(operation: &str, key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError(format!("Workers KV {operation} {key}: {e}"))
}

// Platform futures are not `Send`; the crate asks for `Send` only on native targets, where
// this code is compiled (clippy, tests) but never run. `SendFuture` satisfies both.
impl Store for KvCatalogStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(SendFuture::new(async move {
            self.kv
                .get(key)
                .bytes()
                .await
                .map_err(|e| kv_error("get", key, e))
        }))
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a [u8]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(SendFuture::new(async move {
            self.kv
                .put_bytes(key, value)
                .map_err(|e| kv_error("put", key, e))?
                .execute()
                .await
                .map_err(|e| kv_error("put", key, e))
        }))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(SendFuture::new(async move {
            let mut keys = Vec::new();
            let mut cursor = None;
            loop {
                let mut page = self.kv.list().prefix(prefix.to_owned());
                if let Some(cursor) = cursor.take() {
                    page = page.cursor(cursor);
                }
                let page = page
                    .execute()
                    .await
                    .map_err(|e| kv_error("list", prefix, e))?;
                keys.extend(page.keys.into_iter().map(|k| k.name));
                match page.cursor {
                    Some(next) if !page.list_complete && !next.is_empty() => cursor = Some(next),
                    _ => return Ok(keys),
                }
            }
        }))
    }
}

/// The isolate's clock, timer and randomness.
struct EdgeHost;

impl Host for EdgeHost {
    /// `Date.now()`: it advances between I/O, not during computation (the platform's
    /// Spectre mitigation), which is all timeouts, backoff and the breaker need.
    fn now_ms(&self) -> u64 {
        Date::now().as_millis()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        sleep(duration)
    }

    fn random_u64(&self) -> u64 {
        let mut bytes = [0u8; 8];
        match getrandom::getrandom(&mut bytes) {
            Ok(()) => u64::from_le_bytes(bytes),
            // Jitter only spreads retries; the time still differs between isolates.
            Err(_) => Date::now().as_millis().wrapping_mul(0x9e37_79b9_7f4a_7c15),
        }
    }
}

/// A timer of this request (`setTimeout` in its context): completes after `duration`.
pub(crate) fn sleep(duration: Duration) -> BoxFuture<'static, ()> {
    Box::pin(SendFuture::new(LatestWaker::new(Box::pin(Delay::from(
        duration,
    )))))
}

/// A future that wakes whichever task polled it last.
///
/// workers-rs' [`Delay`] keeps the waker of its first poll. The worker polls every answer
/// once with a no-op waker before handing it to the platform's executor (so answers that
/// need no I/O go back synchronously, see `aicr_stack::now_or_later`); a timer started in
/// that first poll would then wake nobody, and a read timeout would never fire. The inner
/// future gets a waker of ours, which forwards to the latest real one.
struct LatestWaker<F> {
    inner: Pin<Box<F>>,
    slot: Arc<WakerSlot>,
}

#[derive(Default)]
struct WakerSlot(Mutex<Option<Waker>>);

impl Wake for WakerSlot {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waker = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<F> LatestWaker<F> {
    fn new(inner: Pin<Box<F>>) -> LatestWaker<F> {
        LatestWaker {
            inner,
            slot: Arc::default(),
        }
    }
}

impl<F: Future> Future for LatestWaker<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        *self.slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(cx.waker().clone());
        let forward = Waker::from(self.slot.clone());
        self.inner.as_mut().poll(&mut Context::from_waker(&forward))
    }
}

//! Tenants' catalogs on the server: the tokio half of `aicr-tenant-catalogs`, which owns
//! everything else (validation, layering, pointer documents, breaker, retries, bulkhead,
//! single-flight, stale fallback, the admin routes).
//!
//! With `AICR_CATALOG_STORE=DIR` the process keeps one [`TenantCatalogs`] over a
//! [`DirStore`] in `DIR`, shared by every worker thread and the admin listener; without
//! it every caller is answered from the embedded catalog and the admin routes say that
//! tenant catalogs are not configured.
//!
//! [`Catalogued`] is the public stack's innermost service:
//!
//! - anonymous callers, and every caller without a store, get the API over the embedded
//!   catalog at once: no store read, no allocation beyond the answer's;
//! - a tenant's request asks [`TenantCatalogs::select`] which catalog answers; the API
//!   over a tenant's catalog is kept per tenant and digest ([`MAX_TENANT_APIS`], least
//!   recently used dropped first), so its memo of rendered answers outlives the request.
//!
//! Every answer says which catalog made it (`X-AICR-Catalog`); a stale one is also
//! `Cache-Control: no-store`.
//!
//! ## Blocking work
//!
//! Each API thread runs a single-threaded runtime, so neither file I/O nor layering a
//! catalog (the build's loader over the whole base: CPU for milliseconds to tens of
//! milliseconds) may run on it. The store's reads and writes run on the blocking pool
//! ([`BlockingStore`]). A selection is polled once on the request's thread: a tenant whose
//! pointer and catalog are known here is answered at once. One that is not done then is
//! waiting on a store read, or on another request's load (single-flight); it is finished
//! on the blocking pool ([`offload`]), so the layering that follows the read does not hold
//! up the thread's other connections. Timers it sets are driven by the runtime it came
//! from. The admin routes (validation of uploads and activations) run there too.

use crate::metrics::Metrics;
use aicr_api::{Api, Config};
use aicr_recipe::Catalog;
use aicr_stack::BoxFuture;
use aicr_tenant_catalogs::apis::{self, Apis};
use aicr_tenant_catalogs::{
    self as tc, Base, CatalogRef, DirStore, Event, Host, Lookup, Selected, Source, StaleReason,
    Store, StoreError, TenantCatalogs, TenantId,
};
use http::{Request, Response};
use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower_service::Service;

/// Most APIs over tenants' catalogs kept; each holds its catalog and up to the API's memo
/// capacity of rendered answers.
pub const MAX_TENANT_APIS: usize = 16;

/// The admin routes' 500 without a store.
pub const UNCONFIGURED: &str =
    "Tenant catalogs are not configured here: the server was started without AICR_CATALOG_STORE";

/// Tenant catalogs in `dir`, timed by tokio, with store events in the log.
pub fn open(dir: PathBuf) -> TenantCatalogs {
    TenantCatalogs::new(
        BlockingStore(Arc::new(DirStore::new(dir))),
        Base::embedded(),
        Arc::new(TokioHost {
            epoch: Instant::now(),
        }),
        tc::Config::default(),
        Some(Box::new(log_event)),
    )
}

/// Store events in the log (target `catalog`): loads (the misses), refusals, retries, the
/// bulkhead and the breaker.
fn log_event(event: &Event) {
    match event {
        Event::Loaded {
            tenant,
            digest,
            millis,
        } => tracing::info!(target: "catalog", tenant = %tenant, digest = %digest,
            ms = millis, "tenant catalog loaded"),
        Event::Refused {
            tenant,
            digest,
            reason,
        } => tracing::warn!(target: "catalog", tenant = %tenant, digest = %digest,
            reason = %reason, "tenant catalog refused"),
        Event::Retry { key, error, delay } => tracing::warn!(target: "catalog", key = %key,
            error = %error, after_ms = delay.as_millis() as u64, "catalog store read retried"),
        Event::BulkheadFull { key } => {
            tracing::warn!(target: "catalog", key = %key, "catalog store read refused: bulkhead full")
        }
        Event::Breaker(transition) => {
            tracing::warn!(target: "catalog", transition = ?transition, "catalog store circuit breaker")
        }
    }
}

/// Tokio's clock, timer and randomness.
struct TokioHost {
    epoch: Instant,
}

impl Host for TokioHost {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn sleep(&self, duration: Duration) -> tc::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }

    fn random_u64(&self) -> u64 {
        let mut bytes = [0u8; 8];
        match getrandom::getrandom(&mut bytes) {
            Ok(()) => u64::from_le_bytes(bytes),
            // Jitter only spreads retries.
            Err(_) => self.now_ms().wrapping_mul(0x9e37_79b9_7f4a_7c15),
        }
    }
}

/// A [`DirStore`] whose calls run on tokio's blocking pool (plain `std::fs` underneath).
struct BlockingStore(Arc<DirStore>);

impl BlockingStore {
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&DirStore) -> Result<T, StoreError> + Send + 'static,
    ) -> tc::BoxFuture<'static, Result<T, StoreError>> {
        let store = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || work(&store))
                .await
                .unwrap_or_else(|e| Err(StoreError(format!("the store call failed: {e}"))))
        })
    }
}

/// `DirStore`'s futures are ready on their first poll (its calls are synchronous).
fn at_once<T>(future: tc::BoxFuture<'_, Result<T, StoreError>>) -> Result<T, StoreError> {
    let mut future = future;
    match future
        .as_mut()
        .poll(&mut Context::from_waker(std::task::Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => Err(StoreError("the directory store did not answer".to_owned())),
    }
}

impl Store for BlockingStore {
    fn get<'a>(&'a self, key: &'a str) -> tc::BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let key = key.to_owned();
        self.run(move |store| at_once(store.get(&key)))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
    ) -> tc::BoxFuture<'a, Result<(), StoreError>> {
        let key = key.to_owned();
        let value = value.to_vec();
        self.run(move |store| at_once(store.put(&key, &value)))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> tc::BoxFuture<'a, Result<Vec<String>, StoreError>> {
        let prefix = prefix.to_owned();
        self.run(move |store| at_once(store.list(&prefix)))
    }
}

/// `work` polled once here; if it is not done, finished on the blocking pool (see the
/// module docs). `None` if it panicked there.
pub async fn offload<T: Send + 'static>(
    work: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    let mut work = Box::pin(work);
    if let Poll::Ready(value) = std::future::poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await
    {
        return Some(value);
    }
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(work))
        .await
        .ok()
}

/// An answer now (the embedded API's) or later (a tenant's).
pub enum Answer {
    Now(Option<Response<Vec<u8>>>),
    Later(BoxFuture<Response<Vec<u8>>>),
}

impl Future for Answer {
    type Output = Result<Response<Vec<u8>>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Answer::Now(response) => Poll::Ready(Ok(response.take().unwrap_or_default())),
            Answer::Later(future) => future.as_mut().poll(cx).map(Ok),
        }
    }
}

/// The public stack's innermost service. Cheap to clone.
#[derive(Clone)]
pub struct Catalogued {
    shared: Arc<Shared>,
}

struct Shared {
    apis: Apis,
    catalogs: Option<TenantCatalogs>,
    metrics: Arc<Metrics>,
}

impl Catalogued {
    /// `embedded` is the API over `catalog`, the process's own.
    pub fn new(
        embedded: Api<'static>,
        catalog: &'static Catalog,
        config: Config,
        catalogs: Option<TenantCatalogs>,
        metrics: Arc<Metrics>,
    ) -> Catalogued {
        Catalogued {
            shared: Arc::new(Shared {
                apis: Apis::new(embedded, catalog, config, MAX_TENANT_APIS),
                catalogs,
                metrics,
            }),
        }
    }

    pub fn catalogs(&self) -> Option<&TenantCatalogs> {
        self.shared.catalogs.as_ref()
    }

    /// Forgets every memoised answer, the tenants' APIs' too; says how many.
    pub fn flush_memo(&self) -> usize {
        self.shared.apis.flush_memo()
    }
}

impl Service<Request<Vec<u8>>> for Catalogued {
    type Response = Response<Vec<u8>>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Vec<u8>>) -> Answer {
        let shared = &self.shared;
        match Apis::tenant_of(shared.catalogs.as_ref(), &request) {
            None => Answer::Now(Some(shared.apis.embedded_answer(request))),
            Some((catalogs, tenant)) => {
                let shared = shared.clone();
                Answer::Later(Box::pin(async move {
                    shared.tenant_answer(catalogs, tenant, request).await
                }))
            }
        }
    }
}

impl Shared {
    async fn tenant_answer(
        &self,
        catalogs: TenantCatalogs,
        tenant: TenantId,
        request: Request<Vec<u8>>,
    ) -> Response<Vec<u8>> {
        let who = tenant.clone();
        let selected = offload(async move { catalogs.select(Some(&who)).await })
            .await
            .unwrap_or_else(|| Selected {
                catalog: CatalogRef::Static(aicr_embedded_catalog::catalog()),
                source: Source::Embedded,
                stale: Some(StaleReason::StoreError),
                lookup: None,
            });
        let result = match (selected.stale, selected.lookup) {
            (Some(_), _) => "stale",
            (None, Some(Lookup::Hit)) => "hit",
            (None, Some(Lookup::Miss)) => "miss",
            (None, Some(Lookup::Coalesced)) => "coalesced",
            (None, None) => "embedded",
        };
        self.metrics.catalog_lookup(result);
        let header = selected.header_value();
        tracing::debug!(target: "catalog", tenant = %tenant, lookup = result,
            catalog = %header, "catalog selected");
        let tenant_api = self.apis.tenant_api(&tenant, &selected);
        let mut response = self.apis.answer(tenant_api.as_ref(), request);
        apis::mark(&mut response, &header, selected.stale.is_some());
        response
    }
}

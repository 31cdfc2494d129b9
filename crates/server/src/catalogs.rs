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
use aicr_stack::{BoxFuture, Principal};
use aicr_tenant_catalogs::{
    self as tc, Base, CATALOG_HEADER, CatalogRef, Digest, DirStore, Event, Host, Lookup, Recent,
    Selected, Source, StaleReason, Store, StoreError, TenantCatalogs, TenantId,
};
use http::header::{self, HeaderName, HeaderValue};
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

const CATALOG: HeaderName = HeaderName::from_static(CATALOG_HEADER);

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
    embedded: Api<'static>,
    embedded_header: HeaderValue,
    catalogs: Option<TenantCatalogs>,
    /// APIs over tenants' catalogs, most recently used first.
    apis: Recent<Api<'static>>,
    config: Config,
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
        let header = Selected {
            catalog: CatalogRef::Static(catalog),
            source: Source::Embedded,
            stale: None,
            lookup: None,
        }
        .header_value();
        Catalogued {
            shared: Arc::new(Shared {
                embedded,
                // A digest is hex: the value is always a valid header value.
                embedded_header: HeaderValue::from_str(&header)
                    .unwrap_or_else(|_| HeaderValue::from_static("embedded")),
                catalogs,
                apis: Recent::new(MAX_TENANT_APIS),
                config,
                metrics,
            }),
        }
    }

    pub fn catalogs(&self) -> Option<&TenantCatalogs> {
        self.shared.catalogs.as_ref()
    }

    /// Forgets every memoised answer, the tenants' APIs' too; says how many.
    pub fn flush_memo(&self) -> usize {
        let shared = &self.shared;
        let tenants: usize = shared.apis.values().iter().map(Api::flush_memo).sum();
        shared.embedded.flush_memo() + tenants
    }
}

/// The API's answer (it applies a tenant's allowlists from the extensions).
fn call(api: &Api<'static>, request: Request<Vec<u8>>) -> Response<Vec<u8>> {
    match api.clone().call(request).into_inner() {
        Ok(response) => response,
        Err(never) => match never {},
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
        let tenant = match (&shared.catalogs, request.extensions().get::<Principal>()) {
            (Some(catalogs), Some(Principal::Tenant(name))) => TenantId::parse(name)
                .ok()
                .map(|tenant| (catalogs.clone(), tenant)),
            _ => None,
        };
        match tenant {
            None => {
                let mut response = call(&shared.embedded, request);
                response
                    .headers_mut()
                    .insert(CATALOG, shared.embedded_header.clone());
                Answer::Now(Some(response))
            }
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
        let mut response = match (&selected.source, &selected.catalog) {
            (Source::Tenant(digest), CatalogRef::Shared(catalog)) => {
                call(&self.api_for(&tenant, digest, catalog), request)
            }
            // No catalog of its own, or its store failed before any of its catalogs was
            // loaded here: the embedded catalog's API.
            _ => call(&self.embedded, request),
        };
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&header) {
            headers.insert(CATALOG, value);
        }
        if selected.stale.is_some() {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        response
    }

    /// The API over a tenant's catalog: kept, so its memo serves later requests.
    fn api_for(&self, tenant: &TenantId, digest: &Digest, catalog: &Arc<Catalog>) -> Api<'static> {
        self.apis.get_or_make(tenant, digest, || {
            Api::shared(catalog.clone(), self.config.clone())
        })
    }
}

//! The stack's innermost service at the edge: which catalog answers a request, and the
//! API over it.
//!
//! - Anonymous callers, and every caller when the worker has no `AICR_CATALOGS` binding,
//!   are answered by the API over the built-in catalog, synchronously: no store read, no
//!   cache lookup, nothing to wait for (the path every request took before tenant
//!   catalogs, one header longer).
//! - A tenant's request (the stack's auth layer put its [`Principal`] in the extensions)
//!   asks [`TenantCatalogs::select`] which catalog answers. Its pointer and catalog are
//!   kept per isolate, so a tenant without a catalog of its own, or whose catalog is
//!   loaded, is answered synchronously too; the store is read once per pointer TTL and
//!   on a miss. The API over a tenant's catalog is kept per tenant and digest (bounded),
//!   so its memo of rendered answers outlives the request. Answers from a tenant's
//!   active catalog go through the edge cache ([`crate::cache`]).
//! - `/admin/` paths are the tenant-catalog admin routes ([`crate::admin`]).
//!
//! Every answer but the admin routes' says which catalog made it ([`CATALOG_HEADER`]); an
//! answer the store could not confirm (stale) is also `Cache-Control: no-store`, so no
//! cache between us and the client keeps it past the outage.
//!
//! ## Waiting on another request
//!
//! The platform ties every I/O (a KV read, a timer, a cache lookup) to the request that
//! started it, and ends a request that waits while nothing of its own is pending ("the
//! Worker's code had hung"). Two things here make one request wait on another's I/O: the
//! crate's single-flight (concurrent misses of a tenant share the first one's store read)
//! and the admin routes' serialisation. Both are waited for on this request's own timer
//! ([`in_own_context`]): it keeps the request alive while another's I/O does the work, and
//! the request resumes from its own timer, not from the other request's I/O, so what it
//! does next (a cache lookup, a store write) is its own, not cancelled with the other
//! request. A wait whose work went away with the request that started it (a client that
//! disconnected) is given up after [`WAIT_LIMIT`] and started afresh.

use crate::cache::{self, CACHE_HEADER, WaitUntil};
use aicr_api::{Api, Config};
use aicr_stack::{BoxFuture, Policy};
use aicr_tenant_catalogs::StaleReason;
use aicr_tenant_catalogs::apis::{self, Apis, call};
use aicr_tenant_catalogs::{CatalogRef, Selected, Source, TenantCatalogs, TenantId};
use futures_util::future::{Either, select};
use http::header::HeaderValue;
use http::{Request, Response};
use std::convert::Infallible;
use std::future::{Future, Ready, poll_fn, ready};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tower_service::Service;
use worker::console_log;
use worker::send::SendFuture;

/// Most APIs over tenants' catalogs kept (least recently used dropped first); each holds
/// its catalog and up to the API's memo capacity of rendered answers.
const MAX_TENANT_APIS: usize = 8;

/// How often a request waiting on another's work looks again, on its own timer (see the
/// module docs); also the most such a wait adds to an answer.
const TICK: Duration = Duration::from_millis(2);

/// Longest a request waits on work another request started before starting it afresh:
/// beyond what the store's reads can take (their timeouts, retries and backoff) for a
/// tenant's pointer and catalog together.
const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// The inner service. Cheap to clone (the stack clones it per request).
#[derive(Clone)]
pub struct Edge {
    shared: Arc<Shared>,
}

struct Shared {
    /// The APIs over the built-in catalog and tenants' catalogs.
    apis: Apis,
    /// `None` without the KV binding.
    catalogs: Option<TenantCatalogs>,
    /// Whether the platform has the Cache API.
    cache: bool,
    policy: Arc<Policy>,
    /// Set while an admin request runs: they run one at a time per isolate.
    admin_busy: AtomicBool,
}

impl Edge {
    pub fn new(
        config: Config,
        policy: Arc<Policy>,
        catalogs: Option<TenantCatalogs>,
        cache: bool,
    ) -> Edge {
        let embedded = aicr_embedded_catalog::catalog();
        Edge {
            shared: Arc::new(Shared {
                apis: Apis::new(
                    Api::new(embedded, config.clone()),
                    embedded,
                    config,
                    MAX_TENANT_APIS,
                ),
                catalogs,
                cache,
                policy,
                admin_busy: AtomicBool::new(false),
            }),
        }
    }
}

type Answer = Result<Response<Vec<u8>>, Infallible>;

impl Service<Request<Vec<u8>>> for Edge {
    type Response = Response<Vec<u8>>;
    type Error = Infallible;
    type Future = Either<Ready<Answer>, BoxFuture<Answer>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Vec<u8>>) -> Self::Future {
        let shared = &self.shared;
        if aicr_stack::policy::is_admin_path(request.uri().path()) {
            let shared = shared.clone();
            return Either::Right(Box::pin(SendFuture::new(async move {
                let _turn = shared.admin_turn().await;
                let catalogs = shared.catalogs.clone();
                Ok(crate::admin::answer(catalogs, &shared.policy, request).await)
            })));
        }
        match Apis::tenant_of(shared.catalogs.as_ref(), &request) {
            None => Either::Left(ready(Ok(shared.apis.embedded_answer(request)))),
            Some((catalogs, tenant)) => {
                let shared = shared.clone();
                Either::Right(Box::pin(SendFuture::new(async move {
                    Ok(shared.tenant_answer(&catalogs, &tenant, request).await)
                })))
            }
        }
    }
}

impl Shared {
    async fn tenant_answer(
        &self,
        catalogs: &TenantCatalogs,
        tenant: &TenantId,
        request: Request<Vec<u8>>,
    ) -> Response<Vec<u8>> {
        let selected = self.select(catalogs, tenant).await;
        let tenant_api = self.apis.tenant_api(tenant, &selected);
        let (mut response, cached) = match tenant_api {
            Some(api) if self.cache && selected.stale.is_none() => {
                self.through_edge_cache(&api, tenant, request).await
            }
            tenant_api => (self.apis.answer(tenant_api.as_ref(), request), None),
        };
        let stale = selected.stale.is_some();
        apis::mark(&mut response, &selected.header_value(), stale);
        if let Some(state) = cached {
            response
                .headers_mut()
                .insert(CACHE_HEADER, HeaderValue::from_static(state));
        }
        response
    }

    /// The answer from the edge cache, or from `api` (then stored if its headers allow);
    /// with `hit` or `miss`, or `None` for requests the cache does not take (not a `GET`
    /// or `HEAD` of a recipe or query, or a request that fails before its tag is known).
    async fn through_edge_cache(
        &self,
        api: &Api<'static>,
        tenant: &TenantId,
        request: Request<Vec<u8>>,
    ) -> (Response<Vec<u8>>, Option<&'static str>) {
        let tag = api.representation_tag(&request);
        let key = tag.as_deref().and_then(|tag| cache::key(&request, tag));
        let wait = request.extensions().get::<WaitUntil>().cloned();
        let (Some(tag), Some(key), Some(wait)) = (tag, key, wait) else {
            return (call(api, request), None);
        };
        let path = request.uri().path().to_owned();
        if let Some(hit) = cache::lookup(&key, &request).await {
            console_log!("edge cache hit: tenant={tenant} path={path} etag={tag}");
            return (hit, Some("hit"));
        }
        let method = request.method().clone();
        let response = call(api, request);
        let stored = cache::storable(&method, &response);
        if stored {
            cache::store(&wait, key, &response);
        }
        console_log!(
            "edge cache miss: tenant={tenant} path={path} etag={tag} status={} stored={stored}",
            response.status().as_u16()
        );
        (response, Some("miss"))
    }

    /// [`TenantCatalogs::select`], waited for on this request's own timer. A wait that
    /// outlives [`WAIT_LIMIT`] (its flight went away with the request that started it) is
    /// dropped and the selection started again; if that one fails too, the built-in
    /// catalog answers, marked stale.
    async fn select(&self, catalogs: &TenantCatalogs, tenant: &TenantId) -> Selected {
        for _ in 0..2 {
            if let Some(selected) = in_own_context(catalogs.select(Some(tenant))).await {
                return selected;
            }
        }
        Selected {
            catalog: CatalogRef::Static(aicr_embedded_catalog::catalog()),
            source: Source::Embedded,
            stale: Some(StaleReason::Timeout),
            lookup: None,
        }
    }

    /// This request's turn to change tenants' catalogs, once no other admin request of
    /// this isolate is running; waited for on its own timer.
    async fn admin_turn(&self) -> AdminTurn<'_> {
        while self.admin_busy.swap(true, Ordering::AcqRel) {
            crate::catalogs::sleep(TICK).await;
        }
        AdminTurn(&self.admin_busy)
    }
}

/// An admin request's turn; the next one may start when it is dropped.
struct AdminTurn<'a>(&'a AtomicBool);

impl Drop for AdminTurn<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// `work`'s output, taken up again from this request's own timer (see the module docs):
/// at once if `work` is done on its first poll (no waiting: a tenant whose catalog is
/// known here), else once a timer this request set fires after `work` is done (at most
/// [`TICK`] later). `None` if `work` is not done within [`WAIT_LIMIT`].
async fn in_own_context<F: Future>(work: F) -> Option<F::Output> {
    let mut work = pin!(work);
    if let Poll::Ready(value) = poll_fn(|cx| Poll::Ready(work.as_mut().poll(cx))).await {
        return Some(value);
    }
    let mut waited = Duration::ZERO;
    while waited < WAIT_LIMIT {
        // Set while this request runs in its own context: on its first poll, or woken by
        // its previous timer.
        let tick = crate::catalogs::sleep(TICK);
        match select(work.as_mut(), tick).await {
            Either::Left((value, tick)) => {
                tick.await;
                return Some(value);
            }
            Either::Right(((), _)) => waited += TICK,
        }
    }
    None
}

//! The APIs a host answers with once it knows which catalog a request gets.
//!
//! Each host selects a tenant's catalog its own way (the server finishes a waiting selection
//! on tokio's blocking pool, the edge worker on the isolate's own timer), then answers through
//! one [`Apis`]: the API over the embedded catalog, whose `X-AICR-Catalog` value is computed
//! once, and an API per tenant catalog, kept per tenant and digest (least recently used
//! dropped first) so its memo of rendered answers outlives the request. Every answer says
//! which catalog made it; a stale one is also `Cache-Control: no-store`.

use crate::{CATALOG_HEADER, CatalogRef, Recent, Selected, Source, TenantCatalogs, TenantId};
use aicr_api::{Api, Config};
use aicr_recipe::Catalog;
use aicr_stack::Principal;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response};
use tower_service::Service;

/// `X-AICR-Catalog`.
pub const CATALOG: HeaderName = HeaderName::from_static(CATALOG_HEADER);

/// The embedded catalog's API and the tenants' APIs of one host.
pub struct Apis {
    embedded: Api<'static>,
    embedded_header: HeaderValue,
    tenants: Recent<Api<'static>>,
    config: Config,
}

impl Apis {
    /// `embedded` is the API over `catalog`; tenants' APIs get `config` and at most
    /// `capacity` of them are kept.
    pub fn new(
        embedded: Api<'static>,
        catalog: &'static Catalog,
        config: Config,
        capacity: usize,
    ) -> Apis {
        let header = Selected {
            catalog: CatalogRef::Static(catalog),
            source: Source::Embedded,
            stale: None,
            lookup: None,
        }
        .header_value();
        Apis {
            embedded,
            // A digest is hex: the value is always a valid header value.
            embedded_header: HeaderValue::from_str(&header)
                .unwrap_or_else(|_| HeaderValue::from_static("embedded")),
            tenants: Recent::new(capacity),
            config,
        }
    }

    /// The tenant whose catalog may answer `request`: set when the host has tenants'
    /// catalogs and the stack recorded a tenant as the request's principal.
    pub fn tenant_of<B>(
        catalogs: Option<&TenantCatalogs>,
        request: &Request<B>,
    ) -> Option<(TenantCatalogs, TenantId)> {
        match (catalogs, request.extensions().get::<Principal>()) {
            (Some(catalogs), Some(Principal::Tenant(name))) => TenantId::parse(name)
                .ok()
                .map(|tenant| (catalogs.clone(), tenant)),
            _ => None,
        }
    }

    /// The embedded catalog's answer, marked as such.
    pub fn embedded_answer(&self, request: Request<Vec<u8>>) -> Response<Vec<u8>> {
        let mut response = call(&self.embedded, request);
        response
            .headers_mut()
            .insert(CATALOG, self.embedded_header.clone());
        response
    }

    /// The API over the tenant's own catalog when `selected` names one that is loaded here
    /// (kept, so its memo serves later requests); `None` when the embedded catalog answers:
    /// the tenant has no catalog of its own, or its store failed before any was loaded.
    pub fn tenant_api(&self, tenant: &TenantId, selected: &Selected) -> Option<Api<'static>> {
        match (&selected.source, &selected.catalog) {
            (Source::Tenant(digest), CatalogRef::Shared(catalog)) => {
                Some(self.tenants.get_or_make(tenant, digest, || {
                    Api::shared(catalog.clone(), self.config.clone())
                }))
            }
            _ => None,
        }
    }

    /// The answer of `tenant_api` (from [`Apis::tenant_api`]), else of the embedded
    /// catalog's API. Not yet marked ([`mark`]).
    pub fn answer(
        &self,
        tenant_api: Option<&Api<'static>>,
        request: Request<Vec<u8>>,
    ) -> Response<Vec<u8>> {
        call(tenant_api.unwrap_or(&self.embedded), request)
    }

    /// Forgets every memoised answer, the tenants' APIs' too; says how many.
    pub fn flush_memo(&self) -> usize {
        let tenants: usize = self.tenants.values().iter().map(Api::flush_memo).sum();
        self.embedded.flush_memo() + tenants
    }
}

/// Marks a tenant's answer with the selection's `X-AICR-Catalog` value (`header`, from
/// [`Selected::header_value`]) and, when the store could not confirm it (`stale`), with
/// `Cache-Control: no-store`.
pub fn mark(response: &mut Response<Vec<u8>>, header: &str, stale: bool) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(header) {
        headers.insert(CATALOG, value);
    }
    if stale {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// `api`'s answer (it applies a tenant's allowlists from the request's extensions).
pub fn call(api: &Api<'static>, request: Request<Vec<u8>>) -> Response<Vec<u8>> {
    match api.clone().call(request).into_inner() {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

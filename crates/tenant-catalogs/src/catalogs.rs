//! Which catalog answers a tenant's request, and what to say about it.
//!
//! [`TenantCatalogs::select`] is the one call a host makes per request. It keeps, per
//! tenant, the active pointer (trusted for [`Config::pointer_ttl`], then read again) and
//! the last catalog it loaded, so the store is read once per tenant per TTL, not per
//! request. Reads go through the guard (bulkhead, retries, breaker, timeout); concurrent
//! misses for one tenant share one read and one load (single-flight). When the store
//! cannot be read, the tenant's last good catalog answers, or the base catalog if there is
//! none, and the answer says so ([`CATALOG_HEADER`]): a tenant is never refused service
//! because its catalog store is down, and never silently served an old catalog.

use crate::artifact::{Digest, unpack};
use crate::breaker::BreakerConfig;
use crate::flight::SingleFlight;
use crate::guard::{Event, Guard, Observer, ReadFailure, RetryConfig};
use crate::host::Host;
use crate::layer::{Base, CatalogRef};
use crate::store::Store;
use aicr_recipe::Catalog;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The response header that names the catalog an answer came from.
///
/// Its value is an RFC 9651 structured-field item: a token saying where the catalog came
/// from, with parameters:
///
/// | value | meaning |
/// |---|---|
/// | `embedded;digest="<catalog digest>"` | no tenant catalog is active (or the request has no tenant): the catalog built into this host answered |
/// | `tenant;digest="<artifact digest>"` | the tenant's active catalog answered |
/// | `stale;source=tenant;digest="<artifact digest>";reason=<reason>` | the store could not confirm the active catalog; the tenant's last good one answered |
/// | `stale;source=embedded;digest="<catalog digest>";reason=<reason>` | the same, with no last good tenant catalog in this instance: the built-in catalog answered |
///
/// Reasons: `store-error`, `timeout`, `breaker-open`, `bulkhead-full`,
/// `artifact-missing` (the pointer names an artifact the store does not have, or not yet
/// here), `artifact-invalid` (it no longer layers over this host's built-in catalog),
/// `pointer-invalid` (the pointer document is unreadable).
pub const CATALOG_HEADER: &str = "x-aicr-catalog";

/// A tenant name as the tenants document spells it: letters, digits, `-` and `_`, at most
/// 64 bytes. It is a segment of store keys, so nothing else gets through.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(name: &str) -> Result<TenantId, String> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if ok {
            Ok(TenantId(name.to_owned()))
        } else {
            Err(format!(
                "{:?} is not a tenant name (1 to 64 letters, digits, - and _)",
                crate::artifact::truncate(name)
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The store key of a tenant's artifact.
pub(crate) fn artifact_key(tenant: &TenantId, digest: &Digest) -> String {
    format!("{}{digest}", artifacts_prefix(tenant))
}

/// The store prefix of a tenant's artifacts.
pub(crate) fn artifacts_prefix(tenant: &TenantId) -> String {
    format!("tenants/{tenant}/catalogs/")
}

/// The store key of a tenant's pointer document.
pub(crate) fn pointer_key(tenant: &TenantId) -> String {
    format!("tenants/{tenant}/active")
}

/// A tenant's pointer document: the active artifact, and the ones active before it (most
/// recent last), which rollback returns to. One store value, replaced whole, so
/// activation is atomic.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pointer {
    pub active: Option<Digest>,
    #[serde(default)]
    pub history: Vec<Digest>,
}

/// Tuning of the serving path. The defaults suit a server and the edge alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// How long a read pointer is trusted before it is read again: the longest an
    /// activation takes to reach a running instance (plus the store's own propagation).
    pub pointer_ttl: Duration,
    /// Longest a single store read may take.
    pub read_timeout: Duration,
    pub retry: RetryConfig,
    pub breaker: BreakerConfig,
    /// Most store reads in flight at once; more fail at once (and answer stale).
    pub max_reads_in_flight: usize,
    /// Most tenants whose pointer and catalog are kept (least recently used go first).
    pub max_tenants: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            pointer_ttl: Duration::from_secs(5),
            read_timeout: Duration::from_secs(1),
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
            max_reads_in_flight: 32,
            max_tenants: 64,
        }
    }
}

/// Why an answer is stale (the header's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaleReason {
    StoreError,
    Timeout,
    BreakerOpen,
    BulkheadFull,
    ArtifactMissing,
    ArtifactInvalid,
    PointerInvalid,
}

impl StaleReason {
    pub fn token(self) -> &'static str {
        match self {
            StaleReason::StoreError => "store-error",
            StaleReason::Timeout => "timeout",
            StaleReason::BreakerOpen => "breaker-open",
            StaleReason::BulkheadFull => "bulkhead-full",
            StaleReason::ArtifactMissing => "artifact-missing",
            StaleReason::ArtifactInvalid => "artifact-invalid",
            StaleReason::PointerInvalid => "pointer-invalid",
        }
    }
}

impl From<&ReadFailure> for StaleReason {
    fn from(f: &ReadFailure) -> StaleReason {
        match f {
            ReadFailure::BulkheadFull => StaleReason::BulkheadFull,
            ReadFailure::BreakerOpen => StaleReason::BreakerOpen,
            ReadFailure::Timeout => StaleReason::Timeout,
            ReadFailure::Store(_) => StaleReason::StoreError,
        }
    }
}

/// Where the answering catalog came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The base (built-in) catalog.
    Embedded,
    /// The tenant's artifact of this digest.
    Tenant(Digest),
}

/// How a tenant's catalog was found, for hit/miss logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// In this instance's cache.
    Hit,
    /// Read from the store and loaded by this request.
    Miss,
    /// Another request's load was under way; this one waited for it.
    Coalesced,
}

/// The catalog a request resolves against, and how it was chosen.
#[derive(Debug, Clone)]
pub struct Selected {
    pub catalog: CatalogRef,
    pub source: Source,
    /// Set when the store could not confirm this is the tenant's active catalog.
    pub stale: Option<StaleReason>,
    /// `None` when no tenant catalog was involved (no tenant, none active, or stale).
    pub lookup: Option<Lookup>,
}

impl Selected {
    /// The value of [`CATALOG_HEADER`] for this answer.
    pub fn header_value(&self) -> String {
        let (source, digest) = match &self.source {
            Source::Embedded => ("embedded", self.catalog.info().digest.clone()),
            Source::Tenant(d) => ("tenant", d.to_string()),
        };
        match self.stale {
            None => format!("{source};digest=\"{digest}\""),
            Some(reason) => format!(
                "stale;source={source};digest=\"{digest}\";reason={}",
                reason.token()
            ),
        }
    }
}

/// What this instance knows of one tenant.
#[derive(Default)]
struct TenantState {
    /// The pointer's `active` as last read, and when (host milliseconds).
    pointer: Option<(Option<Digest>, u64)>,
    /// The last catalog loaded for this tenant: its last good one.
    catalog: Option<(Digest, Arc<Catalog>)>,
    /// An active digest that could not be loaded for a reason a retry within the TTL
    /// would not change (missing, invalid), and until when that is believed.
    refused: Option<(Digest, StaleReason, u64)>,
    /// Recency, for eviction.
    used: u64,
}

/// Bounded per-tenant state, least recently used evicted first.
struct Tenants {
    states: HashMap<TenantId, TenantState>,
    tick: u64,
    capacity: usize,
}

impl Tenants {
    fn entry(&mut self, tenant: &TenantId) -> &mut TenantState {
        self.tick += 1;
        if !self.states.contains_key(tenant) && self.states.len() >= self.capacity.max(1) {
            let oldest = self
                .states
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(t, _)| t.clone());
            if let Some(oldest) = oldest {
                self.states.remove(&oldest);
            }
        }
        let state = self.states.entry(tenant.clone()).or_default();
        state.used = self.tick;
        state
    }
}

type PointerFlight = Result<Option<Digest>, StaleReason>;
type LoadFlight = Result<Arc<Catalog>, StaleReason>;

pub(crate) struct Inner {
    pub store: Box<dyn Store>,
    pub base: Base,
    pub config: Config,
    pub guard: Guard,
    tenants: Mutex<Tenants>,
    pointer_flights: SingleFlight<TenantId, PointerFlight>,
    load_flights: SingleFlight<(TenantId, Digest), LoadFlight>,
    /// Serialises this instance's pointer updates (read, change, write).
    pub admin: futures_util::lock::Mutex<()>,
}

/// Tenants' catalogs over one store: what hosts call per request ([`Self::select`]) and
/// from their admin API (upload, list, activate, roll back). Cheap to clone.
#[derive(Clone)]
pub struct TenantCatalogs {
    pub(crate) inner: Arc<Inner>,
}

impl TenantCatalogs {
    /// Tenant catalogs in `store`, layered over `base`, timed by `host`.
    pub fn new(
        store: impl Store,
        base: Base,
        host: Arc<dyn Host>,
        config: Config,
        observer: Option<Box<dyn Observer>>,
    ) -> TenantCatalogs {
        let guard = Guard::new(
            host,
            config.breaker,
            config.max_reads_in_flight,
            config.retry,
            config.read_timeout,
            observer,
        );
        TenantCatalogs {
            inner: Arc::new(Inner {
                store: Box::new(store),
                base,
                config,
                guard,
                tenants: Mutex::new(Tenants {
                    states: HashMap::new(),
                    tick: 0,
                    capacity: config.max_tenants,
                }),
                pointer_flights: SingleFlight::new(),
                load_flights: SingleFlight::new(),
                admin: futures_util::lock::Mutex::new(()),
            }),
        }
    }

    /// The base catalog tenants layer over.
    pub fn base(&self) -> &Base {
        &self.inner.base
    }

    /// The circuit breaker's state now (for readiness and metrics).
    pub fn breaker_state(&self) -> crate::BreakerState {
        self.inner
            .guard
            .breaker
            .state(self.inner.guard.host.now_ms())
    }

    /// The catalog that answers `tenant`'s request (`None`: a request with no tenant).
    /// Never fails: when the store cannot be read, the answer is stale and says so.
    pub async fn select(&self, tenant: Option<&TenantId>) -> Selected {
        let inner = &self.inner;
        let Some(tenant) = tenant else {
            return inner.embedded(None, None);
        };
        let now = inner.guard.host.now_ms();
        let cached_pointer = inner.tenants().entry(tenant).pointer.clone();
        let active = match cached_pointer {
            Some((active, at))
                if now.saturating_sub(at) < inner.config.pointer_ttl.as_millis() as u64 =>
            {
                active
            }
            _ => {
                let (flight, _) = inner.pointer_flights.join(tenant.clone(), || {
                    let inner = self.inner.clone();
                    let tenant = tenant.clone();
                    Box::pin(async move { inner.read_pointer(&tenant).await })
                });
                match flight.await {
                    Ok(active) => active,
                    Err(reason) => return inner.fallback(tenant, reason),
                }
            }
        };
        let Some(digest) = active else {
            return inner.embedded(None, None);
        };
        {
            let mut tenants = inner.tenants();
            let state = tenants.entry(tenant);
            if let Some((d, catalog)) = &state.catalog
                && *d == digest
            {
                return Selected {
                    catalog: CatalogRef::Shared(catalog.clone()),
                    source: Source::Tenant(digest),
                    stale: None,
                    lookup: Some(Lookup::Hit),
                };
            }
            if let Some((d, reason, until)) = &state.refused
                && *d == digest
                && now < *until
            {
                let reason = *reason;
                drop(tenants);
                return inner.fallback(tenant, reason);
            }
        }
        let (flight, started) = inner
            .load_flights
            .join((tenant.clone(), digest.clone()), || {
                let inner = self.inner.clone();
                let tenant = tenant.clone();
                let digest = digest.clone();
                Box::pin(async move { inner.load(&tenant, &digest).await })
            });
        match flight.await {
            Ok(catalog) => Selected {
                catalog: CatalogRef::Shared(catalog),
                source: Source::Tenant(digest),
                stale: None,
                lookup: Some(if started {
                    Lookup::Miss
                } else {
                    Lookup::Coalesced
                }),
            },
            Err(reason) => inner.fallback(tenant, reason),
        }
    }
}

impl Inner {
    fn tenants(&self) -> MutexGuard<'_, Tenants> {
        // Each update is a few assignments to one entry; a poisoned map is still usable.
        self.tenants.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn embedded(&self, stale: Option<StaleReason>, lookup: Option<Lookup>) -> Selected {
        Selected {
            catalog: self.base.catalog().clone(),
            source: Source::Embedded,
            stale,
            lookup,
        }
    }

    /// The tenant's last good catalog, or the base one, marked stale.
    fn fallback(&self, tenant: &TenantId, reason: StaleReason) -> Selected {
        let last = self.tenants().entry(tenant).catalog.clone();
        match last {
            Some((digest, catalog)) => Selected {
                catalog: CatalogRef::Shared(catalog),
                source: Source::Tenant(digest),
                stale: Some(reason),
                lookup: None,
            },
            None => self.embedded(Some(reason), None),
        }
    }

    /// Reads the tenant's pointer through the guard and records what it says.
    async fn read_pointer(&self, tenant: &TenantId) -> PointerFlight {
        let bytes = self
            .guard
            .read(&*self.store, &pointer_key(tenant))
            .await
            .map_err(|f| StaleReason::from(&f))?;
        let active = match bytes {
            None => None,
            Some(bytes) => match serde_json::from_slice::<Pointer>(&bytes) {
                Ok(pointer) => pointer.active,
                Err(_) => return Err(StaleReason::PointerInvalid),
            },
        };
        self.remember_pointer(tenant, active.clone());
        Ok(active)
    }

    /// Records a pointer just read or written. A tenant with no active catalog has no
    /// last good one either: if the store fails later, the base catalog answers.
    pub(crate) fn remember_pointer(&self, tenant: &TenantId, active: Option<Digest>) {
        let now = self.guard.host.now_ms();
        let mut tenants = self.tenants();
        let state = tenants.entry(tenant);
        if active.is_none() {
            state.catalog = None;
        }
        state.pointer = Some((active, now));
    }

    /// Records a catalog just loaded for `digest`: the tenant's new last good one.
    pub(crate) fn remember_catalog(
        &self,
        tenant: &TenantId,
        digest: &Digest,
        catalog: Arc<Catalog>,
    ) {
        let mut tenants = self.tenants();
        let state = tenants.entry(tenant);
        state.catalog = Some((digest.clone(), catalog));
        state.refused = None;
    }

    /// Reads the artifact through the guard, layers it over the base and validates it.
    async fn load(&self, tenant: &TenantId, digest: &Digest) -> LoadFlight {
        let started = self.guard.host.now_ms();
        let bytes = self
            .guard
            .read(&*self.store, &artifact_key(tenant, digest))
            .await
            .map_err(|f| StaleReason::from(&f))?;
        let refuse = |reason: StaleReason, why: String| {
            let until = self.guard.host.now_ms() + self.config.pointer_ttl.as_millis() as u64;
            self.tenants().entry(tenant).refused = Some((digest.clone(), reason, until));
            self.guard.observe(Event::Refused {
                tenant: tenant.to_string(),
                digest: digest.to_string(),
                reason: why,
            });
            Err(reason)
        };
        let Some(bytes) = bytes else {
            return refuse(
                StaleReason::ArtifactMissing,
                "the pointer names an artifact the store does not have".to_owned(),
            );
        };
        match unpack(&self.base, tenant.as_str(), &bytes) {
            Ok(packed) if packed.digest == *digest => {
                self.remember_catalog(tenant, digest, packed.catalog.clone());
                self.guard.observe(Event::Loaded {
                    tenant: tenant.to_string(),
                    digest: digest.to_string(),
                    millis: self.guard.host.now_ms().saturating_sub(started),
                });
                Ok(packed.catalog)
            }
            Ok(packed) => refuse(
                StaleReason::ArtifactInvalid,
                format!(
                    "the stored bytes digest to {}, not to their key",
                    packed.digest
                ),
            ),
            Err(rejected) => refuse(StaleReason::ArtifactInvalid, rejected.to_string()),
        }
    }
}

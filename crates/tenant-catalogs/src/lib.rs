//! # aicr-tenant-catalogs — tenants' own catalogs, published at run time
//!
//! Upstream's CLI can layer an external catalog directory (`--data`) over its embedded
//! one; its server cannot, so a platform team that pins its own versions forks and
//! rebuilds. Here a tenant publishes its catalog at run time instead, and every host (the
//! native server, the edge worker, the WASI component) serves it with the same code:
//!
//! 1. **Pack and validate** ([`pack_dir`], [`pack_files`], [`unpack`]): a tenant's files
//!    become one content-addressed artifact ([`Digest`]); they are layered over the base
//!    catalog and put through exactly the build's loader ([`aicr_catalog::load_files`]),
//!    so every defect is named by file, field and reason ([`Defect`]) before anything is
//!    stored. `cargo xtask catalog pack DIR` and the hosts' upload route call the same
//!    function.
//! 2. **Layer** ([`Base`]): upstream's `--data` rules, file by file (see [`layer`]).
//! 3. **Store** ([`Store`]): three key-value methods a backend implements ([`DirStore`]
//!    for servers, [`MemoryStore`] for tests, Workers KV in the worker); the pointer
//!    document, activation history and key layout live here, once ([`TenantCatalogs`]'
//!    upload, list, activate, rollback, deactivate).
//! 4. **Read reliably** ([`TenantCatalogs::select`]): per-tenant cache with a pointer TTL,
//!    single-flight loads, a concurrency bulkhead, retries with jittered exponential
//!    backoff (backon), a circuit breaker, read timeouts, and stale fallback marked by
//!    the [`CATALOG_HEADER`] response header.
//!
//! 5. **Admin routes** (`routes`, feature `http`): upload, list, fetch, activate, roll
//!    back and deactivate as one HTTP answer, so the hosts' admin APIs answer alike.
//!
//! The crate owns no runtime: no tokio, no timers, no clock, no randomness of its own.
//! A host passes a [`Host`] (clock, sleep, random bits) and a [`Store`]; futures are plain
//! `async`, `Send` on native targets and not required to be on wasm, where the edge's
//! platform futures are not.

mod admin;
#[cfg(feature = "http")]
pub mod apis;
pub mod artifact;
mod breaker;
mod bulkhead;
mod catalogs;
pub mod fault;
mod flight;
mod guard;
mod host;
pub mod layer;
mod recent;
#[cfg(feature = "http")]
pub mod routes;
pub mod sample;
pub mod store;

pub use admin::{AdminError, Listing, MAX_HISTORY, Uploaded};
pub use artifact::{
    Defect, Digest, MAX_ARTIFACT_BYTES, MAX_FILE_BYTES, Origin, Packed, Rejected, pack_dir,
    pack_files, unpack,
};
pub use breaker::{Breaker, BreakerConfig, BreakerState, Permit, Refused, Transition};
pub use bulkhead::{Bulkhead, Slot};
pub use catalogs::{
    CATALOG_HEADER, Config, Lookup, Pointer, Selected, Source, StaleReason, TenantCatalogs,
    TenantId,
};
pub use guard::{Event, Observer, ReadFailure, RetryConfig};
pub use host::{BoxFuture, Host, MaybeSend, MaybeSync};
pub use layer::{Base, CatalogRef};
pub use recent::Recent;
pub use store::{DirStore, MemoryStore, Store, StoreError};

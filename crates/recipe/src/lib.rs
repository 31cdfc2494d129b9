//! # aicr-recipe — the recipe engine
//!
//! Criteria in, version-locked recipe out, with the semantics of upstream NVIDIA AICR
//! v0.11.1: asymmetric wildcard matching, overlay chains via `spec.base`, field-wise
//! component merge, registry defaults, lexicographically smallest deployment order,
//! values hydration and the `/v1/query` selector; and, for `/v2`, per-field provenance
//! (which overlay set what) and JSON Pointer selection.
//!
//! Pure by design: no I/O, no clock, no randomness, no globals. The same inputs give the
//! same bytes on native, `wasm32-unknown-unknown` and `wasm32-wasip2`, so every host
//! (HTTP API, WASI component, browser) can share it. It must never depend on HTTP, WIT,
//! JS or a runtime; those adapt to it from the crates above.
//!
//! ```
//! use aicr_recipe::{Catalog, CatalogParts, Criteria, Service};
//! let catalog = Catalog::new(CatalogParts::default()).unwrap();
//! let recipe = catalog.resolve(&Criteria { service: Service::Eks, ..Criteria::default() }).unwrap();
//! assert_eq!(recipe.applied_overlays, ["base"]);
//! ```

pub mod catalog;
pub mod criteria;
mod index;
pub mod model;
pub mod output;
pub mod pointer;
pub mod provenance;
pub mod query;
pub mod resolve;
pub mod values;

pub use catalog::{Catalog, CatalogError, CatalogInfo, CatalogParts, Overlay};
pub use criteria::{
    Accelerator, Criteria, CriteriaError, CriteriaErrorReason, Field, Intent, Os, Platform, Service,
};
pub use model::{ComponentRef, Constraint, Phase, RegistryEntry, Spec, Validation};
pub use output::{API_VERSION, CriteriaDoc, ENGINE_VERSION, RECIPE_KIND};
pub use pointer::{Pointer, PointerError, SelectError, Unresolved};
pub use provenance::{Provenance, WithProvenance};
pub use query::QueryError;
pub use resolve::{Recipe, ResolveError, ResolvedComponent};

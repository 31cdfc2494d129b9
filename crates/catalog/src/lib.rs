//! # aicr-catalog — load and validate a catalog directory
//!
//! Reads a catalog in the upstream AICR layout (`overlays/*.yaml`, `registry.yaml`,
//! `components/<name>/values*.yaml`, `components/<name>/manifests/*.yaml`), checks every
//! file, field and reachable recipe, and returns an [`aicr_recipe::Catalog`]. Every defect
//! is reported with the file, the field and the reason, so a broken catalog fails the
//! build instead of reaching a user as a 400 at request time.
//!
//! This crate does file I/O and YAML parsing; it runs at build time (from the embedded
//! catalog's `build.rs`) and in native tools. [`load_files`] runs the same checks on files
//! held in memory, for catalogs that arrive at run time (a tenant's upload, layered over
//! the embedded catalog by `aicr-tenant-catalogs`); that is its only use on a request path,
//! once per uploaded catalog, never per request.

mod digest;
mod documents;
mod load;

pub use load::{Diagnostic, Files, Loaded, Role, load_dir, load_files, role_of};

/// Diagnostics as text, one per line (for panics, logs and build failures).
pub fn describe(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

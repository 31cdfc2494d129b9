//! # aicr-catalog — load and validate a catalog directory
//!
//! Reads a catalog in the upstream AICR layout (`overlays/*.yaml`, `registry.yaml`,
//! `components/<name>/values*.yaml`, `components/<name>/manifests/*.yaml`), checks every
//! file, field and reachable recipe, and returns an [`aicr_recipe::Catalog`]. Every defect
//! is reported with the file, the field and the reason, so a broken catalog fails the
//! build instead of reaching a user as a 400 at request time.
//!
//! This crate does file I/O and YAML parsing; it runs at build time (from the embedded
//! catalog's `build.rs`) and in native tools, never on the request path in wasm.

mod digest;
mod documents;
mod load;

pub use load::{Diagnostic, Loaded, load_dir};

/// Diagnostics as text, one per line (for panics, logs and build failures).
pub fn describe(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

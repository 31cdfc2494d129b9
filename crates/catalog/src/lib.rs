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

/// The catalog directory a build embeds: `AICR_CATALOG_DIR` (absolute, or relative to
/// `workspace`), else `workspace/recipes`, canonicalised. Every build script that compiles
/// a catalog in asks this one function, so they cannot embed different catalogs. (The
/// caller prints `cargo:rerun-if-env-changed=AICR_CATALOG_DIR`.)
pub fn build_catalog_dir(workspace: &std::path::Path) -> Result<std::path::PathBuf, String> {
    let dir = match std::env::var_os("AICR_CATALOG_DIR") {
        Some(d) if !d.is_empty() => workspace.join(d),
        _ => workspace.join("recipes"),
    };
    dir.canonicalize().map_err(|e| {
        format!(
            "catalog directory {} cannot be opened: {e}\n(set AICR_CATALOG_DIR to an \
             upstream-format catalog directory)",
            dir.display()
        )
    })
}

/// Diagnostics as text, one per line (for panics, logs and build failures).
pub fn describe(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

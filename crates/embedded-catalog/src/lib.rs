//! # aicr-embedded-catalog — the catalog inside every build
//!
//! `build.rs` validates the catalog directory (our `recipes/`, or any upstream-format
//! directory named by `AICR_CATALOG_DIR`) and embeds it pre-parsed. The blob is decoded
//! once, on first use; no YAML is parsed and no file is read, so this works the same in
//! wasm hosts with no file system. The WASI component makes that first use at build time
//! (a wizer snapshot, see `crates/component`), so its instances never decode it.
//!
//! The blob is one `include_bytes!` of the engine's own data model rather than an
//! `include_dir!` of the YAML tree: it is smaller (no comments) and already validated. The
//! manifest templates, which only bundles read, are compiled in as static strings beside
//! it, so the decoded catalog borrows them instead of holding a second copy.

use aicr_recipe::{Catalog, CatalogParts};
use std::sync::OnceLock;

static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/catalog.json"));
/// Manifest templates by catalog path, as static text (bundles render them).
static MANIFESTS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/manifests.rs"));

/// The embedded catalog, decoded on first use.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut parts: CatalogParts =
            serde_json::from_slice(BLOB).expect("the embedded catalog was serialised by build.rs");
        parts.manifests = MANIFESTS
            .iter()
            .map(|(path, text)| ((*path).to_owned(), (*text).into()))
            .collect();
        Catalog::new(parts).expect("the embedded catalog was validated by build.rs")
    })
}

/// Size of the embedded blob in bytes (reported by size checks).
pub fn embedded_bytes() -> usize {
    BLOB.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_catalog_decodes_and_resolves() {
        let catalog = super::catalog();
        assert!(!catalog.info().digest.is_empty());
        let recipe = catalog.resolve(&Default::default()).unwrap();
        assert_eq!(recipe.applied_overlays, ["base", "monitoring-hpa"]);
    }
}

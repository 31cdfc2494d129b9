//! Shared by the engine's integration tests and benches: load a catalog directory of the
//! workspace (ours, or upstream's under ../shared when present).

use aicr_recipe::Catalog;
use std::path::PathBuf;

/// The catalog at `relative` (to the workspace root), or `None` when the directory is absent.
pub fn load(relative: &str) -> Option<Catalog> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative);
    dir.exists().then(|| {
        aicr_catalog::load_dir(&dir, relative)
            .unwrap_or_else(|e| panic!("{relative}:\n{}", aicr_catalog::describe(&e)))
            .catalog
    })
}

/// Our catalog and, when ../shared is present, upstream's.
pub const CATALOG_DIRS: [(&str, &str); 2] = [
    ("ours", "recipes"),
    ("upstream", "../shared/aicr-upstream/recipes"),
];

//! The project's own catalog loads cleanly (upstream's is covered in broken_catalogs.rs).

use std::path::PathBuf;

#[test]
fn our_catalog_loads_without_warnings() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../recipes");
    let loaded = aicr_catalog::load_dir(&dir, "aicr-edge")
        .unwrap_or_else(|e| panic!("{}", aicr_catalog::describe(&e)));
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    assert_eq!(loaded.catalog.overlays().len(), 37);
    assert_eq!(loaded.catalog.registry().len(), 19);
    assert_eq!(loaded.catalog.component_count(), 19);
}

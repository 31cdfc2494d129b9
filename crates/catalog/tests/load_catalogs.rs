//! The project's catalog and upstream's catalog both load; upstream's with warnings only.

use std::path::PathBuf;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn our_catalog_loads_without_warnings() {
    let loaded =
        aicr_catalog::load_dir(&workspace().join("recipes"), "aicr-edge").unwrap_or_else(|e| {
            panic!(
                "{}",
                e.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    assert_eq!(loaded.catalog.overlays().len(), 37);
    assert_eq!(loaded.catalog.registry().len(), 19);
}

#[test]
fn upstream_catalog_loads_unchanged() {
    let dir = workspace().join("../shared/aicr-upstream/recipes");
    if !dir.exists() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let loaded = aicr_catalog::load_dir(&dir, "upstream").unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    assert_eq!(loaded.catalog.overlays().len(), 37);
    let recipe = loaded
        .catalog
        .resolve(&aicr_recipe::Criteria {
            service: aicr_recipe::Service::Eks,
            accelerator: aicr_recipe::Accelerator::H100,
            intent: aicr_recipe::Intent::Training,
            os: aicr_recipe::Os::Ubuntu,
            ..Default::default()
        })
        .unwrap();
    println!("{}", serde_json::to_string_pretty(&recipe).unwrap());
}

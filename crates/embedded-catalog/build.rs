//! Loads and validates the catalog directory at build time and writes it pre-parsed (JSON
//! of the engine's `CatalogParts`) into OUT_DIR. A broken catalog stops the build here,
//! with every defect listed by file, field and reason.
//!
//! The directory is `AICR_CATALOG_DIR` (absolute, or relative to the workspace root) or,
//! by default, the workspace's `recipes/`. `AICR_CATALOG_NAME` labels it (default: the
//! directory's parent folder name, `aicr-edge` for our own catalog).

use std::path::{Path, PathBuf};

fn main() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    println!("cargo:rerun-if-env-changed=AICR_CATALOG_DIR");
    println!("cargo:rerun-if-env-changed=AICR_CATALOG_NAME");
    let dir = aicr_catalog::build_catalog_dir(&workspace).unwrap_or_else(|e| panic!("\n\n{e}\n"));
    println!("cargo:rerun-if-changed={}", dir.display());
    let ours = workspace.join("recipes").canonicalize().ok() == Some(dir.clone());
    let name = std::env::var("AICR_CATALOG_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            if ours {
                "aicr-edge".to_owned()
            } else {
                dir.parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "catalog".to_owned())
            }
        });
    let loaded = match aicr_catalog::load_dir(&dir, &name) {
        Ok(l) => l,
        Err(errors) => {
            let list: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
            panic!(
                "\n\nthe catalog in {} is broken ({} defect(s)); nothing was built:\n{}\n\n",
                dir.display(),
                errors.len(),
                list.join("\n")
            );
        }
    };
    for w in &loaded.warnings {
        println!("cargo:warning=catalog {}: {w}", dir.display());
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // Manifest templates go in as static strings (one copy, never decoded), the rest as
    // the engine's parts in JSON.
    let mut parts = loaded.catalog.parts().clone();
    let manifests = std::mem::take(&mut parts.manifests);
    let json = serde_json::to_vec(&parts).expect("catalog parts serialise");
    std::fs::write(out.join("catalog.json"), json).expect("write OUT_DIR/catalog.json");
    let texts = out.join("manifests");
    let _ = std::fs::remove_dir_all(&texts);
    std::fs::create_dir_all(&texts).expect("create OUT_DIR/manifests");
    let mut table = String::from("&[\n");
    for (i, (path, text)) in manifests.iter().enumerate() {
        std::fs::write(texts.join(format!("{i}.yaml")), text.as_bytes()).expect("write a manifest");
        table.push_str(&format!(
            "    ({path:?}, include_str!(concat!(env!(\"OUT_DIR\"), \"/manifests/{i}.yaml\"))),\n"
        ));
    }
    table.push_str("]\n");
    std::fs::write(out.join("manifests.rs"), table).expect("write OUT_DIR/manifests.rs");
}

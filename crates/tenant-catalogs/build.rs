//! Compiles in the source files of the catalog the build embeds, so a tenant's files can be
//! layered over them file by file, as upstream's CLI layers `--data` over its embedded
//! tree. `aicr-embedded-catalog` keeps the catalog pre-parsed, without the YAML; this keeps
//! the YAML of the few files the loader reads (overlays, registry, values, validators:
//! about 90 KB for ours). Manifest templates are not copied: the embedded catalog already
//! holds their text as static strings, and `Base::embedded` borrows it.
//!
//! The directory is the one `crates/embedded-catalog/build.rs` embeds, chosen by the same
//! function (`aicr_catalog::build_catalog_dir`: `AICR_CATALOG_DIR`, else the workspace's
//! `recipes/`); a test checks that the files
//! found here digest to the embedded catalog's digest, so the two can never disagree.

use std::path::{Path, PathBuf};

fn main() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    println!("cargo:rerun-if-env-changed=AICR_CATALOG_DIR");
    let dir = aicr_catalog::build_catalog_dir(&workspace).unwrap_or_else(|e| panic!("\n\n{e}\n"));
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    collect(&dir, &dir, &mut files);
    files.sort();
    let mut table = String::from("&[\n");
    for (rel, abs) in &files {
        table.push_str(&format!("    ({rel:?}, include_bytes!({abs:?})),\n"));
    }
    table.push_str("]\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("sources.rs"), table).expect("write OUT_DIR/sources.rs");
}

/// Every file below `dir` the loader reads, except manifest templates.
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read catalog directory {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(root, &path, out);
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .expect("below the catalog directory")
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        match aicr_catalog::role_of(&rel) {
            aicr_catalog::Role::Ignored | aicr_catalog::Role::Manifest => {}
            _ => out.push((rel, path.display().to_string())),
        }
    }
}

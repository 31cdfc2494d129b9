//! The build identity (`AICR_API_BUILD_IDENTITY`): hex SHA-256 over the source that decides
//! the bytes of an answer, so a strong ETag changes whenever those bytes can, even when
//! the catalog and the crate versions do not.
//!
//! Hashed, by relative path in sorted order (path and bytes, length-prefixed): the Rust
//! sources of the engine (`crates/recipe/src`), the catalog loader (`crates/catalog/src`: the catalog digest
//! covers the catalog's files, not how they are read), this crate (`crates/api/src`), and
//! `Cargo.lock` (the serialisers' versions decide the JSON and YAML bytes). Only file
//! contents go in, never timestamps, absolute paths, the target or the compiler, so native
//! and wasm builds of the same source get the same identity.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What is hashed, relative to the workspace root.
const INPUTS: [&str; 4] = [
    "crates/recipe/src",
    "crates/catalog/src",
    "crates/api/src",
    "Cargo.lock",
];

/// `path` itself if it is a file, else every Rust source under it (editors' scratch files
/// left beside the sources must not change the identity).
fn files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let entries = std::fs::read_dir(path)
            .unwrap_or_else(|e| panic!("build identity: cannot list {}: {e}", path.display()));
        for entry in entries {
            let entry = entry
                .unwrap_or_else(|e| panic!("build identity: cannot list {}: {e}", path.display()));
            let path = entry.path();
            if path.is_dir() || path.extension().is_some_and(|e| e == "rs") {
                files(&path, out);
            }
        }
    } else {
        out.push(path.to_owned());
    }
}

fn main() {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("../..");
    let mut all = Vec::new();
    for input in INPUTS {
        let path = root.join(input);
        assert!(
            path.exists(),
            "build identity: {} is missing (aicr-api builds inside its workspace)",
            path.display()
        );
        println!("cargo::rerun-if-changed={}", path.display());
        files(&path, &mut all);
    }
    let mut named: Vec<(String, PathBuf)> = all
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).unwrap_or(&path);
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            (name, path)
        })
        .collect();
    named.sort();
    let mut hasher = Sha256::new();
    for (name, path) in &named {
        let bytes = std::fs::read(path)
            .unwrap_or_else(|e| panic!("build identity: cannot read {}: {e}", path.display()));
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo::rustc-env=AICR_API_BUILD_IDENTITY={hex}");
}

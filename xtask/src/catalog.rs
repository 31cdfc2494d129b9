//! Which catalog a wasm build embeds, and where that build goes: every host is built with
//! ours (what ships) and, for conformance over HTTP, with upstream's. Each catalog keeps
//! its own target directory, shared by the hosts, so switching catalogs never rebuilds the
//! other one's artifacts.

use crate::steps::{Result, root};
use crate::toolchain::{WasmRoute, wasm_route, wasm_target_dir};
use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Catalog {
    /// `recipes/`, what ships.
    Ours,
    /// `../shared/aicr-upstream/recipes`, for conformance over HTTP.
    Upstream,
}

impl Catalog {
    /// The cargo target directory of wasm builds embedding this catalog.
    pub fn target_dir(self) -> PathBuf {
        match (self, wasm_route()) {
            (Catalog::Ours, route) => wasm_target_dir(route),
            (Catalog::Upstream, WasmRoute::Rustup) => root().join("target/upstream"),
            (Catalog::Upstream, WasmRoute::Debian) => root().join("target/deb-upstream"),
        }
    }

    /// Points a wasm cargo command at this catalog (ours needs nothing: it is the default).
    pub fn configure(self, cargo: &mut Command) -> Result {
        if self == Catalog::Upstream {
            cargo
                .env("AICR_CATALOG_DIR", crate::conformance::upstream_catalog()?)
                .env("CARGO_TARGET_DIR", self.target_dir());
        }
        Ok(())
    }
}

//! Which way this machine builds wasm, and the cargo command for it.
//!
//! Two routes, same commands: with rustup's wasm targets installed, plain cargo; without
//! them (no rustup, or its download server unreachable), Debian's `rustc-web` compiler
//! rebuilding std with `-Zbuild-std` (see shared/toolchain.md). The Debian route keeps its
//! own target directory so the two compilers never overwrite each other's artifacts.

use crate::steps::{Result, cargo, node_bin, output, root, run};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const WASM_UNKNOWN: &str = "wasm32-unknown-unknown";
pub const WASM_WASIP2: &str = "wasm32-wasip2";
pub const WASM_TARGETS: [&str; 2] = [WASM_UNKNOWN, WASM_WASIP2];

const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_STD_SRC: &str = "/usr/lib/rustlib/src/rust/library";
const DEBIAN_WASI_LIBC: &str = "/usr/lib/wasm32-wasi";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmRoute {
    /// rustup's prebuilt wasm std.
    Rustup,
    /// Debian rustc-web + rust-web-src, std rebuilt with -Zbuild-std.
    Debian,
}

/// True when the active rustc has a prebuilt std for `target`.
pub fn rustup_has_target(target: &str) -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    output(Command::new(rustc).args(["--print", "target-libdir", "--target", target]))
        .map(|dir| {
            std::fs::read_dir(dir.trim())
                .map(|entries| {
                    entries
                        .flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
                })
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// True when Debian's route is installed.
pub fn debian_route_installed() -> bool {
    Path::new(DEBIAN_RUSTC).exists()
        && Path::new(DEBIAN_CARGO).exists()
        && Path::new(DEBIAN_STD_SRC).exists()
        && Path::new(DEBIAN_WASI_LIBC).exists()
}

/// The route to use: `AICR_WASM_ROUTE=rustup|debian` forces one; otherwise rustup when it
/// has both targets, else Debian.
pub fn wasm_route() -> WasmRoute {
    static ROUTE: OnceLock<WasmRoute> = OnceLock::new();
    *ROUTE.get_or_init(|| match std::env::var("AICR_WASM_ROUTE").as_deref() {
        Ok("debian") => WasmRoute::Debian,
        Ok("rustup") => WasmRoute::Rustup,
        _ if WASM_TARGETS.iter().all(|t| rustup_has_target(t)) => WasmRoute::Rustup,
        _ => WasmRoute::Debian,
    })
}

/// Where a route puts its wasm artifacts (`<dir>/<target>/release/...`).
pub fn wasm_target_dir(route: WasmRoute) -> PathBuf {
    match route {
        WasmRoute::Rustup => root().join("target"),
        WasmRoute::Debian => root().join("target").join("deb"),
    }
}

/// Environment that makes a cargo (or a tool running cargo, like worker-build) use the
/// Debian route. Empty for rustup.
pub fn wasm_env(route: WasmRoute) -> Vec<(&'static str, String)> {
    match route {
        WasmRoute::Rustup => Vec::new(),
        WasmRoute::Debian => vec![
            ("RUSTC_BOOTSTRAP", "1".into()),
            ("RUSTC", DEBIAN_RUSTC.into()),
            ("CARGO", DEBIAN_CARGO.into()),
            (
                "CARGO_TARGET_DIR",
                wasm_target_dir(route).display().to_string(),
            ),
            ("CARGO_UNSTABLE_BUILD_STD", "std,panic_abort".into()),
            (
                "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
                format!("-L {DEBIAN_WASI_LIBC} -C link-self-contained=no"),
            ),
        ],
    }
}

/// A `cargo` for wasm builds on the current route.
pub fn wasm_cargo() -> Command {
    wasm_cargo_on(wasm_route())
}

/// A `cargo` for wasm builds on a given route.
pub fn wasm_cargo_on(route: WasmRoute) -> Command {
    let mut cmd = match route {
        WasmRoute::Rustup => cargo(),
        WasmRoute::Debian => {
            let mut c = Command::new(DEBIAN_CARGO);
            c.current_dir(root());
            c
        }
    };
    cmd.envs(wasm_env(route));
    cmd
}

/// Path of a wasm artifact built with cargo profile `profile` on the current route.
pub fn wasm_artifact(target: &str, profile: &str, file: &str) -> PathBuf {
    wasm_target_dir(wasm_route())
        .join(target)
        .join(profile)
        .join(file)
}

/// The wasm features rustc's wasm32 target and wasm-bindgen's glue use, named explicitly:
/// the release profile strips the `target_features` section wasm-opt would read, and an
/// explicit list keeps wasm-opt from emitting encodings a runtime may not have yet.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-bulk-memory-opt",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
    "--enable-exception-handling",
];

/// Optimises a wasm file in place with npm binaryen's `wasm-opt` and `options` (`-O`, `-Oz`;
/// `-g` keeps names).
/// Debian's older binaryen breaks wasm-bindgen's externref table (shared/toolchain.md §4).
pub fn wasm_opt(options: &[&str], wasm: &Path) -> Result {
    run(Command::new(node_bin("wasm-opt"))
        .args(options)
        .args(WASM_FEATURES)
        .arg(wasm)
        .arg("-o")
        .arg(wasm))
}

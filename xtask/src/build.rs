//! `cargo xtask build`: native workspace, then the wasm crates on both targets.

use crate::install;
use crate::steps::{self, Result, cargo};
use crate::toolchain::{WASM_TARGETS, WasmRoute, wasm_cargo_on, wasm_route};

/// Crates that must compile for both wasm targets (the engine and what hosts share).
pub const PORTABLE_CRATES: &[&str] = &["aicr-recipe", "aicr-embedded-catalog", "aicr-api"];

pub fn run(args: &[String]) -> Result {
    if let Some(extra) = args.first() {
        return Err(format!("build takes no arguments, got {extra:?}"));
    }
    install::wasm_std()?;
    run_native()?;
    portable_wasm()?;
    crate::web::build()?;
    crate::component::build()?;
    crate::worker::build_shipped()
}

/// The native crates (the workspace's default members; the wasm hosts are built per target
/// below: a component `cdylib` does not link as a native shared library).
pub fn run_native() -> Result {
    steps::run(cargo().args(["build", "--all-targets"]))
}

/// Builds the portable crates for both wasm targets (release, as shipped) on this
/// machine's route.
pub fn portable_wasm() -> Result {
    portable_wasm_on(wasm_route())
}

/// The same build forced onto Debian's `rustc-web` + `-Zbuild-std` route, so the fallback
/// that machines without rustup's wasm targets take is proven on every run.
pub fn portable_wasm_debian_route() -> Result {
    install::apt_install(install::DEBIAN_WASM_PACKAGES)?;
    portable_wasm_on(WasmRoute::Debian)
}

fn portable_wasm_on(route: WasmRoute) -> Result {
    eprintln!("wasm route: {route:?}");
    for target in WASM_TARGETS {
        let mut cmd = wasm_cargo_on(route);
        cmd.args(["build", "--release", "--target", target]);
        for krate in PORTABLE_CRATES {
            cmd.args(["-p", krate]);
        }
        steps::run(&mut cmd)?;
    }
    Ok(())
}

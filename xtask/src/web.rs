//! The recipe explorer (`www/`): build its wasm, check its size budget, drive it in
//! headless Chromium for the end-to-end tests and the browser bench.
//!
//! Build: `aicr-web` for wasm32-unknown-unknown, `wasm-bindgen --target web` (pinned CLI
//! matching the crate) into `www/pkg/`, then npm binaryen's `wasm-opt -Oz` (Debian's older
//! binaryen breaks wasm-bindgen's externref table; see shared/toolchain.md §4). The
//! Chromium tests and the bench are node scripts under `tests/js/` using playwright-core
//! with Debian's `/usr/bin/chromium`; the page is served from 127.0.0.1 by a plain static
//! server, and the expected recipes come from the native engine.

use crate::setup;
use crate::steps::{Result, output, root, run};
use crate::toolchain::{WASM_UNKNOWN, wasm_artifact, wasm_cargo};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Must equal the `wasm-bindgen` crate version pinned in the root Cargo.toml.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
/// The page's wasm budget, gzip -9 bytes.
pub const WASM_GZIP_BUDGET: u64 = 400 * 1024;
/// Criteria of the main end-to-end check (the example).
const MAIN_CRITERIA: &[(&str, &str)] =
    &[("service", "eks"), ("accelerator", "h100"), ("os", "ubuntu"), ("intent", "training")];
/// Criteria B of the compare check.
const COMPARE_CRITERIA: &[(&str, &str)] =
    &[("service", "gke"), ("accelerator", "h100"), ("os", "cos"), ("intent", "inference")];

fn www() -> PathBuf {
    root().join("www")
}

fn pkg_wasm() -> PathBuf {
    www().join("pkg/aicr_web_bg.wasm")
}

fn test_output() -> PathBuf {
    root().join("target/test-output")
}

fn node_bin(name: &str) -> PathBuf {
    root().join("node_modules/.bin").join(name)
}

/// What the explorer's build and tests need beyond the wasm std.
pub fn setup() -> Result {
    setup::apt_install(&["chromium"])?;
    setup::npm_install(".")?;
    setup::cargo_tool("wasm-bindgen", "wasm-bindgen-cli", WASM_BINDGEN_VERSION, false)
}

/// Builds `www/pkg/` (wasm-bindgen output, size-optimised).
pub fn build() -> Result {
    setup()?;
    run(wasm_cargo().args(["build", "--release", "-p", "aicr-web", "--target", WASM_UNKNOWN]))?;
    let pkg = www().join("pkg");
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(&pkg)
        .arg(wasm_artifact(WASM_UNKNOWN, "aicr_web.wasm")))?;
    let wasm = pkg_wasm();
    run(Command::new(node_bin("wasm-opt")).arg("-Oz").arg(&wasm)
        .arg("-o")
        .arg(&wasm))?;
    eprintln!("explorer wasm: {} bytes, {} gzip", file_len(&wasm)?, gzip_len(&wasm)?);
    Ok(())
}

fn file_len(path: &Path) -> Result<u64> {
    std::fs::metadata(path).map(|m| m.len()).map_err(|e| format!("{}: {e}", path.display()))
}

/// gzip -9 size of a file (the budget's measure).
pub fn gzip_len(path: &Path) -> Result<u64> {
    let mut child = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    let mut n = 0u64;
    let mut buf = [0u8; 64 * 1024];
    let mut out = child.stdout.take().ok_or("gzip has no stdout")?;
    loop {
        let read = out.read(&mut buf).map_err(|e| e.to_string())?;
        if read == 0 {
            break;
        }
        n += read as u64;
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() { Ok(n) } else { Err(format!("gzip {} failed", path.display())) }
}

/// Test step: the page's wasm is within budget (builds it first).
pub fn size_budget() -> Result {
    build()?;
    let gz = gzip_len(&pkg_wasm())?;
    eprintln!("explorer wasm gzip -9: {gz} bytes (budget {WASM_GZIP_BUDGET})");
    if gz <= WASM_GZIP_BUDGET { Ok(()) } else { Err(format!("explorer wasm is {gz} B gzip, over the {WASM_GZIP_BUDGET} B budget")) }
}

//! Installers: the bottom layer of xtask. Each installs one kind of tool idempotently (apt
//! packages, npm folders, cargo-installed CLIs, the wasm std), every probe and download
//! under a time limit, so a machine without network fails fast with a clear message
//! instead of hanging. Host modules and commands call these; these call nothing above.

use crate::steps::{self, Result, output, root};
use crate::toolchain::{WASM_TARGETS, debian_route_installed, rustup_has_target};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Seconds allowed for one `rustup target add` (its server is not promised here).
const RUSTUP_TIMEOUT: &str = "120";
/// Seconds allowed for apt and npm steps.
const PACKAGE_TIMEOUT: &str = "900";

/// The wasm-bindgen CLI must be exactly the `wasm-bindgen` crate version in Cargo.lock
/// (pinned with `=` in the workspace manifest).
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";

/// Installs that CLI. Unlocked: its lockfile pins a crate version this registry lacks.
/// It runs for a fraction of a second per build, so it is built quickly, not optimised.
pub fn wasm_bindgen_cli() -> Result {
    cargo_tool(
        "wasm-bindgen",
        "wasm-bindgen-cli",
        WASM_BINDGEN_VERSION,
        false,
        Profile::Quick,
    )
}

/// The wasmtime CLI the README's `wasmtime run` / `wasmtime serve` commands are tested and
/// measured with: the newest release whose MSRV this toolchain meets (shared/toolchain.md).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Installs it (locked, as released, optimised: it is measured). About 17 minutes on two
/// cores, once; later runs find it in cargo's bin folder.
pub fn wasmtime_cli() -> Result {
    eprintln!("wasmtime {WASMTIME_VERSION}: a one-time build of about 17 minutes on 2 cores");
    cargo_tool(
        "wasmtime",
        "wasmtime-cli",
        WASMTIME_VERSION,
        true,
        Profile::AsReleased,
    )
}

/// The schemathesis release the API's OpenAPI document is fuzzed with (PyPI).
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// Installs schemathesis at [`SCHEMATHESIS_VERSION`] unless it is there at that version,
/// and returns the CLI's path.
pub fn schemathesis() -> Result<PathBuf> {
    let venv = python_tool("schemathesis", SCHEMATHESIS_VERSION, |v| {
        v.contains(SCHEMATHESIS_VERSION)
    })?;
    Ok(venv.join("bin/schemathesis"))
}

/// A PyPI tool pinned at `version` in its own virtual environment under `target/tools/NAME`
/// (the workspace's, never the system's Python), installed unless the venv's `NAME
/// --version` already satisfies `installed`; returns the venv. Debian's python3 lacks
/// `venv` until `python3-venv` is installed, so a failing `python3 -m venv` installs it and
/// tries once more.
fn python_tool(name: &str, version: &str, installed: impl Fn(&str) -> bool) -> Result<PathBuf> {
    let venv = root().join("target/tools").join(name);
    let have = output(Command::new(venv.join("bin").join(name)).arg("--version"))
        .is_some_and(|v| installed(&v));
    if have {
        return Ok(venv);
    }
    let create = || {
        steps::run(
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
        )
    };
    if create().is_err() {
        apt_install(&["python3-venv"])?;
        create()?;
    }
    steps::run(
        Command::new("timeout")
            .arg(PACKAGE_TIMEOUT)
            .arg(venv.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check"])
            .arg(format!("{name}=={version}")),
    )?;
    Ok(venv)
}

/// Debian packages of the `-Zbuild-std` route.
pub const DEBIAN_WASM_PACKAGES: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "wasi-libc",
    "lld-22",
];

/// A wasm std for both targets: rustup's if it can be had, else Debian's route.
pub fn wasm_std() -> Result {
    let missing: Vec<&str> = WASM_TARGETS
        .iter()
        .copied()
        .filter(|t| !rustup_has_target(t))
        .collect();
    if missing.is_empty() {
        eprintln!("setup: rustup wasm targets present");
        return Ok(());
    }
    if output(Command::new("rustup").arg("--version")).is_some() {
        let added = steps::run(
            Command::new("timeout")
                .arg(RUSTUP_TIMEOUT)
                .args(["rustup", "target", "add"])
                .args(&missing),
        );
        if added.is_ok() && missing.iter().all(|t| rustup_has_target(t)) {
            return Ok(());
        }
        eprintln!(
            "setup: rustup could not add {missing:?}; falling back to Debian's rustc-web route"
        );
    }
    if debian_route_installed() {
        eprintln!("setup: Debian rustc-web route present");
        return Ok(());
    }
    apt_install(DEBIAN_WASM_PACKAGES)
}

/// Installs Debian packages that are not installed yet (`apt-get update` first, once).
pub fn apt_install(packages: &[&str]) -> Result {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            output(Command::new("dpkg-query").args(["-W", "-f", "${Status}", p]))
                .is_none_or(|s| !s.contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let sudo = |cmd: &str| -> Command {
        let is_root = output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() == "0");
        let mut c = if is_root {
            Command::new("timeout")
        } else {
            let mut c = Command::new("sudo");
            c.arg("timeout");
            c
        };
        c.args([PACKAGE_TIMEOUT, cmd]);
        c
    };
    steps::run(sudo("apt-get").arg("update").arg("-q"))?;
    steps::run(
        sudo("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q"])
            .args(&missing),
    )
}

/// Debian packages that build and run OCI images without a daemon: `buildah` builds,
/// `podman` runs, with `runc` as its runtime (Debian's default `crun` refuses hosts whose
/// cgroups are in hybrid v1/v2 mode, as this machine's are).
pub const CONTAINER_PACKAGES: &[&str] = &["buildah", "podman", "runc"];

/// Debian packages of the load-balancer tests: HAProxy, `socat` for its runtime API (what
/// deploy/blue-green.sh speaks), wrk for the load and curl for the smoke checks.
pub const HAPROXY_PACKAGES: &[&str] = &["haproxy", "socat", "wrk", "curl"];

/// The kubernetes-validate release (PyPI) deploy/'s manifests are validated with: it ships
/// Kubernetes' JSON schemas for 1.25 to 1.37, strict variants included, so it needs no
/// network after install.
pub const KUBERNETES_VALIDATE_VERSION: &str = "1.37.0";

/// Installs kubernetes-validate at [`KUBERNETES_VALIDATE_VERSION`] unless it is there at
/// that version, and returns the venv's Python (deploy/check/validate.py imports the
/// package and its jsonschema).
pub fn kubernetes_validate() -> Result<PathBuf> {
    let venv = python_tool("kubernetes-validate", KUBERNETES_VALIDATE_VERSION, |v| {
        v.trim() == KUBERNETES_VALIDATE_VERSION
    })?;
    Ok(venv.join("bin/python"))
}

/// `rustup target add` for one target, under [`RUSTUP_TIMEOUT`]; false when rustup is
/// missing, refuses or times out (its server is not promised here).
pub fn rustup_target(target: &str) -> bool {
    if rustup_has_target(target) {
        return true;
    }
    output(Command::new("rustup").arg("--version")).is_some()
        && steps::run(
            Command::new("timeout")
                .arg(RUSTUP_TIMEOUT)
                .args(["rustup", "target", "add", target]),
        )
        .is_ok()
        && rustup_has_target(target)
}

/// `npm ci` (or `npm install` without a lock) in a folder of the workspace, skipped when
/// `node_modules` is newer than `package.json` and the lock.
pub fn npm_install(dir: &str) -> Result {
    let dir = root().join(dir);
    let modules = dir.join("node_modules");
    let stamp = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    let fresh = stamp(&modules).is_some_and(|m| {
        ["package.json", "package-lock.json"]
            .iter()
            .all(|f| stamp(&dir.join(f)).is_none_or(|t| t <= m))
    });
    if fresh {
        return Ok(());
    }
    let verb = if dir.join("package-lock.json").exists() {
        "ci"
    } else {
        "install"
    };
    steps::run(
        Command::new("timeout")
            .args([PACKAGE_TIMEOUT, "npm", verb, "--no-audit", "--no-fund"])
            .current_dir(&dir),
    )?;
    std::fs::File::open(&modules)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        .ok();
    Ok(())
}

/// How a cargo-installed tool is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The tool's own release profile: for tools whose speed is measured.
    AsReleased,
    /// No LTO, many codegen units, opt-level 1: for tools that run for a fraction of a
    /// second per build, where compile time is what a newcomer waits for.
    Quick,
}

/// Installs a cargo tool at an exact version unless `bin --version` already reports it.
fn cargo_tool(bin: &str, krate: &str, version: &str, locked: bool, profile: Profile) -> Result {
    let have = output(Command::new(bin).arg("--version")).is_some_and(|v| v.contains(version));
    if have {
        return Ok(());
    }
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["install", krate, "--version", version]);
    if locked {
        cmd.arg("--locked");
    }
    if profile == Profile::Quick {
        cmd.envs(QUICK_RELEASE_PROFILE.iter().copied());
    }
    steps::run(&mut cmd)
}

/// Release-profile overrides for cargo-installed tools (config beats the tool's manifest).
const QUICK_RELEASE_PROFILE: &[(&str, &str)] = &[
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
    ("CARGO_PROFILE_RELEASE_INCREMENTAL", "false"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn wasm_bindgen_cli_matches_the_locked_crate() {
        let lock = std::fs::read_to_string(super::root().join("Cargo.lock")).unwrap();
        let locked = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"wasm-bindgen\"\n"))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
            .map(|v| v.trim_end_matches('"'))
            .expect("wasm-bindgen is in Cargo.lock");
        assert_eq!(locked, super::WASM_BINDGEN_VERSION);
    }
}

//! `cargo xtask conformance`: replays recorded upstream cases (see aicr-conformance).

use crate::steps::{Result, root};
pub use aicr_conformance::{EnvCases, Options, Upstream};

pub fn run(args: &[String]) -> Result {
    run_with(&Options::from_args(args)?)
}

pub fn run_with(options: &Options) -> Result {
    let summary = aicr_conformance::run(options)?;
    if summary.failed == 0 {
        Ok(())
    } else {
        Err(format!("{} case(s) failed", summary.failed))
    }
}

/// The upstream material beside this checkout; `None` when `../shared` is absent (a
/// checkout on its own cannot run the upstream cases), after recording a skip — which
/// fails under CI.
pub fn upstream_or_skip() -> Result<Option<Upstream>> {
    let found = Upstream::beside(&root());
    if found.is_none() {
        crate::steps::skip(format!(
            "{} is absent, so the upstream conformance cases cannot run",
            root().join("../shared").display()
        ))?;
    }
    Ok(found)
}

/// Upstream's catalog directory, for builds that embed it.
pub fn upstream_catalog() -> Result<std::path::PathBuf> {
    let upstream = Upstream::beside(&root())
        .ok_or("../shared is absent: no upstream catalog to build with")?;
    upstream
        .catalog
        .canonicalize()
        .map_err(|e| format!("{}: {e}", upstream.catalog.display()))
}

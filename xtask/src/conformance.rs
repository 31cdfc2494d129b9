//! `cargo xtask conformance`: replays recorded upstream cases (see aicr-conformance).

use crate::steps::Result;
pub use aicr_conformance::{EnvCases, Options};

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

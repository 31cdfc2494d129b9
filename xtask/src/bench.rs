//! `cargo xtask bench`: runs the criterion benches and prints one table of medians.

use crate::steps::Result;

pub fn run(_args: &[String]) -> Result {
    Err("not wired yet".into())
}

//! `cargo xtask setup`: installs what every build and test needs, idempotently, by asking
//! each host module for its tools (the installers themselves live in `install`).

use crate::steps::Result;

pub fn run(args: &[String]) -> Result {
    if let Some(extra) = args.first() {
        return Err(format!("setup takes no arguments, got {extra:?}"));
    }
    crate::install::wasm_std()?;
    crate::web::setup()?;
    crate::web::test_setup()?;
    crate::worker::setup()?;
    crate::component::setup()?;
    crate::install::schemathesis()?;
    crate::install::wasmtime_cli()
}

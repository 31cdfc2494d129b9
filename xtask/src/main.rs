//! `cargo xtask <command>`: the project's build tooling, in Rust so it runs wherever cargo
//! does. Every external tool it needs is installed by `setup` (idempotent, every probe
//! time-limited), and `test` runs everything the project has — it is the README's test
//! command and what `.ci/run` calls.

mod bench;
mod build;
mod catalog;
mod catalog_pack;
mod component;
mod conformance;
mod deploy;
mod haproxy;
mod image;
mod install;
mod key;
mod load;
mod native;
mod schemathesis;
mod serve;
mod server;
mod serving;
mod setup;
mod steps;
mod test;
mod toolchain;
mod wasmtime_cli;
mod web;
mod worker;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  setup         install what the build needs (wasm std, npm tools, wasm-bindgen); idempotent
  build         build native and both wasm targets (wasm32-unknown-unknown, wasm32-wasip2)
  test          run every check the project has (what CI runs)
  bench         [--only engine|explorer|http|component|server] [--aicrd PATH]
                run the benchmarks and print one table (PATH: a user's upstream aicrd
                binary, measured under the same load as our HTTP servers)
  key           new --tenant NAME | list | revoke ID: mint API keys into a tenants document
                (.aicr/tenants.json; only HMAC hashes are stored, the key is shown once)
  catalog       pack DIR [--out PATH]  validate a tenant's catalog directory layered over
                the embedded catalog and write it as <sha256>.aicr-catalog for upload
  conformance   --catalog DIR --cases DIR [--deviations FILE] [--url BASE]
                replay recorded upstream cases in-process or against a live server
  image         [spin]  build aicr-server statically into an OCI image FROM scratch
                (localhost/aicr-server:VERSION; prints the route and the size), or with
                `spin` the component as SpinKube's image (localhost/aicr-spin:VERSION)
  profile       [PATH?QUERY] [--requests N]  V8's CPU profile of the edge worker in workerd
                under a bounded load of one path (the recipe by default): where its time goes
  serve         [--port N]  build, then run the API and the explorer in local workerd
                (wrangler dev, 127.0.0.1:8787 by default) until Ctrl-C
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "setup" => setup::run(rest),
        "build" => build::run(rest),
        "test" => test::run(rest),
        "bench" => bench::run(rest),
        "catalog" => catalog_pack::run(rest),
        "conformance" => conformance::run(rest),
        "key" => key::run(rest),
        "image" => image::run(rest),
        "profile" => worker::profile(rest),
        "serve" => serve::run(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask {command}: {message}");
            ExitCode::FAILURE
        }
    }
}

//! `cargo xtask <command>`: the project's build tooling, in Rust so it runs wherever cargo
//! does. Every external tool it needs is installed by `setup` (idempotent, every probe
//! time-limited), and `test` runs everything the project has — it is the README's test
//! command and what `.ci/run` calls.
//!
//! Its modules depend on each other in one direction only (a test below keeps it so):
//! shared plumbing (`steps`, `toolchain`, `install`, `load`, `catalog`, `conformance`,
//! `native`, `key`, `catalog_pack`) at the bottom; above it one module per host or
//! artifact (`web`, `component`, `worker`, `wasmtime_cli`, `server`, `image`); the commands
//! and suites that combine hosts (`setup`, `build`, `serve`, `serving`, `deploy`,
//! `haproxy`, `schemathesis`, and then `bench` and `test`) on top.

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

#[cfg(test)]
mod layering {
    use std::collections::{BTreeMap, BTreeSet};

    /// Each module of this crate and the modules it names as `crate::<module>`.
    fn imports() -> BTreeMap<String, BTreeSet<String>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut graph = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let Some(module) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).unwrap();
            let mut named = BTreeSet::new();
            for (at, _) in text.match_indices("crate::") {
                let rest = &text[at + "crate::".len()..];
                if let Some(group) = rest.strip_prefix('{') {
                    let group = &group[..group.find('}').unwrap_or(group.len())];
                    named.extend(
                        group
                            .split(',')
                            .map(|m| m.trim().split("::").next().unwrap_or("").to_owned()),
                    );
                } else {
                    let end = rest
                        .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                        .unwrap_or(rest.len());
                    named.insert(rest[..end].to_owned());
                }
            }
            named.remove(module);
            named.remove("");
            graph.insert(module.to_owned(), named);
        }
        graph
    }

    #[test]
    fn modules_import_each_other_in_one_direction_only() {
        let graph = imports();
        // Depth-first search; a module met again while still on the path closes a circle.
        fn visit<'a>(
            module: &'a str,
            graph: &'a BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<&'a str>,
            done: &mut BTreeSet<&'a str>,
        ) {
            if let Some(at) = path.iter().position(|m| *m == module) {
                panic!(
                    "xtask modules import each other in a circle: {} -> {module}",
                    path[at..].join(" -> ")
                );
            }
            if !done.insert(module) {
                return;
            }
            path.push(module);
            for next in graph.get(module).into_iter().flatten() {
                visit(next, graph, path, done);
            }
            path.pop();
        }
        let mut done = BTreeSet::new();
        for module in graph.keys() {
            visit(module, &graph, &mut Vec::new(), &mut done);
        }
        assert!(
            graph["worker"].contains("install"),
            "the scan reads imports: {graph:?}"
        );
    }
}

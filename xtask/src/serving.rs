//! The HTTP servers side by side under one wrk load (`load`), for `cargo xtask bench`:
//!
//! - the floor: a hello-world worker in the same workerd, the most any worker can do there;
//! - our worker in workerd itself (no wrangler proxy: that is the dev server, not what the
//!   platform runs), on `/health`, `/v1/recipe`, a deep `/v1/query` and a Helm bundle;
//! - the component under the real `wasmtime serve` (a fresh instance per request, as the
//!   wasi:http proxy model allows), on the same paths;
//! - upstream's `aicrd`, when the user names its binary (`--aicrd PATH`).
//!
//! Each row says what share of its floor it reaches and how it compares with `aicrd`.

use crate::load::{self, Load};
use crate::steps::{Result, Row, root};
use aicr_worker_e2e::{LocalWorker, free_port};
use std::path::Path;
use std::process::Command;

pub const RECIPE: &str = "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";
pub const QUERY: &str = "/v1/query?service=eks&accelerator=h100&os=ubuntu&intent=training&selector=components.gpu-operator.values.driver.version";
const PATHS: [(&str, &str); 3] = [("/health", "/health"), ("recipe", RECIPE), ("query", QUERY)];
/// A Helm bundle by GET (ours; upstream has only POST): the edge's free plan allows 10 ms of
/// CPU a request, and workerd serves one request at a time, so µs/request is its CPU cost.
pub const BUNDLE: &str = "/v1/bundle?service=eks&accelerator=h100&os=ubuntu&intent=training";

/// A hello-world worker: the floor of the workerd that runs ours.
fn hello_world() -> Result<std::path::PathBuf> {
    let dir = root().join("target/worker/hello");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(
        dir.join("index.js"),
        "export default { fetch() { return new Response('hello'); } };\n",
    )
    .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// Upstream's server from the user's binary, on a free port (`PORT`, as aicrd reads it).
fn aicrd(binary: &Path) -> Result<LocalWorker> {
    let port = free_port()?;
    let mut cmd = Command::new(binary);
    cmd.env("PORT", port.to_string());
    LocalWorker::spawn(cmd, "aicrd", port)
}

struct Measured {
    server: &'static str,
    path: &'static str,
    load: Load,
}

pub fn bench_rows(aicrd_binary: Option<&Path>) -> Result<Vec<Row>> {
    let mut measured = Vec::new();
    let mut measure =
        |server: &'static str, base: &LocalWorker, paths: &[(&'static str, &str)]| -> Result {
            for (path, target) in paths {
                let load = load::run(&base.url(target))?;
                eprintln!("{server} {path}: {:.0} req/s", load.requests_per_second);
                measured.push(Measured { server, path, load });
            }
            Ok(())
        };
    let floor = LocalWorker::direct(&hello_world()?, &[])?;
    measure("workerd hello-world", &floor, &[("/", "/")])?;
    drop(floor);
    let worker = LocalWorker::direct(&crate::worker::built(crate::catalog::Catalog::Ours)?, &[])?;
    measure("worker in workerd", &worker, &PATHS)?;
    measure("worker in workerd", &worker, &[("bundle", BUNDLE)])?;
    drop(worker);
    crate::install::wasmtime_cli()?;
    let wasm = crate::component::build_wasm(crate::catalog::Catalog::Ours)?;
    let serve = crate::wasmtime_cli::serve(&wasm, &Default::default())?;
    measure("component, wasmtime serve", &serve, &PATHS)?;
    drop(serve);
    if let Some(binary) = aicrd_binary {
        let upstream = aicrd(binary)?;
        measure("aicrd", &upstream, &PATHS)?;
    }
    let find = |server: &str, path: &str| {
        measured
            .iter()
            .find(|m| m.server == server && m.path == path)
            .map(|m| m.load)
    };
    let hello = find("workerd hello-world", "/");
    Ok(measured
        .iter()
        .map(|m| {
            let mut note = format!(
                "p50 {:.2} ms, p99 {:.2} ms, {:.0} µs/request",
                m.load.p50_ns / 1e6,
                m.load.p99_ns / 1e6,
                m.load.cost_ns() / 1e3
            );
            if let (Some(h), "worker in workerd") = (hello, m.server) {
                note += &format!(
                    "; {:.2}× the hello-world's cost",
                    m.load.cost_ns() / h.cost_ns()
                );
            }
            if let Some(a) = find("aicrd", m.path).filter(|_| m.server != "aicrd") {
                note += &format!(
                    "; {:.2}× aicrd's req/s",
                    m.load.requests_per_second / a.requests_per_second
                );
            }
            Row {
                name: format!("{}: GET {} throughput", m.server, m.path),
                value: m.load.requests_per_second,
                unit: "req/s",
                note: format!("{note} ({})", load::describe()),
            }
        })
        .collect())
}

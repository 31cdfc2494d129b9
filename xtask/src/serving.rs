//! The HTTP servers side by side under one wrk load (`load`), for `cargo xtask bench`:
//!
//! - workerd's floors: a hello-world worker in the same workerd (the most any worker can do
//!   there), and a JS worker that returns the recipe's very bytes and headers, ready-made
//!   (the most any worker can do with that answer: the platform's own cost of its headers
//!   and body);
//! - our worker in workerd itself (no wrangler proxy: that is the dev server, not what the
//!   platform runs), on `/health`, `/v1/recipe`, a deep `/v1/query` and a Helm bundle;
//! - `wasmtime serve`'s floor, a hello-world component (`tests/wasi-http-hello`), and our
//!   component under the same command (a fresh instance per request, as the wasi:http
//!   proxy model allows), on the same paths;
//! - upstream's `aicrd`, when the user names its binary (`--aicrd PATH`).
//!
//! Each row says how its cost compares with its runtime's floors and how its throughput
//! compares with `aicrd`'s.

use crate::load::{self, Load};
use crate::load::{QUERY, RECIPE};
use crate::steps::{Result, Row, root};
use aicr_worker_e2e::{LocalWorker, free_port};
use std::path::{Path, PathBuf};
use std::process::Command;

const PATHS: [(&str, &str); 3] = [("/health", "/health"), ("recipe", RECIPE), ("query", QUERY)];
/// A Helm bundle by GET (ours; upstream has only POST): the edge's free plan allows 10 ms of
/// CPU a request, and workerd serves one request at a time, so µs/request is its CPU cost.
pub const BUNDLE: &str = "/v1/bundle?service=eks&accelerator=h100&os=ubuntu&intent=training";

const WORKERD_HELLO: &str = "workerd hello-world";
const WORKERD_SAME_ANSWER: &str = "workerd, the recipe's answer ready-made in JS";
const WORKER: &str = "worker in workerd";
const WASMTIME_HELLO: &str = "wasmtime serve hello-world";
const COMPONENT: &str = "component, wasmtime serve";
const AICRD: &str = "aicrd";

/// A JS worker in `target/worker/NAME` whose module is `source`.
fn js_worker(name: &str, source: &str) -> Result<PathBuf> {
    let dir = root().join("target/worker").join(name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(dir.join("index.js"), source).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// A hello-world worker: the floor of the workerd that runs ours.
fn hello_worker() -> Result<PathBuf> {
    js_worker(
        "hello",
        "export default { fetch() { return new Response('hello'); } };\n",
    )
}

/// A JS worker answering every request with the status, headers and body `worker` gave
/// for `target` (the headers as one object and the body copied per request, as our entry
/// module does): the platform's own cost of that answer.
fn same_answer_worker(worker: &LocalWorker, target: &str) -> Result<PathBuf> {
    let answer = ureq::get(&worker.url(target))
        .call()
        .map_err(|e| format!("GET {target}: {e}"))?;
    let status = answer.status();
    // The platform writes Content-Length itself, for our worker as for this one.
    let headers: serde_json::Map<String, serde_json::Value> = answer
        .headers_names()
        .into_iter()
        .filter(|name| name != "content-length")
        .map(|name| {
            let value = answer.all(&name).join(", ");
            (name, value.into())
        })
        .collect();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut answer.into_reader(), &mut body)
        .map_err(|e| format!("GET {target}: {e}"))?;
    let body = serde_json::to_string(&body).map_err(|e| e.to_string())?;
    let headers = serde_json::Value::Object(headers);
    js_worker(
        "same-answer",
        &format!(
            "const BODY = new Uint8Array({body});\nconst HEADERS = {headers};\n\
             export default {{ fetch() {{ return new Response(BODY.slice(), \
             {{ status: {status}, headers: {{ ...HEADERS }} }}); }} }};\n"
        ),
    )
}

/// The hello-world component (`tests/wasi-http-hello`): the floor of `wasmtime serve`.
fn hello_component() -> Result<PathBuf> {
    let mut cmd = crate::toolchain::wasm_cargo();
    cmd.args([
        "rustc",
        "--release",
        "-p",
        "wasi-http-hello",
        "--target",
        crate::toolchain::WASM_WASIP2,
        "--",
        "-C",
        "link-arg=--skip-wit-component",
    ]);
    crate::steps::run(&mut cmd)?;
    let release = crate::catalog::Catalog::Ours
        .target_dir()
        .join(crate::toolchain::WASM_WASIP2)
        .join("release");
    let component = release.join("wasi-http-hello.component.wasm");
    crate::component::componentize(&release.join("wasi_http_hello.wasm"), &component)?;
    Ok(component)
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
    let floor = LocalWorker::direct(&hello_worker()?, &[])?;
    measure(WORKERD_HELLO, &floor, &[("/", "/")])?;
    drop(floor);
    let worker = LocalWorker::direct(&crate::worker::built(crate::catalog::Catalog::Ours)?, &[])?;
    let same_answer = same_answer_worker(&worker, RECIPE)?;
    measure(WORKER, &worker, &PATHS)?;
    measure(WORKER, &worker, &[("bundle", BUNDLE)])?;
    drop(worker);
    let floor = LocalWorker::direct(&same_answer, &[])?;
    measure(WORKERD_SAME_ANSWER, &floor, &[("recipe", "/")])?;
    drop(floor);
    crate::install::wasmtime_cli()?;
    let floor = crate::wasmtime_cli::serve(&hello_component()?, &Default::default())?;
    measure(WASMTIME_HELLO, &floor, &[("/", "/")])?;
    drop(floor);
    let wasm = crate::component::build_wasm(crate::catalog::Catalog::Ours)?;
    let serve = crate::wasmtime_cli::serve(&wasm, &Default::default())?;
    measure(COMPONENT, &serve, &PATHS)?;
    drop(serve);
    if let Some(binary) = aicrd_binary {
        let upstream = aicrd(binary)?;
        measure(AICRD, &upstream, &PATHS)?;
    }
    let find = |server: &str, path: &str| {
        measured
            .iter()
            .find(|m| m.server == server && m.path == path)
            .map(|m| m.load)
    };
    // Which rows compare with which floor: (host, path or any, floor, the floor's name).
    let floors = [
        (WORKER, None, find(WORKERD_HELLO, "/"), "its hello-world"),
        (
            WORKERD_SAME_ANSWER,
            None,
            find(WORKERD_HELLO, "/"),
            "its hello-world",
        ),
        (
            WORKER,
            Some("recipe"),
            find(WORKERD_SAME_ANSWER, "recipe"),
            "the same answer ready-made in JS",
        ),
        (
            COMPONENT,
            None,
            find(WASMTIME_HELLO, "/"),
            "its hello-world",
        ),
    ];
    Ok(measured
        .iter()
        .map(|m| {
            let mut note = format!(
                "p50 {:.2} ms, p99 {:.2} ms, {:.0} µs/request",
                m.load.p50_ns / 1e6,
                m.load.p99_ns / 1e6,
                m.load.cost_ns() / 1e3
            );
            for (host, path, floor, what) in &floors {
                let applies = *host == m.server && path.is_none_or(|p| p == m.path);
                if let (true, Some(floor)) = (applies, floor) {
                    note += &format!(
                        "; {:.2}× the cost of {what}",
                        m.load.cost_ns() / floor.cost_ns()
                    );
                }
            }
            if let Some(a) = find(AICRD, m.path).filter(|_| m.server != AICRD) {
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

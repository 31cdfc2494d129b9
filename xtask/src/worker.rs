//! The edge worker (crates/worker): its offline build, `cargo xtask serve`, its test steps
//! and its benchmark.
//!
//! `worker-build` would download wasm-bindgen, esbuild and wasm-opt at build time; here each
//! is installed pinned by `setup` (cargo for wasm-bindgen-cli, npm for esbuild and binaryen)
//! and handed to it through `WASM_BINDGEN_BIN`, `ESBUILD_BIN` and `WASM_OPT_BIN`, so builds
//! never touch the network. On the Debian route the same build runs with Debian's compiler
//! rebuilding std (shared/toolchain.md §5b).

use crate::bench::Row;
use crate::setup::{apt_install, cargo_tool, npm_install};
use crate::steps::{Result, cargo, output, root, run};
use crate::toolchain::{WASM_UNKNOWN, WasmRoute, wasm_env, wasm_route};
use aicr_worker_e2e::{BUILD_ENV, LocalWorker, UPSTREAM_BUILD_ENV, stop_group, wrangler_dev};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const WORKER_BUILD_VERSION: &str = "0.8.7";
/// The gzip budget of the uploaded bundle (the platform's free plan allows 3 MB).
pub const BUNDLE_BUDGET_GZIP: u64 = 1024 * 1024;
const DEFAULT_PORT: u16 = 8787;
/// wrk's run length: the bench must stay within 15 s.
const BENCH_SECONDS: u32 = 10;
const BENCH_CONNECTIONS: u32 = 16;
const BENCH_TARGET: &str = "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";

/// Which catalog the worker embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Catalog {
    /// `recipes/`, what ships.
    Ours,
    /// `../shared/aicr-upstream/recipes`, for conformance over HTTP.
    Upstream,
}

/// Tools the worker build and its tests need: npm packages (wrangler + workerd, esbuild,
/// binaryen) and the two cargo-installed CLIs.
pub fn setup() -> Result {
    npm_install(".")?;
    cargo_tool("worker-build", "worker-build", WORKER_BUILD_VERSION, true)?;
    crate::setup::wasm_bindgen_cli()
}

fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
        });
    home.join("bin").join(name)
}

/// Output folder of a build (`index.js` + `index_bg.wasm`); `Ours` is `main` in wrangler.toml.
pub fn build_dir(catalog: Catalog) -> PathBuf {
    match catalog {
        Catalog::Ours => root().join("target/worker/build"),
        Catalog::Upstream => root().join("target/upstream/worker/build"),
    }
}

/// Builds the worker once per xtask run (later calls reuse the result).
pub fn built(catalog: Catalog) -> Result<PathBuf> {
    static DONE: Mutex<BTreeMap<Catalog, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut done = DONE
        .lock()
        .map_err(|_| "worker build lock poisoned".to_owned())?;
    if let Some(dir) = done.get(&catalog) {
        return Ok(dir.clone());
    }
    let dir = build(catalog)?;
    done.insert(catalog, dir.clone());
    Ok(dir)
}

fn build(catalog: Catalog) -> Result<PathBuf> {
    setup()?;
    let route = wasm_route();
    let root = root();
    let out = build_dir(catalog);
    let mut cmd = Command::new(cargo_bin("worker-build"));
    cmd.current_dir(root.join("crates/worker"))
        .arg("--release")
        .arg("--out-dir")
        .arg(&out)
        .env("WASM_BINDGEN_BIN", cargo_bin("wasm-bindgen"))
        .env("ESBUILD_BIN", root.join("node_modules/.bin/esbuild"))
        .env("WASM_OPT_BIN", root.join("node_modules/.bin/wasm-opt"))
        .envs(wasm_env(route));
    if route == WasmRoute::Debian {
        // worker-build runs `rustc`/`cargo` from PATH and insists the target's libdir exists
        // (it would run `rustup target add` otherwise); with -Zbuild-std it stays empty.
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("/usr/bin:{path}"));
        let libdir = output(Command::new("/usr/bin/rustc").args([
            "--print",
            "target-libdir",
            "--target",
            WASM_UNKNOWN,
        ]))
        .ok_or("Debian rustc cannot name its wasm32 libdir")?;
        std::fs::create_dir_all(libdir.trim())
            .map_err(|e| format!("mkdir {}: {e} (run as root once)", libdir.trim()))?;
    }
    if catalog == Catalog::Upstream {
        let recipes = crate::conformance::upstream_catalog()?;
        // A separate target dir: a different embedded catalog would otherwise rebuild ours.
        let target = match route {
            WasmRoute::Rustup => root.join("target/upstream"),
            WasmRoute::Debian => root.join("target/deb-upstream"),
        };
        cmd.env("AICR_CATALOG_DIR", recipes)
            .env("CARGO_TARGET_DIR", target);
    }
    run(&mut cmd)?;
    let total = bundle_gzip_bytes(&out)?;
    eprintln!(
        "worker bundle ({catalog:?} catalog): {} gzip (budget {})",
        kib(total),
        kib(BUNDLE_BUDGET_GZIP)
    );
    Ok(out)
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// Sum of `gzip -9` sizes of the modules wrangler uploads (the JS shim and the wasm).
pub fn bundle_gzip_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for name in ["index.js", "index_bg.wasm"] {
        let file = dir.join(name);
        let out = Command::new("gzip")
            .args(["-9", "-c"])
            .arg(&file)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("gzip: {e}"))?;
        if !out.status.success() {
            return Err(format!("gzip {} failed", file.display()));
        }
        let raw = file
            .metadata()
            .map_err(|e| format!("{}: {e}", file.display()))?
            .len();
        eprintln!(
            "  {name}: {} raw, {} gzip",
            kib(raw),
            kib(out.stdout.len() as u64)
        );
        total += out.stdout.len() as u64;
    }
    Ok(total)
}

/// `cargo xtask build`'s part: the shipped worker.
pub fn build_shipped() -> Result {
    built(Catalog::Ours).map(drop)
}

/// Test step: `wrangler deploy --dry-run` accepts both environments of `wrangler.toml`, and
/// the upload it would make (its own gzip measure, the one the platform limits) fits the
/// budget.
pub fn bundle_budget() -> Result {
    built(Catalog::Ours)?;
    for env in ["staging", "production"] {
        let outdir = root().join("target/worker/dry-run").join(env);
        let out = Command::new(root().join("node_modules/.bin/wrangler"))
            .current_dir(root())
            .args(["deploy", "--dry-run", "--env", env, "--outdir"])
            .arg(&outdir)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("wrangler: {e}; run `cargo xtask setup`"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!(
                "wrangler deploy --dry-run --env {env} failed:\n{text}"
            ));
        }
        let gzip_kib: f64 = text
            .lines()
            .find_map(|l| l.split("gzip:").nth(1))
            .and_then(|v| v.trim().strip_suffix("KiB"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| format!("wrangler printed no `gzip: N KiB` upload size:\n{text}"))?;
        let bytes = (gzip_kib * 1024.0) as u64;
        if bytes > BUNDLE_BUDGET_GZIP {
            return Err(format!(
                "{env}: upload is {} gzip, over the {} budget",
                kib(bytes),
                kib(BUNDLE_BUDGET_GZIP)
            ));
        }
        eprintln!(
            "{env}: upload {} gzip ≤ {} budget",
            kib(bytes),
            kib(BUNDLE_BUDGET_GZIP)
        );
    }
    Ok(())
}

/// Test step: the end-to-end tests against workerd (tests/worker-e2e), our catalog and
/// upstream's (conformance over HTTP).
pub fn end_to_end() -> Result {
    let ours = built(Catalog::Ours)?;
    let upstream = built(Catalog::Upstream)?;
    run(cargo()
        .args([
            "test",
            "-p",
            "aicr-worker-e2e",
            "--",
            "--ignored",
            "--test-threads=1",
        ])
        .env(BUILD_ENV, ours)
        .env(UPSTREAM_BUILD_ENV, upstream))
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// `cargo xtask serve [--port N]`: builds, then runs the worker and the explorer in local
/// workerd through wrangler until Ctrl-C, which stops wrangler and its workerd together.
pub fn serve(args: &[String]) -> Result {
    let port = match args {
        [] => DEFAULT_PORT,
        [flag, value] if flag == "--port" => value
            .parse()
            .map_err(|_| format!("--port {value:?}: expected a port number 1-65535"))?,
        _ => {
            return Err(format!(
                "usage: cargo xtask serve [--port N] (default {DEFAULT_PORT}), got {args:?}"
            ));
        }
    };
    if port == 0 {
        return Err("--port 0: expected a port number 1-65535".into());
    }
    crate::setup::wasm_std()?;
    built(Catalog::Ours)?;
    let mut child = wrangler_dev(port, &root().join("wrangler.toml"), &[])
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start wrangler: {e}; run `cargo xtask setup`"))?;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            request_stop as *const () as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            request_stop as *const () as libc::sighandler_t,
        );
    }
    let base = format!("http://127.0.0.1:{port}");
    println!("\naicr-edge is starting in local workerd (Ctrl-C stops it):");
    println!("  explorer: {base}/");
    println!("  API:      {base}/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training");
    println!("  OpenAPI:  {base}/openapi.json\n");
    loop {
        if STOP.load(Ordering::SeqCst) {
            eprintln!("\nstopping wrangler and workerd…");
            stop_group(&mut child);
            return Ok(());
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            stop_group(&mut child);
            return Err(format!("wrangler exited ({status})"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// wrk's latency text (`850.12us`, `1.23ms`, `2.00s`) in nanoseconds.
fn wrk_duration_ns(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// GET /v1/recipe against the worker in local workerd, measured with wrk (16 connections,
/// 10 s, so the whole bench stays under 15 s): requests/s, p50 and p99 rows for the table.
pub fn bench_rows() -> Result<Vec<Row>> {
    apt_install(&["wrk"])?;
    let worker = {
        built(Catalog::Ours)?;
        LocalWorker::start(None, &[])?
    };
    let url = worker.url(BENCH_TARGET);
    // One short warm-up so workerd has compiled the wasm before measuring.
    output(Command::new("wrk").args(["-t1", "-c1", "-d1s", &url]));
    let text = output(Command::new("timeout").args([
        "15",
        "wrk",
        "-t2",
        "-c",
        &BENCH_CONNECTIONS.to_string(),
        "-d",
        &format!("{BENCH_SECONDS}s"),
        "--latency",
        &url,
    ]))
    .ok_or("wrk failed")?;
    eprintln!("{text}");
    if let Some(line) = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        return Err(format!("wrk saw errors: {}", line.trim()));
    }
    let field = |prefix: &str| -> Result<&str> {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
            .ok_or_else(|| format!("wrk printed no {prefix:?} line"))
    };
    let latency = |prefix: &str| -> Result<f64> {
        let raw = field(prefix)?;
        wrk_duration_ns(raw).ok_or_else(|| format!("wrk {prefix} {raw:?}: unknown duration"))
    };
    let requests: f64 = field("Requests/sec:")?
        .parse()
        .map_err(|e| format!("wrk Requests/sec: {e}"))?;
    let name = |what: &str| format!("worker in workerd: GET /v1/recipe {what}");
    let note = format!("wrk, {BENCH_CONNECTIONS} connections, {BENCH_SECONDS} s, 127.0.0.1");
    Ok(vec![
        Row {
            name: name("throughput"),
            value: requests,
            unit: "req/s",
            note: note.clone(),
        },
        Row {
            name: name("p50 latency"),
            value: latency("50%")?,
            unit: "ns",
            note: note.clone(),
        },
        Row {
            name: name("p99 latency"),
            value: latency("99%")?,
            unit: "ns",
            note,
        },
    ])
}

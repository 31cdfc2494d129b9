//! The edge worker (crates/worker): its offline build and its test steps.
//!
//! The build is ours, from pinned tools `setup` installs (the wasm-bindgen CLI through cargo,
//! esbuild and binaryen through npm), so it never touches the network and needs no
//! `worker-build` (a 7-minute compile on a fresh machine): cargo builds the crate for
//! wasm32-unknown-unknown, `wasm-bindgen --target module` writes the glue, our entry module
//! (`crates/worker/js/entry.mjs`) is bundled over it by esbuild, and `wasm-opt -O` shrinks the
//! wasm. The result is the two files wrangler uploads: `index.js` and `index_bg.wasm`. On the
//! Debian route the same cargo build runs with Debian's compiler rebuilding std
//! (shared/toolchain.md §1b).

use crate::catalog::Catalog;
use crate::install::npm_install;
use crate::steps::{Result, cargo, file_len, gzip_len, node_bin, root, run};
use crate::toolchain::{WASM_UNKNOWN, wasm_cargo, wasm_opt};
use aicr_worker_e2e::{BUILD_ENV, LocalWorker, UPSTREAM_BUILD_ENV, free_port};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The gzip budget of the uploaded bundle (the platform's free plan allows 3 MB).
pub const BUNDLE_BUDGET_GZIP: u64 = 1024 * 1024;

/// Tools the worker build and its tests need: npm packages (wrangler + workerd, esbuild,
/// binaryen) and the wasm-bindgen CLI.
pub fn setup() -> Result {
    npm_install(".")?;
    crate::install::wasm_bindgen_cli()
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

/// `cargo build` of the worker crate for wasm32-unknown-unknown, release.
fn cargo_build() -> Command {
    let mut cmd = wasm_cargo();
    cmd.args([
        "build",
        "--release",
        "-p",
        "aicr-worker",
        "--target",
        WASM_UNKNOWN,
    ]);
    cmd
}

fn build(catalog: Catalog) -> Result<PathBuf> {
    setup()?;
    let out = build_dir(catalog);
    let mut cmd = cargo_build();
    catalog.configure(&mut cmd)?;
    run(&mut cmd)?;
    let artifact = catalog
        .target_dir()
        .join(WASM_UNKNOWN)
        .join("release/aicr_worker.wasm");
    let stamp = out.join(".built-from");
    let identity = artifact_identity(&artifact)?;
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == identity) {
        eprintln!("{} is up to date", out.display());
    } else {
        bundle(&artifact, &out, Names::Stripped)?;
        std::fs::write(&stamp, identity).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    let total = bundle_gzip_bytes(&out)?;
    eprintln!(
        "worker bundle ({catalog:?} catalog): {} gzip (budget {})",
        kib(total),
        kib(BUNDLE_BUDGET_GZIP)
    );
    Ok(out)
}

/// Size and modification time of the cargo artifact: what the bundle in `out` was made from.
fn artifact_identity(artifact: &Path) -> Result<String> {
    let meta = artifact
        .metadata()
        .map_err(|e| format!("{}: {e}", artifact.display()))?;
    Ok(format!("{} {:?}", meta.len(), meta.modified().ok()))
}

/// Whether a bundle keeps function names (for a profile) or ships without them.
#[derive(Clone, Copy, PartialEq)]
enum Names {
    Stripped,
    Kept,
}

/// The cargo artifact → `out/index.js` + `out/index_bg.wasm`.
fn bundle(artifact: &Path, out: &Path, names: Names) -> Result {
    let glue = out.with_extension("glue");
    for dir in [&glue, out] {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // The reset function and abort handler let the entry module replace a trapped instance.
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "module",
            "--out-name",
            "index",
            "--no-typescript",
            "--experimental-reset-state-function",
            "--force-enable-abort-handler",
            "--out-dir",
        ])
        .arg(&glue)
        .arg(artifact))?;
    // The module target imports the wasm in the source phase (`import source`), which
    // bundlers do not parse yet; workerd's plain wasm import gives the same WebAssembly.Module.
    let glue_js = glue.join("index.js");
    let text =
        std::fs::read_to_string(&glue_js).map_err(|e| format!("{}: {e}", glue_js.display()))?;
    std::fs::write(&glue_js, text.replace("import source ", "import "))
        .map_err(|e| format!("{}: {e}", glue_js.display()))?;
    let entry = glue.join("entry.mjs");
    std::fs::copy(root().join("crates/worker/js/entry.mjs"), &entry)
        .map_err(|e| format!("crates/worker/js/entry.mjs: {e}"))?;
    run(Command::new(node_bin("esbuild"))
        .arg(&entry)
        .args([
            "--bundle",
            "--format=esm",
            match names {
                Names::Stripped => "--minify",
                Names::Kept => "--minify-syntax",
            },
            "--log-level=warning",
            "--external:./index_bg.wasm",
            "--external:cloudflare:workers",
        ])
        .arg(format!("--outfile={}", out.join("index.js").display())))?;
    let wasm = out.join("index_bg.wasm");
    std::fs::copy(glue.join("index_bg.wasm"), &wasm)
        .map_err(|e| format!("{}: {e}", wasm.display()))?;
    match names {
        Names::Stripped => wasm_opt(&["-O"], &wasm)?,
        // `-g` keeps the name section that cargo and wasm-bindgen left.
        Names::Kept => wasm_opt(&["-O", "-g"], &wasm)?,
    }
    let _ = std::fs::remove_dir_all(&glue);
    Ok(())
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// Sum of `gzip -9` sizes of the modules wrangler uploads (the JS shim and the wasm).
pub fn bundle_gzip_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for name in ["index.js", "index_bg.wasm"] {
        let file = dir.join(name);
        let gzip = gzip_len(&file)?;
        eprintln!(
            "  {name}: {} raw, {} gzip",
            kib(file_len(&file)?),
            kib(gzip)
        );
        total += gzip;
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

const PROFILE_USAGE: &str = "usage: cargo xtask profile [PATH?QUERY] [--requests N]";

/// `cargo xtask profile`: where the worker's time goes. Builds the worker with its function
/// names kept (`target/prof`, apart from the shipped build), runs it in workerd itself with
/// the inspector on, loads one path (the recipe by default) and prints V8's CPU profile of
/// workerd (tests/js/worker-profile.mjs): self and inclusive time by function, and shares
/// by kind (our wasm, our JS, the runtime). A sampling profiler slows what it samples, so
/// read the shares, not the absolute µs; the bench gives those.
pub fn profile(args: &[String]) -> Result {
    let mut target = crate::load::RECIPE.to_owned();
    let mut requests = "20000".to_owned();
    let mut rest = args;
    loop {
        match rest {
            [flag, n, tail @ ..] if flag == "--requests" && n.parse::<u32>().is_ok() => {
                requests = n.clone();
                rest = tail;
            }
            [path, tail @ ..] if path.starts_with('/') => {
                target = path.clone();
                rest = tail;
            }
            [] => break,
            _ => return Err(format!("{PROFILE_USAGE}, got {args:?}")),
        }
    }
    setup()?;
    let target_dir = root().join("target/prof");
    let mut cmd = cargo_build();
    cmd.env("CARGO_TARGET_DIR", &target_dir)
        .env("CARGO_PROFILE_RELEASE_STRIP", "false");
    run(&mut cmd)?;
    let out = target_dir.join("worker");
    let artifact = target_dir
        .join(WASM_UNKNOWN)
        .join("release/aicr_worker.wasm");
    bundle(&artifact, &out, Names::Kept)?;
    inspect(
        &out,
        "tests/js/worker-profile.mjs",
        &[
            ("TARGET", target),
            ("REQUESTS", requests),
            ("INTERVAL_US", "250".into()),
        ],
    )
}

/// Runs the inspector script `script` (Node, tests/js/inspector.mjs's client) against the
/// worker bundle `dir` in workerd itself with its inspector on. The script gets the
/// worker's URL (`WORKER_URL`), the inspector's address (`INSPECTOR`), workerd's process id
/// (`WORKERD_PID`, for its resident set) and `env`.
fn inspect(dir: &Path, script: &str, env: &[(&str, String)]) -> Result {
    let inspector = free_port()?;
    let worker = LocalWorker::direct_inspected(dir, &[], Some(inspector))?;
    run(Command::new("node")
        .args(["--experimental-websocket", script])
        .current_dir(root())
        .env("WORKER_URL", &worker.base)
        .env("INSPECTOR", format!("127.0.0.1:{inspector}"))
        .env("WORKERD_PID", worker.pid().to_string())
        .envs(env.iter().map(|(name, value)| (name, value))))
}

/// Requests of the memory test: bounded, and enough for a leak of one allocation per
/// request to show.
const MEMORY_TEST_REQUESTS: &str = "20000";

/// Test step: memory under a bounded load, in workerd itself with its inspector on. The
/// worker's linear memory (read from the worker) must not grow after warm-up and stays
/// under 4 MiB (tests/js/worker-memory.mjs); V8's heap and workerd's resident set are
/// printed beside it after the first request, after warm-up and after the load (the
/// platform stops an isolate above 128 MB of wasm memory and heap together).
pub fn memory_under_load() -> Result {
    inspect(
        &built(Catalog::Ours)?,
        "tests/js/worker-memory.mjs",
        &[("REQUESTS", MEMORY_TEST_REQUESTS.into())],
    )
}

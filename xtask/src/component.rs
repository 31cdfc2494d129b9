//! The WASI component `aicr.wasm` (crates/component, WIT in wit/): build it (pre-initialised
//! by wizer, so instances start with the catalog decoded), transpile it for JS with jco,
//! test it in wasmtime (tests/component-host), over a real socket through its `wasi:http`
//! export (`jco serve`, upstream catalog, the conformance runner) and from Node
//! (`node --test tests/js/component.test.mjs`), and measure it for `cargo xtask bench`. The
//! real `wasmtime` CLI's runs are in `wasmtime_cli`, which shares the conformance run here.

use crate::catalog::Catalog;
use crate::conformance;
use crate::install;
use crate::steps::{Result, Row, file_len, gzip_len, node, node_bin, output, root, run};
use crate::toolchain::{WASM_WASIP2, WasmRoute, wasm_cargo, wasm_route};
use aicr_worker_e2e::{LocalWorker, free_port};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Criteria the JS test resolves (field, value pairs as a form would send them).
const JS_CASES: &[&[(&str, &str)]] = &[
    &[],
    &[
        ("service", "eks"),
        ("accelerator", "h100"),
        ("intent", "training"),
    ],
    &[
        ("service", "gke"),
        ("accelerator", "h100"),
        ("os", "cos"),
        ("intent", "inference"),
    ],
    &[
        ("service", "eks"),
        ("accelerator", "gb200"),
        ("os", "ubuntu"),
        ("intent", "training"),
        ("platform", "kubeflow"),
        ("nodes", "8"),
    ],
];

/// Path of the built component (the README's stable path for our catalog:
/// `target/wasm32-wasip2/release/aicr.wasm` on the rustup route).
pub fn wasm(catalog: Catalog) -> PathBuf {
    catalog
        .target_dir()
        .join(WASM_WASIP2)
        .join("release/aicr.wasm")
}

/// Where `jco transpile` writes the ES module package.
pub fn js_package() -> PathBuf {
    root().join("target/component-js")
}

/// Tools the component's build and tests need beyond the wasm std: jco (npm) and, on the
/// Debian route, lld-22 (wasm-component-ld links through Debian's `rust-lld`, a link to
/// lld-22, which rustc-web does not always pull in).
pub fn setup() -> Result {
    install::npm_install(".")?;
    if wasm_route() == WasmRoute::Debian {
        install::apt_install(&["lld-22"])?;
    }
    Ok(())
}

/// Builds `aicr.wasm` with a catalog, pre-initialised (see [`pre_initialise`]).
pub fn build_wasm(catalog: Catalog) -> Result<PathBuf> {
    setup()?;
    let mut cmd = wasm_cargo();
    // `rustc` rather than `build` only to give the final link one flag: wasm-component-ld
    // stops at the core module, which is what wizer reads. Dependencies build as always.
    cmd.args([
        "rustc",
        "--release",
        "-p",
        "aicr-component",
        "--target",
        WASM_WASIP2,
        "--",
        "-C",
        "link-arg=--skip-wit-component",
    ]);
    catalog.configure(&mut cmd)?;
    run(&mut cmd)?;
    let path = wasm(catalog);
    pre_initialise(&path)?;
    eprintln!(
        "{}: {} bytes, {} gzip -9",
        path.display(),
        file_len(&path)?,
        gzip_len(&path)?
    );
    Ok(path)
}

/// Turns the core module cargo left at `path` into the pre-initialised component, at the
/// same path. Wizer runs the module's `wizer.initialize` (crates/component: decode and
/// index the embedded catalog) and writes the module with the memory that leaves as its
/// initial memory; `jco new` (wit-component, as wasm-component-ld runs it) then makes the
/// component from the `component-type` sections wizer kept. So no instance decodes the
/// catalog: under `wasmtime serve`, a fresh instance per request, that decoding was most
/// of every request.
///
/// Wizer runs without WASI, so an initialiser that reached for the host fails the build
/// instead of baking one host's answer into every instance.
///
/// The WASI adapter is the one the module needs: none on rustup's route, whose wasip2 libc
/// imports WASI 0.2 directly; wasm-component-ld's reactor adapter on Debian's, whose
/// wasi-libc is a preview-1 build. (wasm-component-ld hands its encoder the adapter even
/// when unused, which only raised the `wasi:cli` imports' version to the adapter's 0.2.6;
/// they now name 0.2.4, what std was written against, which any 0.2 host provides.)
fn pre_initialise(path: &Path) -> Result {
    let snapshot = path.with_extension("initialized.wasm");
    run(Command::new(node_bin("wizer"))
        .arg(path)
        .arg("-o")
        .arg(&snapshot))?;
    componentize(&snapshot, path)
}

/// `jco new` (wit-component, as wasm-component-ld runs it) of the core module at `core`,
/// linked with `-C link-arg=--skip-wit-component`, into the component at `path`, with the
/// WASI adapter this build route needs (see [`pre_initialise`]).
pub fn componentize(core: &Path, path: &Path) -> Result {
    // Written beside and renamed over `path`: cargo hard-links `path` to its own copy of
    // the core module, which writing through the link would corrupt.
    let component = path.with_extension("wasm.new");
    let mut jco = Command::new(node_bin("jco"));
    jco.arg("new").arg(core).arg("-o").arg(&component);
    if wasm_route() == WasmRoute::Debian {
        jco.arg("--wasi-reactor");
    }
    run(&mut jco)?;
    std::fs::rename(&component, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `jco transpile` of our component into an ES module package (`package.json` included),
/// importable from Node and bundlers: `import { resolver } from "<dir>/aicr.js"`.
pub fn transpile() -> Result<PathBuf> {
    install::npm_install(".")?;
    let out = js_package();
    let _ = std::fs::remove_dir_all(&out);
    run(Command::new(node_bin("jco"))
        .arg("transpile")
        .arg(wasm(Catalog::Ours))
        .args(["--name", "aicr", "-o"])
        .arg(&out))?;
    let shim = root().join("node_modules/@bytecodealliance/preview2-shim/package.json");
    let shim_version = std::fs::read(&shim)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .ok_or(format!("{} not found (npm install)", shim.display()))?;
    let manifest = serde_json::json!({
        "name": "@aicr-edge/recipe",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "The aicr-edge recipe engine as a WASI component, transpiled by jco",
        "license": "Apache-2.0",
        "type": "module",
        "main": "./aicr.js",
        "types": "./aicr.d.ts",
        "exports": { ".": { "types": "./aicr.d.ts", "default": "./aicr.js" } },
        "dependencies": { "@bytecodealliance/preview2-shim": shim_version },
    });
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(out.join("package.json"), text + "\n").map_err(|e| e.to_string())?;
    Ok(out)
}

/// `cargo xtask build`'s part: the component for our catalog and its JS package.
pub fn build() -> Result {
    build_wasm(Catalog::Ours)?;
    transpile().map(drop)
}

/// Test step: the wasmtime host tests (every export, the whole criteria cross product
/// against the native engine, `wasi:cli/run`, memory bound, size budget).
pub fn host_tests() -> Result {
    let wasm = build_wasm(Catalog::Ours)?;
    run(crate::steps::cargo()
        .args(["test", "-p", "aicr-component-host"])
        .env("AICR_COMPONENT_WASM", wasm))
}

/// `jco serve` of a component on a free 127.0.0.1 port, with `env` as the component's
/// environment (its configuration); stopped, node children included, when dropped.
fn jco_serve(wasm: &Path, env: &BTreeMap<String, String>) -> Result<LocalWorker> {
    let port = free_port()?;
    let mut cmd = Command::new(node_bin("jco"));
    cmd.args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg(wasm)
        .envs(env);
    LocalWorker::spawn(cmd, "jco-serve", port)
}

/// Test step: the `wasi:http` export, built with the upstream catalog and served by a
/// real `wasi:http` host on a socket, passes the recorded upstream conformance cases: those
/// without server configuration against a plain server, then the allowlist cases against
/// a server started with their environment.
pub fn http_conformance() -> Result {
    conformance_served_by(jco_serve)
}

/// The upstream conformance cases, and the bundle cases judged by `judge.py`, over HTTP
/// against the upstream-catalog component served by `serve` (a `wasi:http` host started
/// with a component's environment).
pub fn conformance_served_by(
    serve: fn(&Path, &BTreeMap<String, String>) -> Result<LocalWorker>,
) -> Result {
    let Some(upstream) = conformance::upstream_or_skip()? else {
        return Ok(());
    };
    let wasm = build_wasm(Catalog::Upstream)?;
    let configured = upstream.server_environment()?;
    let runs = std::iter::once((BTreeMap::new(), conformance::EnvCases::Skip))
        .chain(configured.map(|env| (env, conformance::EnvCases::Only)));
    for (env, env_cases) in runs {
        let server = serve(&wasm, &env)?;
        conformance::run_with(&upstream.options(Some(server.base.clone()), env_cases))?;
        if env.is_empty() {
            aicr_conformance::bundles::judge_all_pass(&upstream.bundle_cases, &server.base)?;
        }
    }
    Ok(())
}

/// The native engine's documents for [`JS_CASES`], as the JS test's expectations.
fn write_expected(path: &Path) -> Result {
    let mut cases = Vec::new();
    for pairs in JS_CASES {
        let json = crate::native::render(&crate::native::resolve(pairs)?, aicr_api::Format::Json)?;
        cases.push(serde_json::json!({
            "raw": pairs.iter().map(|(k, v)| [*k, *v]).collect::<Vec<_>>(),
            "json": json,
        }));
    }
    let doc =
        serde_json::json!({ "catalog": aicr_embedded_catalog::catalog().info(), "cases": cases });
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).map_err(|e| e.to_string())?;
    std::fs::write(path, doc.to_string()).map_err(|e| format!("{}: {e}", path.display()))
}

/// Test step: the jco-transpiled package resolves in Node like the native engine.
pub fn js_tests() -> Result {
    build_wasm(Catalog::Ours)?;
    let package = transpile()?;
    let expected = root().join("target/test-output/component-expected.json");
    write_expected(&expected)?;
    run(node()
        .args([
            "--test",
            "--test-reporter=spec",
            "tests/js/component.test.mjs",
        ])
        .env("COMPONENT_JS", package.join("aicr.js"))
        .env("COMPONENT_EXPECTED", &expected))
}

/// Bench rows: component bytes, and from one run each of the wasmtime host's
/// `component-bench` and `tests/js/component.bench.mjs`, the instantiate and resolve
/// medians with their ratio to the native resolve measured in the same process.
pub fn bench_rows() -> Result<Vec<Row>> {
    let wasm = build_wasm(Catalog::Ours)?;
    let package = transpile()?;
    let mut rows = vec![
        Row {
            name: "component aicr.wasm raw".into(),
            value: file_len(&wasm)? as f64,
            unit: "B",
            note: "budget 2,500,000 B (tests/component-host/tests/size.rs)".into(),
        },
        Row {
            name: "component aicr.wasm gzip -9".into(),
            value: gzip_len(&wasm)? as f64,
            unit: "B",
            note: "budget 700,000 B (tests/component-host/tests/size.rs)".into(),
        },
    ];
    // Release without LTO: wasmtime with fat LTO takes minutes to link on 2 cores, and
    // the host's own code is not what is measured.
    let text = output(
        crate::steps::cargo()
            .args(["run", "--release", "--config", "profile.release.lto=false", "--config", "profile.release.codegen-units=16"])
            .args(["-p", "aicr-component-host", "--bin", "component-bench"])
            .env("AICR_COMPONENT_WASM", &wasm),
    )
    .ok_or("component-bench failed (run `cargo run -p aicr-component-host --bin component-bench` to see why)")?;
    let wasmtime = parse(&text)?;
    let native = wasmtime
        .get("native_resolve_ns")
        .and_then(serde_json::Value::as_f64);
    rows.extend(rows_of(&wasmtime, "wasmtime", native));
    let text = output(
        node()
            .arg("tests/js/component.bench.mjs")
            .env("COMPONENT_JS", package.join("aicr.js")),
    )
    .ok_or("tests/js/component.bench.mjs failed")?;
    rows.extend(rows_of(&parse(&text)?, "node/jco", native));
    Ok(rows)
}

fn parse(text: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_str(text.trim()) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(format!("bench output is not a JSON object: {text}")),
    }
}

/// Rows from a bench program's `{"<what>_ns": median, ...}`, each with its ratio to the
/// native engine's resolve of the same criteria (measured by the wasmtime host).
fn rows_of(
    map: &serde_json::Map<String, serde_json::Value>,
    host: &str,
    native: Option<f64>,
) -> Vec<Row> {
    map.iter()
        .filter_map(|(key, v)| Some((key.strip_suffix("_ns")?, v.as_f64()?)))
        .map(|(key, ns)| Row {
            name: format!("component {host}: {}", key.replace('_', " ")),
            value: ns,
            unit: "ns",
            note: match native {
                Some(_) if key == "native_resolve" => {
                    "the engine called natively (the ratios' base)".into()
                }
                Some(n) => format!("{:.1}× native resolve", ns / n),
                None => String::new(),
            },
        })
        .collect()
}

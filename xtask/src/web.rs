//! The recipe explorer (`www/`): build its wasm, check its size budget, drive it in
//! headless Chromium for the end-to-end tests and the browser bench.
//!
//! Build: `aicr-web` for wasm32-unknown-unknown in its own cargo profile (`web`: release at
//! `opt-level = "z"`; see [`PROFILE`]), `wasm-bindgen --target web` (pinned CLI matching the
//! crate) into `www/pkg/`, then npm binaryen's `wasm-opt -Oz` (Debian's older binaryen
//! breaks wasm-bindgen's externref table; see shared/toolchain.md §4). The
//! Chromium tests and the bench are node scripts under `tests/js/` using playwright-core
//! with Debian's `/usr/bin/chromium`; the page is served from 127.0.0.1 by a plain static
//! server, and the expected recipes come from the native engine.

use crate::install;
use crate::steps::{Result, Row, file_len, gzip_len, node, output, root, run, skip};
use crate::toolchain::{WASM_UNKNOWN, wasm_artifact, wasm_cargo, wasm_opt};

use aicr_conformance::Upstream;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The page's wasm budget, gzip -9 bytes.
pub const WASM_GZIP_BUDGET: u64 = 400 * 1024;
/// The page's cargo profile: release at `opt-level = "z"`. Since the page builds bundles,
/// its wasm links the catalog's manifest templates (about 94 KB of the gzip); `z` instead
/// of the workspace's `s` takes about 25 KB off the code, which keeps the page within its
/// budget. A profile of its own (defined on the command line, so the workspace's profiles
/// stay as they are) keeps the worker's wasm32-unknown-unknown release build, which shares
/// dependencies, from rebuilding them at every switch.
const PROFILE: &str = "web";
const PROFILE_CONFIG: [&str; 2] = [
    "profile.web.inherits=\"release\"",
    "profile.web.opt-level=\"z\"",
];
/// Criteria of the main end-to-end check (the example).
const MAIN_CRITERIA: &[(&str, &str)] = &[
    ("service", "eks"),
    ("accelerator", "h100"),
    ("os", "ubuntu"),
    ("intent", "training"),
];
/// A bundle download: name, option pairs, upstream case.
type BundleCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Option<&'static str>,
);
/// The bundle downloads of the Chromium tests, all for [`MAIN_CRITERIA`]: a name, the
/// options as the page's form sends them (deployer first, then the fields in order), and
/// the upstream case recorded for the same input, if any (`../shared/bundle-conformance`,
/// judged by its `judge.py`).
const BUNDLES: &[BundleCase] = &[
    (
        "helm-nodes-and-set",
        &[
            ("deployer", "helm"),
            ("nodes", "8"),
            ("set", "gpu-operator:driver.version=570.86.15"),
            ("set", "cert-manager:replicaCount=2"),
        ],
        None,
    ),
    (
        "helm-nodes-8",
        &[("deployer", "helm"), ("nodes", "8")],
        Some("008-helm-nodes-8"),
    ),
    (
        "helm-node-scheduling",
        &[
            ("deployer", "helm"),
            ("accelerated-node-selector", "nvidia.com/gpu.present=true"),
            ("accelerated-node-toleration", "nvidia.com/gpu:NoSchedule"),
            ("system-node-selector", "nodeGroup=system"),
            ("system-node-toleration", "dedicated=system:NoSchedule"),
        ],
        Some("006-helm-node-scheduling"),
    ),
    (
        "argocd",
        &[
            ("deployer", "argocd"),
            ("repo", "https://github.com/example/gitops.git"),
        ],
        Some("002-argocd-eks-h100-ubuntu-training"),
    ),
];
/// Criteria B of the compare check.
const COMPARE_CRITERIA: &[(&str, &str)] = &[
    ("service", "gke"),
    ("accelerator", "h100"),
    ("os", "cos"),
    ("intent", "inference"),
];

fn www() -> PathBuf {
    root().join("www")
}

fn pkg_wasm() -> PathBuf {
    www().join("pkg/aicr_web_bg.wasm")
}

fn test_output() -> PathBuf {
    root().join("target/test-output")
}

/// What the explorer's build needs beyond the wasm std.
pub fn setup() -> Result {
    install::npm_install(".")?;
    install::wasm_bindgen_cli()
}

/// What its tests and bench add: Debian's Chromium (playwright-core drives it).
pub fn test_setup() -> Result {
    install::apt_install(&["chromium"])
}

/// Builds `www/pkg/` (wasm-bindgen output, size-optimised).
pub fn build() -> Result {
    setup()?;
    let mut cargo = wasm_cargo();
    cargo.arg("build");
    for config in PROFILE_CONFIG {
        cargo.args(["--config", config]);
    }
    run(cargo.args([
        "--profile",
        PROFILE,
        "-p",
        "aicr-web",
        "--target",
        WASM_UNKNOWN,
    ]))?;
    let artifact = wasm_artifact(WASM_UNKNOWN, PROFILE, "aicr_web.wasm");
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    if modified(&pkg_wasm())
        .is_some_and(|out| modified(&artifact).is_some_and(|input| input <= out))
    {
        eprintln!("www/pkg is up to date");
        return Ok(());
    }
    let pkg = www().join("pkg");
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(&pkg)
        .arg(&artifact))?;
    let wasm = pkg_wasm();
    wasm_opt(&["-Oz"], &wasm)?;
    eprintln!(
        "explorer wasm: {} bytes, {} gzip",
        file_len(&wasm)?,
        gzip_len(&wasm)?
    );
    Ok(())
}

/// Test step: the page's wasm is within budget (builds it first).
pub fn size_budget() -> Result {
    build()?;
    let gz = gzip_len(&pkg_wasm())?;
    eprintln!("explorer wasm gzip -9: {gz} bytes (budget {WASM_GZIP_BUDGET})");
    if gz <= WASM_GZIP_BUDGET {
        Ok(())
    } else {
        Err(format!(
            "explorer wasm is {gz} B gzip, over the {WASM_GZIP_BUDGET} B budget"
        ))
    }
}

/// A query-string component, every byte but letters and digits percent-encoded.
fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// What the edge API answers to `POST /v1/bundle?<options>` with the recipe JSON `body`,
/// the request the page's bundle stands for.
fn native_bundle(body: &str, options: &[(&str, &str)]) -> Result<Vec<u8>> {
    let query: Vec<String> = options
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let request = http::Request::post(format!("/v1/bundle?{}", query.join("&")))
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
        .map_err(|e| e.to_string())?;
    let api = aicr_api::Api::new(
        aicr_embedded_catalog::catalog(),
        aicr_api::Config::default(),
    );
    let response = api.handle(&request, &aicr_api::RequestContext::default());
    if response.status() != http::StatusCode::OK {
        return Err(format!(
            "native {}: {} {}",
            request.uri(),
            response.status(),
            String::from_utf8_lossy(response.body())
        ));
    }
    Ok(response.into_body())
}

/// The native engine's answers the Chromium tests compare the page with: for criteria A
/// and B the recipe document, and for A the exact JSON and YAML bytes the edge API sends
/// and the API's bundle zips for [`BUNDLES`] (each written beside `path`, which lists them).
pub fn write_expected(path: &Path) -> Result {
    let side = |pairs: &[(&str, &str)]| -> Result<serde_json::Value> {
        let recipe = crate::native::resolve(pairs)?;
        let text = |format: aicr_api::Format| crate::native::render(&recipe, format);
        Ok(serde_json::json!({
            "criteria": pairs.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect::<serde_json::Map<_, _>>(),
            "json": text(aicr_api::Format::Json)?,
            "yaml": text(aicr_api::Format::Yaml)?,
        }))
    };
    let a = side(MAIN_CRITERIA)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut bundles = Vec::new();
    for (name, options, case) in BUNDLES {
        let zip = dir.join(format!("explorer-bundle-{name}.zip"));
        let body = a["json"].as_str().ok_or("criteria A has no JSON")?;
        std::fs::write(&zip, native_bundle(body, options)?)
            .map_err(|e| format!("{}: {e}", zip.display()))?;
        bundles.push(serde_json::json!({
            "name": name,
            "options": options,
            "zip": zip,
            "case": case,
        }));
    }
    let doc = serde_json::json!({
        "catalog": aicr_embedded_catalog::catalog().info(),
        "a": a,
        "b": side(COMPARE_CRITERIA)?,
        "bundles": bundles,
    });
    std::fs::write(path, doc.to_string()).map_err(|e| format!("{}: {e}", path.display()))
}

/// A plain static server (`python3 -m http.server`) for `www/` on 127.0.0.1 and a free
/// port; stopped (by its own pid) when dropped.
pub struct StaticServer {
    child: Child,
    pub url: String,
}

impl StaticServer {
    pub fn start() -> Result<Self> {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(www())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start python3 -m http.server: {e}"))?;
        let stdout = child.stdout.take().ok_or("http.server has no stdout")?;
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .map_err(|e| e.to_string())?;
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        let port = first
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse::<u16>().ok());
        let Some(port) = port else {
            let _ = child.kill();
            return Err(format!("http.server did not report its port: {first:?}"));
        };
        Ok(StaticServer {
            child,
            url: format!("http://127.0.0.1:{port}/"),
        })
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the Chromium end-to-end tests against the explorer at `base_url` (any host: the
/// static server here, or the worker). `www/pkg/` must be built.
/// `only`, when given, runs just the tests whose names match that regular expression.
///
/// The bundle tests judge the page's zips with upstream's recorded cases when
/// `../shared/bundle-conformance/judge.py` is there; without it that part is a recorded
/// skip of a full run (a failure under CI).
pub fn chromium_tests(base_url: &str, only: Option<&str>) -> Result {
    test_setup()?;
    let expected = test_output().join("explorer-expected.json");
    write_expected(&expected)?;
    let mut cmd = node();
    let judge = Upstream::beside(&root())
        .map(|u| u.bundle_cases)
        .filter(|cases| cases.join("judge.py").is_file());
    match &judge {
        Some(cases) => {
            cmd.env("EXPLORER_BUNDLE_CASES", cases);
        }
        None if only.is_none() => skip(format!(
            "{} is absent, so the page's bundles are not judged against upstream's",
            root()
                .join("../shared/bundle-conformance/judge.py")
                .display()
        ))?,
        None => {}
    }
    cmd.args(["--test", "--test-reporter=spec"]);
    if let Some(pattern) = only {
        cmd.arg(format!("--test-name-pattern={pattern}"));
    }
    run(cmd
        .arg("tests/js/explorer.test.mjs")
        .env("EXPLORER_URL", base_url)
        .env("EXPLORER_EXPECTED", &expected)
        .env("EXPLORER_OUTPUT", test_output()))
}

/// Test step: builds the page and runs the Chromium tests against a plain static server.
pub fn explorer_tests() -> Result {
    build()?;
    let server = StaticServer::start()?;
    eprintln!("explorer served by python3 http.server at {}", server.url);
    chromium_tests(&server.url, None)?;
    eprintln!(
        "screenshots: {}",
        test_output().join("explorer.png").display()
    );
    Ok(())
}

/// Browser bench rows for `cargo xtask bench` (medians, milliseconds). Measured in
/// headless Chromium against the static server, a fresh profile each run (so the wasm is
/// fetched and compiled every time): from navigation start, the engine instantiated, the
/// first recipe's DOM built and the first frame that shows it painted; and a re-resolve
/// after a criteria change (change event to DOM updated and laid out; each run's median
/// over six changes); and "Download bundle", click to the zip handed to the browser (each
/// run's median over five clicks). `tests/js/explorer.bench.mjs` says exactly what each
/// mark is.
pub fn bench_rows() -> Result<Vec<Row>> {
    test_setup()?;
    build()?;
    let server = StaticServer::start()?;
    let out = output(
        node()
            .arg("tests/js/explorer.bench.mjs")
            .env("EXPLORER_URL", &server.url),
    )
    .ok_or("tests/js/explorer.bench.mjs failed (run it with EXPLORER_URL set to see why)")?;
    let doc: serde_json::Value =
        serde_json::from_str(out.trim()).map_err(|e| format!("bench output: {e}: {out}"))?;
    let row = |key: &str, name: &str| -> Result<Row> {
        let samples: Vec<f64> = doc[key]
            .as_array()
            .ok_or(format!("bench output lacks {key}"))?
            .iter()
            .filter_map(serde_json::Value::as_f64)
            .collect();
        let n = samples.len();
        Ok(Row {
            name: name.to_owned(),
            value: median(samples).ok_or(format!("no samples for {key}"))?,
            unit: "ms",
            note: format!("median of {n} runs, headless Chromium, page from a static server"),
        })
    };
    Ok(vec![
        row("wasmReady", "explorer: navigation to engine instantiated")?,
        row(
            "recipeBuilt",
            "explorer: navigation to first recipe's DOM built",
        )?,
        row(
            "firstRecipe",
            "explorer: navigation to first recipe painted",
        )?,
        row(
            "reresolve",
            "explorer: re-resolve + render after a criteria change",
        )?,
        row("bundleZip", "explorer: click to saved zip")?,
    ])
}

fn median(mut samples: Vec<f64>) -> Option<f64> {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(samples[n / 2]),
        _ => Some((samples[n / 2 - 1] + samples[n / 2]) / 2.0),
    }
}

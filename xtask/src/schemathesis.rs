//! Schemathesis against `/openapi.json`, on the component under the real `wasmtime serve`.
//!
//! The OpenAPI document is hand-written (`crates/api/openapi.json`), and the tests in
//! `tests/worker-e2e/tests/openapi.rs` hold it to the probes someone thought of.
//! Schemathesis generates the requests nobody thought of from the document itself: every
//! operation, valid and invalid parameters and bodies, and checks every answer against what
//! the document promises (statuses, content types, headers, body schemas) and that the
//! server takes exactly the requests the document calls valid. Either side being wrong is a
//! failure, so a change to the API that the document does not follow (or the reverse)
//! fails here.
//!
//! The run is bounded in count and time, not seeded: each run explores new inputs, and a
//! failure prints schemathesis's own reproduction (`curl …`) to pin it down.

use crate::catalog::Catalog;
use crate::component::build_wasm;
use crate::install;
use crate::steps::{Result, root};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

/// Test cases per operation in the fuzzing phase (the coverage phase walks every keyword
/// of the document's schemas regardless): about 5,000 requests in all, some 30 s of CPU.
const MAX_EXAMPLES: &str = "20";
/// Seconds the whole run may take (`timeout` ends a hung one).
const TIMEOUT_SECS: &str = "300";

/// Where a check cannot apply as schemathesis applies it, and why; nothing else is
/// relaxed.
///
/// - 414 is a refusal too: a request line longer than the host takes (hyper's limit
///   under `wasmtime serve`, documented as each operation's 414) is refused before the
///   API sees it. The parameters' documented bounds (256 entries of 1 KiB for each
///   repeatable bundle option) allow longer queries than any host takes, so a request
///   that breaks the schema can meet the host's limit first; schemathesis's list of
///   refusal statuses lacks 414.
///
/// The others are rules a server may have that OpenAPI cannot state:
///
/// - A bare `GET /v1/bundle` (no query parameter at all) is upstream's 405 (its recorded
///   conformance case 232), while a query with any one of the optional parameters is
///   answered. "At least one of these optional parameters" is not expressible, so the
///   positive-data check also takes 405 there (`/v2/bundle` answers the all-`any` bundle).
/// - A `POST` bundle's recipe can satisfy every schema and still be refused with a 400
///   for what depends on the catalog or the document as a whole: a `valuesFile` or
///   manifest the catalog lacks, a component named twice, a manifest that does not
///   render, every component disabled (`BundleRecipe` in the document says so). Generated
///   recipes hit those constantly, so the positive-data check also takes 400 for those
///   two operations; every other check, the negative-data one included, still applies.
///   (Schemathesis enables checks for the whole run; per operation it only reads their
///   expected statuses.)
const CONFIG: &str = r#"
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "414", "415", "422", "428", "429", "5xx"]

[[operations]]
include-name = "GET /v1/bundle"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "405", "409", "429", "5xx"]

[[operations]]
include-name = ["POST /v1/bundle", "POST /v2/bundle"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
"#;

/// Test step: `schemathesis run` with every check against the component (our catalog)
/// under `wasmtime serve`; any failure or error fails the step, with schemathesis's report.
pub fn run() -> Result {
    install::wasmtime_cli()?;
    let cli = install::schemathesis()?;
    let wasm = build_wasm(Catalog::Ours)?;
    let server = crate::wasmtime_cli::serve(&wasm, &BTreeMap::new())?;
    // Its failure cache (`.schemathesis/`) goes under target/, not into the work tree.
    let dir = root().join("target/schemathesis");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let config = dir.join("schemathesis.toml");
    std::fs::write(&config, CONFIG).map_err(|e| format!("{}: {e}", config.display()))?;
    let start = Instant::now();
    let out = Command::new("timeout")
        .arg(TIMEOUT_SECS)
        .arg(&cli)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(server.url("/openapi.json"))
        .args(["--url", &server.base])
        .args(["--checks", "all"])
        .args(["--max-examples", MAX_EXAMPLES])
        // One worker: schemathesis's workers are threads, and CPython 3.11 (the machine's
        // Python) can fail `ast.parse` in two threads at once ("AST constructor recursion
        // depth mismatch"; see cpython#106905), which hypothesis calls to describe strategies.
        .args(["--workers", "1"])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cli.display()))?;
    let report = String::from_utf8_lossy(&out.stdout);
    eprint!("{report}{}", String::from_utf8_lossy(&out.stderr));
    eprintln!(
        "schemathesis: {:.1} s against {}",
        start.elapsed().as_secs_f64(),
        server.base
    );
    if out.status.success() {
        return Ok(());
    }
    let summary = report
        .lines()
        .rev()
        .find(|l| l.starts_with('='))
        .map_or("no summary", |l| l.trim_matches(|c| c == '=' || c == ' '));
    Err(format!(
        "schemathesis: {summary} ({}); the server's log:\n{}",
        out.status,
        server.log_tail()
    ))
}

//! # aicr-conformance — one runner for every HTTP layer
//!
//! Each case is a request recorded against upstream `aicrd` v0.11.1 and its answer (the
//! format of `shared/conformance/`). The runner sends the request to our API — in-process
//! through `aicr-api` with a catalog loaded from a directory, or over a real socket to a
//! running host — and compares status, `Content-Type`, `Cache-Control` and the JSON body as
//! values. Volatile fields are ignored, and 4xx texts too (ours only need to be at least as
//! precise). A deviations file lists cases where we deliberately answer differently.

pub mod bundles;
mod case;
mod compare;
mod transport;
mod upstream;

pub use case::{Case, load_cases};
pub use compare::{Mismatch, compare};
pub use upstream::Upstream;

use std::path::PathBuf;

/// What to run and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// Catalog directory for in-process runs.
    pub catalog: PathBuf,
    /// Folder of `NNN-name.json` cases.
    pub cases: PathBuf,
    /// `id<TAB>status<TAB>reason` lines: cases where our documented answer differs.
    pub deviations: Option<PathBuf>,
    /// Base URL of a live server (`http://127.0.0.1:8787`); `None` runs in-process.
    pub url: Option<String>,
    /// Which cases that need server configuration (`server_env`) to run.
    pub env_cases: EnvCases,
}

/// Cases recorded with a server configuration (allowlists) can only run against a server
/// that has that configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvCases {
    /// Run all (in-process: the configuration is applied per case).
    All,
    /// Skip cases that need a configuration (a live server started without one).
    Skip,
    /// Run only those cases (a live server started with the cases' configuration).
    Only,
}

const USAGE: &str =
    "--catalog DIR --cases DIR [--deviations FILE] [--url BASE] [--env-cases all|skip|only]";

impl Options {
    pub fn from_args(args: &[String]) -> Result<Options, String> {
        let mut catalog = None;
        let mut cases = None;
        let mut deviations = None;
        let mut url = None;
        let mut env_cases = None;
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value; usage: {USAGE}"))
            };
            match flag.as_str() {
                "--catalog" => catalog = Some(PathBuf::from(value()?)),
                "--cases" => cases = Some(PathBuf::from(value()?)),
                "--deviations" => deviations = Some(PathBuf::from(value()?)),
                "--url" => url = Some(value()?.trim_end_matches('/').to_owned()),
                "--env-cases" => {
                    env_cases = Some(match value()?.as_str() {
                        "all" => EnvCases::All,
                        "skip" => EnvCases::Skip,
                        "only" => EnvCases::Only,
                        other => {
                            return Err(format!(
                                "--env-cases {other:?}: allowed values are all, skip, only"
                            ));
                        }
                    })
                }
                other => return Err(format!("unknown option {other:?}; usage: {USAGE}")),
            }
        }
        let cases = cases.ok_or_else(|| format!("--cases is required; usage: {USAGE}"))?;
        if url.is_none() && catalog.is_none() {
            return Err(format!(
                "--catalog is required for an in-process run (or give --url); usage: {USAGE}"
            ));
        }
        let default_env = if url.is_some() {
            EnvCases::Skip
        } else {
            EnvCases::All
        };
        Ok(Options {
            catalog: catalog.unwrap_or_default(),
            cases,
            deviations,
            url,
            env_cases: env_cases.unwrap_or(default_env),
        })
    }
}

/// Counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// A case we deliberately answer differently, and the status we answer with.
#[derive(Debug, Clone)]
struct Deviation {
    id: String,
    status: u16,
    reason: String,
}

fn load_deviations(path: Option<&PathBuf>) -> Result<Vec<Deviation>, String> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.splitn(3, '\t').collect();
        let bad = || {
            format!(
                "{}:{}: expected `id<TAB>status<TAB>reason`, got {line:?}",
                path.display(),
                n + 1
            )
        };
        let [id, status, reason] = cols.as_slice() else {
            return Err(bad());
        };
        let status = status.parse().map_err(|_| bad())?;
        if !reason.contains("docs/compatibility.md") {
            return Err(format!(
                "{}:{}: the reason must point to docs/compatibility.md",
                path.display(),
                n + 1
            ));
        }
        out.push(Deviation {
            id: (*id).to_owned(),
            status,
            reason: (*reason).to_owned(),
        });
    }
    Ok(out)
}

/// Runs every case and prints a diff per failure, then `N passed, N failed`.
pub fn run(options: &Options) -> Result<Summary, String> {
    let cases = load_cases(&options.cases)?;
    let deviations = load_deviations(options.deviations.as_ref())?;
    let transport = match &options.url {
        Some(url) => transport::Transport::http(url)?,
        None => transport::Transport::in_process(&options.catalog)?,
    };
    let mut summary = Summary::default();
    for case in &cases {
        let needs_env = !case.server_env.is_empty();
        let run_it = match options.env_cases {
            EnvCases::All => true,
            EnvCases::Skip => !needs_env,
            EnvCases::Only => needs_env,
        };
        if !run_it {
            summary.skipped += 1;
            continue;
        }
        let outcome =
            transport
                .send(case)
                .map(|actual| match deviations.iter().find(|d| d.id == case.id) {
                    Some(d) if actual.status != d.status => vec![Mismatch::new(
                        "status",
                        format!("{} (documented deviation: {})", d.status, d.reason),
                        actual.status.to_string(),
                    )],
                    Some(_) => Vec::new(),
                    None => compare(case, &actual),
                });
        match outcome {
            Ok(m) if m.is_empty() => summary.passed += 1,
            Ok(mismatches) => {
                summary.failed += 1;
                println!(
                    "FAIL {} {} {} ({})",
                    case.id,
                    case.request.method,
                    case.request.target_shown(),
                    case.note
                );
                for m in mismatches.iter().take(20) {
                    println!("    {m}");
                }
                if mismatches.len() > 20 {
                    println!("    ... and {} more differences", mismatches.len() - 20);
                }
            }
            Err(e) => {
                summary.failed += 1;
                println!("FAIL {} {}: {e}", case.id, case.request.target_shown());
            }
        }
    }
    let target = options
        .url
        .clone()
        .unwrap_or_else(|| format!("in-process, catalog {}", options.catalog.display()));
    println!("conformance against {target}: {} cases", cases.len());
    if summary.skipped > 0 {
        println!(
            "{} passed, {} failed, {} skipped",
            summary.passed, summary.failed, summary.skipped
        );
    } else {
        println!("{} passed, {} failed", summary.passed, summary.failed);
    }
    Ok(summary)
}

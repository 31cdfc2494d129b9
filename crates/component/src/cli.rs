//! `wasi:cli/run`: a small command line over the resolver.
//!
//! ```text
//! wasmtime run aicr.wasm recipe --service eks --accelerator h100 --intent training
//! wasmtime run aicr.wasm query --selector components.gpu-operator.version --service eks
//! wasmtime run --dir out aicr.wasm bundle --service eks --intent training --output out
//! ```
//! Criteria flags go through [`Criteria::from_params`], so aliases, case folding, error
//! texts and the meaning of a repeated flag (the first value counts, `--gpu` only without
//! a non-empty `--accelerator`) are the engine's, the same as a repeated query parameter
//! in the HTTP API and a repeated name in WIT `parse-criteria`. `--format` and
//! `--selector` keep their first value too, as the API's `format` and `selector` do.
//! Output goes to stdout; errors name the flag, the value and what is allowed, go to
//! stderr, and make the exit status 1.

use crate::Component;
use crate::exports::wasi::cli::run::Guest;
use crate::resolver::{query, render_value, resolve};
use aicr_api::Format;
use aicr_recipe::{Criteria, Field};
use std::io::Write;

const USAGE: &str = "\
usage: aicr recipe [CRITERIA] [--format yaml|json]
       aicr query --selector PATH [CRITERIA] [--format yaml|json]
       aicr bundle --output DIR [CRITERIA] [BUNDLE OPTIONS]
       aicr --help

Prints the recipe the embedded catalog resolves for the criteria (YAML by default), or
the part of the hydrated recipe a dot-path selector names (e.g.
components.gpu-operator.values.driver; empty selects everything).

CRITERIA (each optional; omitted means any; case and aliases as in the HTTP API):
  --service      aks, eks, gke, kind, oke
  --accelerator  a100, b200, gb200, h100, l40 (--gpu: the same, used only when
                 --accelerator is absent or empty)
  --intent       inference, training
  --os           amazonlinux, cos, rhel, ubuntu
  --platform     dynamo, kubeflow
  --nodes        a whole number (0 = unspecified)

BUNDLE OPTIONS (as the HTTP API's /v1/bundle query parameters):
  --deployer     helm (default) or argocd      --repo URL   Argo CD values repository
  --set COMPONENT:PATH=VALUE (repeatable)      --nodes N    also the node estimate
  --system-node-selector K=V, --accelerated-node-selector K=V, --workload-selector K=V
  --system-node-toleration K[=V]:EFFECT, --accelerated-node-toleration K[=V]:EFFECT
  --workload-gate K[=V]:EFFECT
  `bundle` writes the files under DIR, which the host must grant
  (`wasmtime run --dir DIR ...`); WASI sets no file modes, so run `bash deploy.sh`.

Flags take their value as `--flag value` or `--flag=value`. A criteria flag given more
than once keeps its FIRST value, as a repeated parameter does in the HTTP API; the
repeatable bundle options add up.
";

/// What a command line asks for.
#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Recipe {
        criteria: Criteria,
        format: Format,
    },
    Query {
        criteria: Criteria,
        selector: String,
        format: Format,
    },
    Bundle {
        criteria: Criteria,
        options: Vec<(String, String)>,
        output: String,
    },
}

/// The flags of a command: criteria parameters, `format`, and for `query` the selector.
fn flags_of(command: &str) -> Vec<&'static str> {
    let mut flags = Field::PARAMETERS.to_vec();
    flags.push("format");
    if command == "query" {
        flags.push("selector");
    }
    if command == "bundle" {
        flags.retain(|f| *f != "format");
        flags.push("output");
        for option in aicr_bundle::options::OPTION_NAMES {
            if !flags.contains(&option) {
                flags.push(option);
            }
        }
    }
    flags
}

fn parse(args: &[String]) -> Result<Command, String> {
    let args = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    if args
        .iter()
        .any(|a| matches!(a.as_str(), "--help" | "-h" | "help"))
    {
        return Ok(Command::Help);
    }
    let Some((command, rest)) = args.split_first() else {
        return Err("no command given: allowed commands are recipe, query, bundle".into());
    };
    if !matches!(command.as_str(), "recipe" | "query" | "bundle") {
        return Err(format!(
            "unknown command {command:?}: allowed commands are recipe, query, bundle"
        ));
    }
    let allowed = flags_of(command);
    let listed = || {
        allowed
            .iter()
            .map(|f| format!("--{f}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut given: Vec<(&'static str, &str)> = Vec::new();
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(format!(
                "unexpected argument {arg:?}: {command} takes only flags ({})",
                listed()
            ));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (flag, None),
        };
        let Some(&name) = allowed.iter().find(|f| **f == name) else {
            return Err(format!(
                "unknown flag --{name} for {command}: allowed flags are {}",
                listed()
            ));
        };
        let value = match inline {
            Some(v) => v,
            None => rest
                .next()
                .map(String::as_str)
                .ok_or_else(|| format!("flag --{name} needs a value"))?,
        };
        given.push((name, value));
    }
    let get = |name: &str| given.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let criteria = Criteria::from_params(&given).map_err(|e| format!("--{}: {e}", e.field))?;
    let format = match get("format") {
        None => Format::Yaml,
        Some(v) => Format::negotiate(Some(v), None)
            .map_err(|_| format!("--format: invalid value {v:?}: allowed values are yaml, json"))?,
    };
    Ok(match command.as_str() {
        "bundle" => Command::Bundle {
            criteria,
            options: given
                .iter()
                .filter(|(n, _)| aicr_bundle::options::OPTION_NAMES.contains(n))
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            output: get("output")
                .filter(|o| !o.is_empty())
                .ok_or("bundle needs --output DIR (a directory the host grants)")?
                .to_owned(),
        },
        "query" => Command::Query {
            criteria,
            selector: get("selector")
                .ok_or("query needs --selector PATH (an empty PATH selects everything)")?
                .to_owned(),
            format,
        },
        _ => Command::Recipe { criteria, format },
    })
}

fn execute(command: Command) -> Result<String, String> {
    let describe = |e| format!("{e:?}");
    match command {
        Command::Help => Ok(USAGE.to_owned()),
        Command::Recipe { criteria, format } => {
            let recipe = resolve(&criteria).map_err(describe)?;
            render_value(&recipe, format).map_err(describe)
        }
        Command::Query {
            criteria,
            selector,
            format,
        } => {
            let recipe = resolve(&criteria).map_err(describe)?;
            let value = query(&recipe, &selector).map_err(|e| match e {
                crate::exports::aicr::recipe::resolver::Error::SelectorNotFound(miss) => {
                    format!("--selector {:?}: {}", miss.selector, miss.message)
                }
                other => describe(other),
            })?;
            render_value(&value, format).map_err(describe)
        }
        Command::Bundle {
            criteria,
            options,
            output,
        } => {
            let bundle = crate::resolver::bundle(&criteria, &options).map_err(|p| {
                let flag = if aicr_bundle::options::OPTION_NAMES.contains(&p.field.as_str()) {
                    format!("--{}", p.field)
                } else {
                    p.field
                };
                format!("{flag}: {}", p.message)
            })?;
            write_tree(&output, &bundle)?;
            let mut report = format!(
                "wrote {} files ({} bytes) under {output}\n",
                bundle.files.len(),
                bundle.total_size()
            );
            for w in &bundle.warnings {
                report.push_str(&format!("warning: {w}\n"));
            }
            Ok(report)
        }
    }
}

/// Writes a bundle's files under `dir` (created if needed). Bundle paths are relative and
/// free of `..` (checked by `aicr-bundle`), so nothing lands outside `dir`.
fn write_tree(dir: &str, bundle: &aicr_bundle::Bundle) -> Result<(), String> {
    let root = std::path::Path::new(dir);
    for file in &bundle.files {
        let path = root.join(&file.path);
        let fail = |e: std::io::Error| {
            format!(
                "--output {dir}: cannot write {}: {e} (grant the directory with `wasmtime run --dir {dir}`)",
                file.path
            )
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        std::fs::write(&path, &file.bytes).map_err(fail)?;
    }
    Ok(())
}

impl Guest for Component {
    fn run() -> Result<(), ()> {
        let args: Vec<String> = crate::wasi::cli::environment::get_arguments()
            .into_iter()
            .skip(1)
            .collect();
        match parse(&args).and_then(execute) {
            Ok(text) => std::io::stdout()
                .write_all(text.as_bytes())
                .and_then(|()| std::io::stdout().flush())
                .map_err(|_| ()),
            Err(message) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "aicr: {message}\n\nRun `aicr --help` for usage."
                );
                Err(())
            }
        }
    }
}

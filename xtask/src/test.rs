//! `cargo xtask test`: every check the project has, in one command (the README's test
//! command; `.ci/run` runs exactly this). Ends with `steps: N passed, N skipped, N failed`: a
//! step whose prerequisite is missing (e.g. `../shared`) is reported as skipped, never as
//! passed, and under `CI=true` it fails.

use crate::steps::{self, Result, Step, cargo};
use crate::{build, conformance, setup};

fn format_check() -> Result {
    steps::run(cargo().args(["fmt", "--all", "--check"]))
}

fn clippy() -> Result {
    steps::run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}

fn unit_and_property_tests() -> Result {
    steps::run(cargo().arg("test"))?;
    // The component is not a default member (its cdylib does not link natively), but its
    // adapter's rules are unit-tested natively.
    steps::run(cargo().args(["test", "-p", "aicr-component", "--lib"]))
}

fn upstream_conformance() -> Result {
    match conformance::upstream_or_skip()? {
        Some(upstream) => {
            conformance::run_with(&upstream.options(None, conformance::EnvCases::All))
        }
        None => Ok(()),
    }
}

const STEPS: &[Step] = &[
    Step {
        name: "setup",
        run: || setup::run(&[]),
    },
    Step {
        name: "cargo fmt --check",
        run: format_check,
    },
    Step {
        name: "cargo clippy -D warnings",
        run: clippy,
    },
    Step {
        name: "unit, property and catalog-fixture tests",
        run: unit_and_property_tests,
    },
    Step {
        name: "conformance (upstream cases, in-process)",
        run: upstream_conformance,
    },
    Step {
        name: "native server on loopback (upstream cases and bundles, drain, limits, TLS reload, admin API, metrics, flags, OTLP)",
        run: crate::server::tests,
    },
    Step {
        name: "engine builds for both wasm targets",
        run: build::portable_wasm,
    },
    Step {
        name: "engine builds for both wasm targets on the Debian -Zbuild-std route",
        run: build::portable_wasm_debian_route,
    },
    Step {
        name: "explorer wasm within its gzip budget",
        run: crate::web::size_budget,
    },
    Step {
        name: "explorer in headless Chromium (static server)",
        run: crate::web::explorer_tests,
    },
    Step {
        name: "cargo xtask serve from a clean www/ (no pkg/): explorer renders in Chromium",
        run: crate::serve::from_clean_www,
    },
    Step {
        name: "edge worker bundle within its gzip budget",
        run: crate::worker::bundle_budget,
    },
    Step {
        name: "edge worker end to end in workerd (our catalog, upstream conformance, bundle cases judged on both catalogs, load)",
        run: crate::worker::end_to_end,
    },
    Step {
        name: "edge worker memory under load in workerd (linear memory bound)",
        run: crate::worker::memory_under_load,
    },
    Step {
        name: "component in wasmtime (typed resolver cross product, wasi:cli/run, memory, size budget)",
        run: crate::component::host_tests,
    },
    Step {
        name: "component wasi:http export served by jco serve (upstream catalog, conformance, bundle cases judged)",
        run: crate::component::http_conformance,
    },
    Step {
        name: "README's wasmtime run / wasmtime serve commands, verbatim, with the real wasmtime CLI",
        run: crate::wasmtime_cli::readme,
    },
    Step {
        name: "component wasi:http export under wasmtime serve (upstream catalog, conformance, bundle cases judged)",
        run: crate::wasmtime_cli::conformance,
    },
    Step {
        name: "component's stack under wasmtime serve (keys from --env, gzip, security headers, no secret leaks)",
        run: crate::wasmtime_cli::stack,
    },
    Step {
        name: "schemathesis against /openapi.json, component under wasmtime serve (every check, 0 failures)",
        run: crate::schemathesis::run,
    },
    Step {
        name: "deploy/ manifests rendered (kubectl kustomize) and strictly validated (kubernetes-validate, our CRD schemas, cross-references; broken copies refused)",
        run: crate::deploy::manifests,
    },
    Step {
        name: "aicr-server image FROM scratch (static, ≤ 10 MB) run by podman read-only as 65532: /health, /ready, a recipe, drain to exit 0",
        run: crate::image::test,
    },
    Step {
        name: "HAProxy in front of three servers: one SIGKILLed, one drained during wrk, zero failed requests",
        run: crate::haproxy::fault_run,
    },
    Step {
        name: "deploy/blue-green.sh with a local HAProxy: switch, refuse a bad green, roll back after a failed live check",
        run: crate::haproxy::blue_green_switch,
    },
    Step {
        name: "deploy/blue-green.sh kubectl mode against a fake kubectl and real servers: switch, refuse and put back, roll back",
        run: crate::haproxy::blue_green_kubectl_mode,
    },
    Step {
        name: "SpinKube variant: spin.toml and its image, the component with its environment under wasmtime serve",
        run: crate::deploy::spin_variant,
    },
    Step {
        name: "component transpiled by jco, in Node (node --test)",
        run: crate::component::js_tests,
    },
];

pub fn run(args: &[String]) -> Result {
    steps::without_incremental_builds();
    let only = args.first().map(String::as_str);
    let mut failed = Vec::new();
    let mut skipped = Vec::new();
    let mut passed = 0;
    for step in STEPS
        .iter()
        .filter(|s| only.is_none_or(|o| s.name.contains(o)))
    {
        eprintln!("\n==> {}", step.name);
        let result = (step.run)();
        let skips = steps::take_skips();
        match result {
            Ok(()) if skips.is_empty() => passed += 1,
            Ok(()) => skipped.push((step.name, skips.join("; "))),
            Err(e) => {
                eprintln!("FAILED: {}: {e}", step.name);
                failed.push(step.name);
            }
        }
    }
    eprintln!();
    for (name, why) in &skipped {
        eprintln!("skipped step: {name}: {why}");
    }
    for name in &failed {
        eprintln!("failed step: {name}");
    }
    println!(
        "steps: {passed} passed, {} skipped, {} failed",
        skipped.len(),
        failed.len()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} step(s) failed", failed.len()))
    }
}

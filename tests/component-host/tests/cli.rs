//! `wasi:cli/run` through wasmtime's command world: what `wasmtime run aicr.wasm ...`
//! executes. Output must equal the native engine's rendering; bad input must name the
//! flag, the value and what is allowed.

use aicr_component_host::Host;
use aicr_recipe::{Accelerator, Criteria, Intent, Service};

fn native(criteria: &Criteria) -> aicr_recipe::Recipe<'static> {
    aicr_embedded_catalog::catalog().resolve(criteria).unwrap()
}

const README_ARGS: &[&str] = &[
    "recipe",
    "--service",
    "eks",
    "--accelerator",
    "h100",
    "--intent",
    "training",
];

#[test]
fn recipe_prints_the_native_yaml_and_json() {
    let Some(host) = Host::shared() else { return };
    let criteria = Criteria {
        service: Service::Eks,
        accelerator: Accelerator::H100,
        intent: Intent::Training,
        ..Criteria::default()
    };
    let out = host.run(README_ARGS).unwrap();
    assert!(out.success, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        serde_norway::to_string(&native(&criteria)).unwrap()
    );

    // `wasmtime run aicr.wasm -- recipe ...` passes the `--` through; it is ignored.
    let mut args = vec!["--"];
    args.extend_from_slice(README_ARGS);
    args.extend_from_slice(&["--format=json"]);
    let out = host.run(&args).unwrap();
    assert!(out.success, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        serde_json::to_string(&native(&criteria)).unwrap() + "\n"
    );
}

#[test]
fn query_prints_the_selected_value() {
    let Some(host) = Host::shared() else { return };
    let out = host
        .run(&[
            "query",
            "--selector",
            "deploymentOrder",
            "--service",
            "EKS",
            "--format",
            "json",
        ])
        .unwrap();
    assert!(out.success, "{}", out.stderr);
    let criteria = Criteria {
        service: Service::Eks,
        ..Criteria::default()
    };
    let want = native(&criteria).query("deploymentOrder").unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap(),
        want
    );
}

#[test]
fn help_goes_to_stdout_and_succeeds() {
    let Some(host) = Host::shared() else { return };
    let out = host.run(&["--help"]).unwrap();
    assert!(out.success);
    assert!(
        out.stdout.starts_with("usage: aicr recipe"),
        "{}",
        out.stdout
    );
    // The rule for repeated criteria is stated where users look.
    assert!(out.stdout.contains("--gpu"), "{}", out.stdout);
    assert!(
        out.stdout.contains("keeps its FIRST value"),
        "{}",
        out.stdout
    );
}

#[test]
fn bad_input_names_flag_value_and_allowed_values() {
    let Some(host) = Host::shared() else { return };
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["recipe", "--service", "lke"],
            &["--service", "\"lke\"", "aks, eks, gke, kind, oke, any"],
        ),
        (
            &["recipe", "--nodes", "-1"],
            &["--nodes", "\"-1\"", "whole number"],
        ),
        (
            &["recipe", "--format", "xml"],
            &["--format", "\"xml\"", "yaml, json"],
        ),
        (
            &["recipe", "--colour", "red"],
            &["--colour", "allowed flags are --service"],
        ),
        (&["recipe", "--service"], &["--service needs a value"]),
        (
            &["recipe", "--gpu", "h999"],
            &[
                "--accelerator",
                "\"h999\"",
                "a100, b200, gb200, h100, l40, any",
            ],
        ),
        (
            &["deploy"],
            &["\"deploy\"", "allowed commands are recipe, query, bundle"],
        ),
        (&["bundle", "--service", "eks"], &["--output DIR"]),
        (
            &["bundle", "--output", "out", "--deployer", "flux"],
            &["--deployer", "flux", "helm or argocd"],
        ),
        (&[], &["no command given"]),
        (&["query", "--service", "eks"], &["--selector"]),
        (
            &["query", "--selector", "components.nope"],
            &["--selector", "nope", "available keys"],
        ),
    ];
    for (args, needles) in cases {
        let out = host.run(args).unwrap();
        assert!(!out.success, "{args:?} should fail");
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed to stdout: {}",
            out.stdout
        );
        for needle in *needles {
            assert!(
                out.stderr.contains(needle),
                "{args:?}: {needle:?} not in {}",
                out.stderr
            );
        }
    }
}

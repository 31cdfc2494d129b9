//! Test steps for deploy/'s manifests and its SpinKube variant, offline.
//!
//! Manifests: rendered by `kubectl kustomize` (kustomize built into kubectl, no cluster or
//! network needed) from both entry points (deploy/kubernetes, deploy/istio), then every
//! object held to one strict schema by deploy/check/validate.py: kubernetes-validate's
//! (PyPI, pinned, in a venv under target/tools) for Kubernetes' kinds at the oldest and
//! newest Kubernetes it knows that we support, ours (deploy/check/schemas) for Istio's,
//! SpinKube's and the Prometheus Operator's, which kubernetes-validate only warns about.
//! A validator that passes everything proves nothing, so broken copies must fail it too.
//!
//! SpinKube variant: no Spin runtime or cluster is reachable here, so what can be checked
//! is: the SpinApp's shape (above), that deploy/spinkube/spin.toml routes every path to the
//! file its Containerfile copies, and that the component itself, given spin.toml's
//! environment, serves /health, /ready and a recipe under `wasmtime serve`.

use crate::image::podman;
use crate::install;
use crate::steps::{self, Result, root};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Kubernetes versions the manifests must be valid for: the oldest the manifests support
/// (autoscaling/v2 and policy/v1 are GA well before; 1.30 is the oldest release still
/// served by the large managed services) and the newest kubernetes-validate knows.
const KUBERNETES: &[&str] = &["1.30.0", "1.37.0"];

/// The kustomize entry points, each rendered and validated whole.
const ENTRY_POINTS: &[&str] = &["deploy/kubernetes", "deploy/istio"];

/// Files applied as they are (no kustomization).
const PLAIN: &[&str] = &[
    "deploy/spinkube/spinapp.yaml",
    "deploy/prometheus-adapter/podmonitor.yaml",
];

/// Breakages the validator must catch: (what, entry point, text, replacement).
const BROKEN: &[(&str, &str, &str, &str)] = &[
    (
        "a misspelt Kubernetes field",
        "deploy/kubernetes",
        "readOnlyRootFilesystem: true",
        "readOnlyRootFileSystem: true",
    ),
    (
        "an unknown PeerAuthentication field",
        "deploy/istio",
        "  mtls:\n",
        "  mtlz:\n",
    ),
    (
        "plaintext to the Service",
        "deploy/istio",
        "mode: ISTIO_MUTUAL",
        "mode: DISABLE",
    ),
    (
        "an HPA metric no adapter rule makes",
        "deploy/kubernetes",
        "name: aicr_http_requests_per_second",
        "name: aicr_requests_per_second",
    ),
    (
        "a drain longer than the grace period",
        "deploy/kubernetes",
        "terminationGracePeriodSeconds: 30",
        "terminationGracePeriodSeconds: 3",
    ),
];

fn kustomize(entry: &str) -> Result<String> {
    let out = Command::new("timeout")
        .args(["120", "kubectl", "kustomize"])
        .arg(root().join(entry))
        .output()
        .map_err(|e| format!("cannot run kubectl (kustomize renders deploy/): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kubectl kustomize {entry} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("kubectl kustomize {entry}: {e}"))
}

/// Runs validate.py over `files`; its report, or an error with it.
fn validate(python: &Path, files: &[PathBuf]) -> Result<String> {
    let deploy = root().join("deploy");
    let mut cmd = Command::new(python);
    cmd.arg(deploy.join("check/validate.py"));
    for version in KUBERNETES {
        cmd.args(["--k8s", version]);
    }
    cmd.arg("--adapter")
        .arg(deploy.join("prometheus-adapter/values.yaml"))
        .args(files);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(report)
    } else {
        Err(report)
    }
}

/// Test step: render, validate, and see broken copies fail.
pub fn manifests() -> Result {
    // kubectl renders kustomize offline; this machine's image has it from an apt
    // repository, and a machine without it gets it the same way.
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        install::apt_install(&["kubectl"])?;
    }
    let python = install::kubernetes_validate()?;
    let out = root().join("target/deploy");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let plain: Vec<PathBuf> = PLAIN.iter().map(|p| root().join(p)).collect();
    let mut rendered = BTreeMap::new();
    for entry in ENTRY_POINTS {
        let text = kustomize(entry)?;
        let file = out.join(format!("{}.yaml", entry.replace('/', "-")));
        std::fs::write(&file, &text).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut files = vec![file];
        files.extend(plain.iter().cloned());
        let report = validate(&python, &files)?;
        eprint!("{entry} (+ {}): {report}", PLAIN.join(", "));
        rendered.insert(*entry, text);
    }
    for (what, entry, from, to) in BROKEN {
        let text = &rendered[entry];
        if !text.contains(from) {
            return Err(format!("{entry} renders no {from:?} to break ({what})"));
        }
        let file = out.join("broken.yaml");
        std::fs::write(&file, text.replace(from, to))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        match validate(&python, &[file]) {
            Ok(report) => return Err(format!("validate.py accepted {what}:\n{report}")),
            Err(report) => {
                let first = report.lines().next().unwrap_or_default();
                eprintln!("refused, as it must be: {what}: {first}");
            }
        }
    }
    Ok(())
}

/// The `environment` table of deploy/spinkube/spin.toml's one component, after checking
/// that it serves every path (`route = "/..."`) from `aicr.wasm`, the file the Containerfile
/// copies. A line-based reading: the file is ours and kept flat on purpose.
fn spin_environment() -> Result<BTreeMap<String, String>> {
    let dir = root().join("deploy/spinkube");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).map_err(|e| format!("deploy/spinkube/{name}: {e}"))
    };
    let manifest = read("spin.toml")?;
    let containerfile = read("Containerfile")?;
    let lines: Vec<&str> = manifest.lines().map(str::trim).collect();
    for needed in [
        "spin_manifest_version = 2",
        "route = \"/...\"",
        "component = \"aicr\"",
        "[component.aicr]",
        "source = \"aicr.wasm\"",
    ] {
        if !lines.contains(&needed) {
            return Err(format!("deploy/spinkube/spin.toml has no line `{needed}`"));
        }
    }
    for copied in ["COPY spin.toml /spin.toml", "COPY aicr.wasm /aicr.wasm"] {
        if !containerfile.lines().any(|l| l.trim() == copied) {
            return Err(format!(
                "deploy/spinkube/Containerfile has no line `{copied}`"
            ));
        }
    }
    let table = lines
        .iter()
        .find_map(|l| l.strip_prefix("environment = {"))
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or("deploy/spinkube/spin.toml: no one-line `environment = { … }`")?;
    table
        .split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("spin.toml environment: {pair:?} is no NAME = \"value\""))?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| format!("spin.toml environment: {value} is no quoted string"))?;
            Ok((name.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

/// Test step: the SpinKube variant, as far as it runs here (see the module docs), and its
/// image built.
pub fn spin_variant() -> Result {
    let env = spin_environment()?;
    let max_age = env
        .get("AICR_CACHE_MAX_AGE")
        .ok_or("spin.toml sets no AICR_CACHE_MAX_AGE")?
        .clone();
    install::wasmtime_cli()?;
    let wasm = crate::component::build_wasm(crate::catalog::Catalog::Ours)?;
    let served = crate::wasmtime_cli::serve(&wasm, &env)?;
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(10))
        .build();
    for path in ["/health", "/ready"] {
        agent.get(&served.url(path)).call().map_err(|e| {
            format!("{path} under wasmtime serve with spin.toml's environment: {e}")
        })?;
    }
    let answer = agent
        .get(&served.url(crate::load::RECIPE))
        .call()
        .map_err(|e| format!("a recipe under wasmtime serve: {e}"))?;
    let cache = answer
        .header("cache-control")
        .unwrap_or_default()
        .to_owned();
    if !cache.contains(&format!("max-age={max_age}")) {
        return Err(format!(
            "spin.toml's AICR_CACHE_MAX_AGE={max_age} did not reach the component: \
             Cache-Control is {cache:?}"
        ));
    }
    drop(served);
    let image = crate::image::spin_image(&wasm)?;
    let id = podman(&["create", image.reference, "/aicr.wasm"])?;
    let export = root().join("target/image/aicr-spin-export.tar");
    let exported = podman(&["export", "--output", &export.to_string_lossy(), id.trim()]);
    podman(&["rm", id.trim()])?;
    exported?;
    let listing = steps::output(Command::new("tar").arg("-tf").arg(&export))
        .ok_or_else(|| format!("cannot list {}", export.display()))?;
    let mut files: Vec<&str> = listing.lines().collect();
    files.sort_unstable();
    if files != ["aicr.wasm", "spin.toml"] {
        return Err(format!(
            "{} holds {files:?}, not aicr.wasm and spin.toml",
            image.reference
        ));
    }
    eprintln!(
        "SpinKube variant: spin.toml routes /... to aicr.wasm; with its environment the \
         component served /health, /ready and a recipe (Cache-Control {cache}) under \
         wasmtime serve; {} holds exactly spin.toml and aicr.wasm",
        image.reference
    );
    Ok(())
}

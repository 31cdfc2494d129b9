//! The Helm deployer's files: `deploy.sh` and `undeploy.sh` (one `helm upgrade --install`
//! or `kubectl apply` per component, in deployment order and back), a README per
//! component with its own commands, and the bundle's README.
//!
//! Every recipe string in a script passes through [`sh`], on top of the checks the
//! document already passed, so a hostile recipe cannot turn into a command.

use crate::safety::sh;
use crate::{Component, File, Plan};
use std::fmt::Write;

/// The bundle-relative directory of a component's manifests, as the scripts name it.
fn manifests_arg(c: &Component<'_>) -> String {
    format!("\"$SCRIPT_DIR\"/{}/manifests/", sh(&c.r.name))
}

fn values_arg(c: &Component<'_>) -> String {
    format!("\"$SCRIPT_DIR\"/{}/values.yaml", sh(&c.r.name))
}

/// `helm` arguments naming the chart: `NAME CHART --repo URL` or `NAME oci://…/CHART`,
/// then the version when the recipe pins one.
fn chart_args(c: &Component<'_>) -> String {
    let mut out = if c.is_oci() {
        format!(
            "{} {}",
            sh(&c.r.name),
            sh(&format!(
                "{}/{}",
                c.r.source.trim_end_matches('/'),
                c.chart_name()
            ))
        )
    } else {
        format!(
            "{} {} --repo {}",
            sh(&c.r.name),
            sh(c.chart_name()),
            sh(&c.r.source)
        )
    };
    if !c.r.version.is_empty() {
        write!(out, " --version {}", sh(&c.r.version)).unwrap();
    }
    out
}

fn kustomize_target(c: &Component<'_>) -> String {
    let mut target = c.r.source.clone();
    if !c.r.path.is_empty() {
        write!(target, "//{}", c.r.path).unwrap();
    }
    if !c.r.tag.is_empty() {
        write!(target, "?ref={}", c.r.tag).unwrap();
    }
    sh(&target)
}

const PRELUDE: &str = r#"set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }
# Runs a command up to three times, five and ten seconds apart: API servers and webhooks
# of freshly installed charts often need a moment.
retry() {
  local attempt=1
  until "$@"; do
    [ "$attempt" -ge 3 ] && return 1
    printf '    retrying in %ss: %s\n' "$((attempt * 5))" "$1"
    sleep "$((attempt * 5))"
    attempt=$((attempt + 1))
  done
}
for tool in helm kubectl; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is not on PATH"
done
"#;

/// `deploy.sh`: installs every component in deployment order.
pub fn deploy_script(plan: &Plan<'_>) -> String {
    let mut s = String::new();
    writeln!(s, "#!/usr/bin/env bash").unwrap();
    writeln!(
        s,
        "# Installs this bundle's {} components in deployment order (aicr-edge {}).",
        plan.components.len(),
        crate::VERSION
    )
    .unwrap();
    s.push_str(
        "#\n# Usage: ./deploy.sh [--no-wait]\n#   --no-wait  do not wait for each chart's resources to become ready\n#\n# Needs helm and kubectl, and a kubeconfig pointing at the target cluster.\n",
    );
    s.push_str(PRELUDE);
    s.push_str(
        r#"
WAIT=(--wait --timeout 10m)
for arg in "$@"; do
  case "$arg" in
    --no-wait) WAIT=() ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) fail "unknown option $arg (see --help)" ;;
  esac
done
"#,
    );
    for c in &plan.components {
        let ns = sh(&c.r.namespace);
        writeln!(
            s,
            "\nstep {}",
            sh(&format!("{} ({})", c.r.name, c.r.namespace))
        )
        .unwrap();
        if c.is_kustomize() {
            writeln!(
                s,
                "kubectl create namespace {ns} --dry-run=client -o yaml | kubectl apply -f -"
            )
            .unwrap();
            writeln!(s, "retry kubectl apply -k {} -n {ns}", kustomize_target(c)).unwrap();
        } else if c.has_chart() {
            if c.has_manifests() {
                // Objects the chart's pods read at start (config maps) go in first; objects
                // of the chart's own CRDs cannot yet, so a failure here is not fatal.
                writeln!(
                    s,
                    "kubectl create namespace {ns} --dry-run=client -o yaml | kubectl apply -f -"
                )
                .unwrap();
                writeln!(
                    s,
                    "kubectl apply -f {} || echo '    some manifests wait for the chart; applied again below'",
                    manifests_arg(c)
                )
                .unwrap();
            }
            writeln!(
                s,
                "retry helm upgrade --install {} -n {ns} --create-namespace -f {} ${{WAIT[@]+\"${{WAIT[@]}}\"}}",
                chart_args(c),
                values_arg(c)
            )
            .unwrap();
            if c.has_manifests() {
                writeln!(s, "retry kubectl apply -f {}", manifests_arg(c)).unwrap();
            }
        } else if c.has_manifests() {
            writeln!(s, "retry kubectl apply -f {}", manifests_arg(c)).unwrap();
        } else {
            writeln!(
                s,
                "echo '    nothing to install: no chart and no manifests'"
            )
            .unwrap();
        }
    }
    s.push_str("\nstep 'done'\n");
    s
}

/// `undeploy.sh`: removes the components in reverse order; namespaces only on request.
pub fn undeploy_script(plan: &Plan<'_>) -> String {
    let mut s = String::new();
    writeln!(s, "#!/usr/bin/env bash").unwrap();
    writeln!(
        s,
        "# Removes this bundle's components in reverse deployment order (aicr-edge {}).",
        crate::VERSION
    )
    .unwrap();
    s.push_str(
        "#\n# Usage: ./undeploy.sh [--delete-namespaces]\n#   --delete-namespaces  also delete the namespaces the components used\n#                        (never kube-system, kube-public, kube-node-lease or default)\n#\n",
    );
    s.push_str(PRELUDE);
    s.push_str(
        r#"
DELETE_NAMESPACES=false
for arg in "$@"; do
  case "$arg" in
    --delete-namespaces) DELETE_NAMESPACES=true ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) fail "unknown option $arg (see --help)" ;;
  esac
done
"#,
    );
    let mut namespaces: Vec<&str> = Vec::new();
    for c in plan.components.iter().rev() {
        let ns = sh(&c.r.namespace);
        writeln!(
            s,
            "\nstep {}",
            sh(&format!("{} ({})", c.r.name, c.r.namespace))
        )
        .unwrap();
        if c.has_manifests() {
            writeln!(
                s,
                "kubectl delete -f {} --ignore-not-found",
                manifests_arg(c)
            )
            .unwrap();
        }
        if c.is_kustomize() {
            writeln!(
                s,
                "kubectl delete -k {} -n {ns} --ignore-not-found",
                kustomize_target(c)
            )
            .unwrap();
        } else if c.has_chart() {
            writeln!(
                s,
                "helm uninstall {} -n {ns} --ignore-not-found",
                sh(&c.r.name)
            )
            .unwrap();
        }
        if !c.r.namespace.is_empty()
            && (c.has_chart() || c.is_kustomize())
            && !namespaces.contains(&c.r.namespace.as_str())
        {
            namespaces.push(&c.r.namespace);
        }
    }
    s.push_str("\nif [ \"$DELETE_NAMESPACES\" = true ]; then\n");
    for ns in namespaces {
        if ["kube-system", "kube-public", "kube-node-lease", "default"].contains(&ns) {
            continue;
        }
        writeln!(
            s,
            "  step {}\n  kubectl delete namespace {} --ignore-not-found --wait=false",
            sh(&format!("namespace {ns}")),
            sh(ns)
        )
        .unwrap();
    }
    s.push_str("fi\n\nstep 'done'\n");
    s
}

/// A component's own README: what it installs and the commands to do it by hand.
pub fn component_readme(c: &Component<'_>) -> String {
    let r = c.r;
    let mut s = format!("# {}\n\n", r.name);
    if c.is_kustomize() {
        writeln!(
            s,
            "Kustomization `{}` (path `{}`, ref `{}`), namespace `{}`.\n\n```bash\nkubectl apply -k {} -n {}\n```",
            r.source, r.path, r.tag, r.namespace, kustomize_target(c), sh(&r.namespace)
        )
        .unwrap();
        return s;
    }
    if c.has_chart() {
        writeln!(
            s,
            "Helm chart `{}` from `{}`, version `{}`, namespace `{}`.\n\n`values.yaml` holds the merged values this recipe chose.\n\n## Install or upgrade\n\n```bash\nhelm upgrade --install {} -n {} --create-namespace -f values.yaml --wait --timeout 10m\n```",
            c.chart_name(),
            r.source,
            if r.version.is_empty() { "latest" } else { &r.version },
            r.namespace,
            chart_args(c),
            sh(&r.namespace)
        )
        .unwrap();
    }
    if c.has_manifests() {
        s.push_str(
            "\n## Manifests\n\nThe `manifests/` folder holds extra objects rendered for this recipe; apply them after the chart:\n\n```bash\nkubectl apply -f manifests/\n```\n",
        );
    }
    if c.has_chart() {
        writeln!(
            s,
            "\n## Uninstall\n\n```bash\nhelm uninstall {} -n {}\n```",
            sh(&r.name),
            sh(&r.namespace)
        )
        .unwrap();
    }
    s
}

/// Text safe for a Markdown code span on one line.
fn inline(text: &str) -> String {
    text.chars()
        .map(|c| if c == '`' || c.is_control() { '\'' } else { c })
        .collect()
}

/// The bundle's README: what it is for, the components in order, how to run it.
pub fn readme(plan: &Plan<'_>) -> String {
    let mut s = String::from("# Deployment bundle\n\n");
    s.push_str("Built by aicr-edge from a recipe");
    if let Some(c) = &plan.document.criteria {
        let named: Vec<String> = [
            ("service", &c.service),
            ("accelerator", &c.accelerator),
            ("intent", &c.intent),
            ("os", &c.os),
            ("platform", &c.platform),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty() && *v != "any")
        .map(|(k, v)| format!("{k} `{}`", inline(v)))
        .collect();
        if !named.is_empty() {
            write!(s, " for {}", named.join(", ")).unwrap();
        }
    }
    s.push_str(".\n\n## Components, in deployment order\n\n| # | component | namespace | chart | version |\n|---|---|---|---|---|\n");
    for (i, c) in plan.components.iter().enumerate() {
        writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            i + 1,
            c.r.name,
            c.r.namespace,
            if c.has_chart() {
                c.chart_name()
            } else {
                "(manifests only)"
            },
            c.r.version
        )
        .unwrap();
    }
    if !plan.document.constraints.is_empty() {
        s.push_str("\n## Cluster requirements\n\n");
        for k in &plan.document.constraints {
            writeln!(s, "- `{}`: `{}`", inline(&k.name), inline(&k.value)).unwrap();
        }
    }
    s.push_str(
        "\n## Deploy\n\n```bash\n./deploy.sh            # waits for each chart to be ready\n./deploy.sh --no-wait  # does not wait\n```\n\nEach component folder also has a README with its own `helm` commands.\n\n## Remove\n\n```bash\n./undeploy.sh                      # releases and manifests, in reverse order\n./undeploy.sh --delete-namespaces  # and the namespaces they used\n```\n\n## Check the files\n\n```bash\nsha256sum -c checksums.txt\n```\n",
    );
    s
}

/// Every file of a Helm bundle except `checksums.txt` and `recipe.yaml`.
pub fn files(plan: &Plan<'_>) -> Vec<File> {
    let mut files = Vec::new();
    for c in &plan.components {
        files.push(File::text(
            format!("{}/values.yaml", c.r.name),
            c.values_yaml(),
        ));
        files.push(File::text(
            format!("{}/README.md", c.r.name),
            component_readme(c),
        ));
        for (file_name, text) in &c.manifests {
            files.push(File::text(
                format!("{}/manifests/{file_name}", c.r.name),
                text.clone(),
            ));
        }
    }
    files.push(File::text("README.md".into(), readme(plan)));
    files.push(File::script("deploy.sh".into(), deploy_script(plan)));
    files.push(File::script("undeploy.sh".into(), undeploy_script(plan)));
    files
}

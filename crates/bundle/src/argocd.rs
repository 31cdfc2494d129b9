//! The Argo CD deployer's files: an `Application` per component (sync wave = position in
//! the deployment order; chart from its repository, values from the user's Git
//! repository), an app-of-apps that picks them all up, and a README.
//!
//! Upstream leaves the text `{{ .RepoURL }}` unrendered in every `application.yaml`
//! (docs/compatibility.md); here the values source is the `repo` option, or the same
//! placeholder URL the app-of-apps gets when it is absent.

use crate::{Component, File, Plan};
use serde_json::{Value, json};
use std::fmt::Write;

/// Where the values live when the user named no repository.
pub const PLACEHOLDER_REPO: &str = "https://github.com/YOUR-ORG/YOUR-REPO.git";

fn yaml(v: &Value) -> String {
    serde_norway::to_string(v).expect("JSON values always serialise as YAML")
}

/// An unset field is written as null, as upstream's template leaves it (`repoURL:`).
fn text(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_owned())
    }
}

fn application(c: &Component<'_>, wave: usize, repo: &str) -> Value {
    let r = c.r;
    let source = if c.is_kustomize() {
        json!({"source": {"repoURL": text(&r.source), "targetRevision": text(&r.tag), "path": text(&r.path)}})
    } else {
        json!({"sources": [
            {
                "repoURL": text(&r.source),
                "chart": c.chart_name(),
                "targetRevision": text(r.version.strip_prefix('v').unwrap_or(&r.version)),
                "helm": {"valueFiles": [format!("$values/{}/values.yaml", r.name)]},
            },
            {"repoURL": repo, "targetRevision": "main", "ref": "values"},
        ]})
    };
    let mut spec = json!({
        "project": "default",
        "destination": {"server": "https://kubernetes.default.svc", "namespace": text(&r.namespace)},
        "syncPolicy": {
            "automated": {"prune": true, "selfHeal": true},
            "syncOptions": ["CreateNamespace=true"],
        },
    });
    if let (Value::Object(spec), Value::Object(source)) = (&mut spec, source) {
        spec.extend(source);
    }
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": r.name,
            "namespace": "argocd",
            "annotations": {"argocd.argoproj.io/sync-wave": wave.to_string()},
        },
        "spec": spec,
    })
}

fn app_of_apps(repo: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "nvidia-stack", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": repo,
                "targetRevision": "main",
                "path": ".",
                "directory": {"recurse": true, "include": "*/application.yaml"},
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "argocd"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
        },
    })
}

fn readme(plan: &Plan<'_>, repo_given: bool) -> String {
    let mut s = String::from(
        "# Argo CD bundle\n\nOne Argo CD `Application` per component (`<component>/application.yaml`), ordered by\nsync wave, and `app-of-apps.yaml`, which makes Argo CD pick them all up from your Git\nrepository. Helm charts come from their own repositories; their values from\n`<component>/values.yaml` in your repository.\n\n## Use it\n\n1. Commit this folder to the root of a Git repository Argo CD can read.\n",
    );
    if !repo_given {
        writeln!(
            s,
            "2. Replace `{PLACEHOLDER_REPO}` with that repository's URL in `app-of-apps.yaml`\n   and in every `application.yaml` (or build the bundle again with `repo=<url>`)."
        )
        .unwrap();
    }
    s.push_str("3. `kubectl apply -f app-of-apps.yaml`\n\n## Applications, by sync wave\n\n| wave | application | namespace | chart | version |\n|---|---|---|---|---|\n");
    for (i, c) in plan.components.iter().enumerate() {
        writeln!(
            s,
            "| {i} | {} | {} | {} | {} |",
            c.r.name,
            c.r.namespace,
            c.chart_name(),
            c.r.version
        )
        .unwrap();
    }
    s
}

/// Every file of an Argo CD bundle except `checksums.txt`.
pub fn files(plan: &Plan<'_>, repo: Option<&str>) -> Vec<File> {
    let url = repo.unwrap_or(PLACEHOLDER_REPO);
    let mut files = Vec::new();
    for (wave, c) in plan.components.iter().enumerate() {
        files.push(File::text(
            format!("{}/application.yaml", c.r.name),
            yaml(&application(c, wave, url)),
        ));
        if !c.is_kustomize() {
            files.push(File::text(
                format!("{}/values.yaml", c.r.name),
                c.values_yaml(),
            ));
        }
    }
    files.push(File::text(
        "app-of-apps.yaml".into(),
        yaml(&app_of_apps(url)),
    ));
    files.push(File::text("README.md".into(), readme(plan, repo.is_some())));
    files
}

//! Differential tests against upstream's recorded bundles, and checks of our own catalog.
//!
//! For every manifest a recorded `/v1/bundle` case lists (`../shared/bundle-conformance`),
//! upstream's template and ours are rendered with exactly the values and chart data upstream
//! rendered with (the case's `values.yaml` and `recipe.yaml`), and each result must equal the
//! recorded file as YAML values (all documents, empty ones dropped, as the bundle judge does),
//! or, where upstream left the file out of the bundle, render to nothing (`has_objects`).
//! Beyond the recorded inputs, our templates and upstream's must agree on synthetic values
//! that take every branch. Finally every manifest in our catalog must parse and render.

use std::fs;
use std::path::{Path, PathBuf};

use aicr_helm_template::{Chart, has_objects, parse, render};
use serde::Deserialize;
use serde_json::{Map, Value, json};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared` beside the checkout, or `None` (and a skip line) when absent outside CI.
fn shared() -> Option<PathBuf> {
    let dir = workspace().join("../shared");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing; CI must provide the shared reference material",
        dir.display()
    );
    eprintln!(
        "SKIP: {} not found; differential tests not run",
        dir.display()
    );
    None
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// All non-empty YAML documents of `text`, as data.
fn docs(text: &str, what: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{what}: bad YAML: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => panic!("expected a mapping, got {other}"),
    }
}

/// A component's values file (one mapping, possibly after a comment and `---`); empty when
/// the component has none.
fn values_file(path: &Path) -> Map<String, Value> {
    if !path.exists() {
        return Map::new();
    }
    let mut d = docs(&read(path), &path.display().to_string());
    assert!(d.len() <= 1, "{}: more than one document", path.display());
    d.pop().map(object).unwrap_or_default()
}

/// Chart data as upstream's Helm deployer derives it from a component ref.
struct ChartData {
    component: String,
    namespace: String,
    chart_name: String,
    chart_version: String,
    manifests: Vec<String>,
}

impl ChartData {
    fn chart(&self) -> Chart<'_> {
        Chart {
            component: &self.component,
            namespace: &self.namespace,
            chart_name: &self.chart_name,
            chart_version: &self.chart_version,
        }
    }
}

fn component_refs(recipe: &Path) -> Vec<ChartData> {
    let doc = docs(&read(recipe), "recipe.yaml").remove(0);
    let text = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    doc["componentRefs"]
        .as_array()
        .expect("componentRefs")
        .iter()
        .map(|r| {
            let component = text(r, "name");
            let chart = text(r, "chart");
            let version = text(r, "version");
            let version = version.strip_prefix('v').unwrap_or(&version);
            ChartData {
                chart_name: if chart.is_empty() {
                    component.clone()
                } else {
                    chart
                },
                chart_version: if version.is_empty() { "0.1.0" } else { version }.to_owned(),
                namespace: text(r, "namespace"),
                manifests: r
                    .get("manifestFiles")
                    .and_then(Value::as_array)
                    .map(|m| {
                        m.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                component,
            }
        })
        .collect()
}

fn render_file(template: &Path, chart: &Chart<'_>, values: &Map<String, Value>) -> String {
    render(&read(template), chart, values).unwrap_or_else(|e| panic!("{}: {e}", template.display()))
}

#[test]
fn recorded_bundles_match_upstream_and_our_templates() {
    let Some(shared) = shared() else { return };
    let upstream = shared.join("aicr-upstream/recipes");
    let ours = workspace().join("recipes");
    let mut cases: Vec<_> = fs::read_dir(shared.join("bundle-conformance"))
        .expect("bundle-conformance")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("files/recipe.yaml").is_file())
        .collect();
    cases.sort();
    let (mut written, mut skipped) = (0, 0);
    for case in &cases {
        let files = case.join("files");
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        for data in component_refs(&files.join("recipe.yaml")) {
            if data.manifests.is_empty() {
                continue;
            }
            let values = values_file(&files.join(&data.component).join("values.yaml"));
            for manifest in &data.manifests {
                let file = Path::new(manifest).file_name().expect("file name");
                let recorded = files.join(&data.component).join("manifests").join(file);
                for (side, root) in [("upstream", &upstream), ("ours", &ours)] {
                    let what = format!("{name}: {side} {manifest}");
                    let out = render_file(&root.join(manifest), &data.chart(), &values);
                    if recorded.is_file() {
                        assert!(has_objects(&out), "{what}: rendered nothing");
                        assert_eq!(
                            docs(&out, &what),
                            docs(&read(&recorded), "recorded"),
                            "{what}: differs from the recorded bundle file"
                        );
                    } else {
                        assert!(
                            !has_objects(&out),
                            "{what}: upstream left it out, we did not"
                        );
                    }
                }
                if recorded.is_file() {
                    written += 1;
                } else {
                    skipped += 1;
                }
            }
        }
    }
    eprintln!(
        "{} cases: {written} recorded manifests equal, {skipped} left out as empty, for upstream's \
         templates and ours",
        cases.len()
    );
    assert_eq!((written, skipped), (22, 1), "the recorded set changed");
}

/// Values that take every branch of the catalog's templates.
fn synthetic(component: &str) -> Vec<Value> {
    let sched = json!({
        "acceleratedTolerations": [{"key": "gpu", "operator": "Equal", "value": "x", "effect": "NoSchedule"}],
        "acceleratedNodeSelector": {"nodeGroup": "gpu", "zone": "a"},
        "workloadSelector": {"team": "ml"},
        "nodeSelector": {"role": "system"},
        "tolerations": [{"operator": "Exists"}],
    });
    let mut out = vec![json!({}), sched.clone()];
    match component {
        "skyhook-customizations" => out.extend([
            json!({"enabled": false}),
            json!({"enabled": "false"}),
            json!({"enabled": true, "autoTaintNewNodes": false, "service": "eks", "intent": "training", "accelerator": "h100"}),
            json!({"autoTaintNewNodes": "false", "intent": "", "accelerator": 7}),
            json!({"autoTaintNewNodes": 0, "service": null, "acceleratedTolerations": [], "workloadSelector": {}}),
        ]),
        "gpu-operator" => out.extend([
            json!({"dcgmExporter": {}}),
            json!({"dcgmExporter": {"config": {}}}),
            json!({"dcgmExporter": {"config": {"create": false}}}),
            json!({"dcgmExporter": {"config": {"create": "false", "name": "x"}}}),
            json!({"dcgmExporter": {"config": {"create": true, "name": "custom"}}}),
            json!({"dcgmExporter": {"config": {"name": ""}}}),
            json!({"dcgmExporter": {"config": {"name": 1.5}}}),
        ]),
        "kgateway" => out.extend([
            json!({"nodeSelector": {}, "tolerations": []}),
            json!({"nodeSelector": {"a": "b"}}),
        ]),
        _ => {}
    }
    out
}

/// Every manifest our overlays name, as `(component, file)`.
fn our_manifests() -> Vec<(String, String)> {
    let root = workspace().join("recipes/components");
    let mut out = Vec::new();
    for comp in fs::read_dir(&root).expect("recipes/components") {
        let comp = comp.expect("entry").path();
        let Ok(files) = fs::read_dir(comp.join("manifests")) else {
            continue;
        };
        for file in files {
            let file = file
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            let name = comp.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, file));
        }
    }
    out.sort();
    out
}

#[test]
fn our_templates_agree_with_upstream_on_synthetic_values() {
    let Some(shared) = shared() else { return };
    let upstream = shared.join("aicr-upstream/recipes/components");
    let ours = workspace().join("recipes/components");
    let mut pairs = 0;
    for (component, file) in our_manifests() {
        let rel = format!("{component}/manifests/{file}");
        let theirs = parse(&read(&upstream.join(&rel))).expect("upstream parses");
        let mine = parse(&read(&ours.join(&rel))).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mut inputs = synthetic(&component);
        inputs.push(Value::Object(values_file(
            &ours.join(&component).join("values.yaml"),
        )));
        for values in inputs {
            let values = object(values);
            for chart in [
                Chart {
                    component: &component,
                    namespace: "ns-a",
                    chart_name: "c",
                    chart_version: "1.0.0",
                },
                Chart {
                    component: &component,
                    namespace: "",
                    chart_name: "",
                    chart_version: "0.1.0",
                },
            ] {
                let a = theirs
                    .render(&chart, &values)
                    .map(|s| (has_objects(&s), docs(&s, "upstream")));
                let b = mine
                    .render(&chart, &values)
                    .map(|s| (has_objects(&s), docs(&s, "ours")));
                match (a, b) {
                    (Ok(a), Ok(b)) => assert_eq!(b, a, "{rel} with {values:?}"),
                    (Err(_), Err(_)) => {}
                    (a, b) => panic!("{rel} with {values:?}: upstream {a:?}, ours {b:?}"),
                }
                pairs += 1;
            }
        }
    }
    eprintln!("{pairs} template × input renders agree");
}

#[test]
fn every_catalog_manifest_parses_and_renders() {
    let ours = workspace().join("recipes/components");
    let manifests = our_manifests();
    assert!(!manifests.is_empty());
    for (component, file) in manifests {
        let path = ours.join(&component).join("manifests").join(&file);
        let source = read(&path);
        assert!(
            !source.contains("aicr-placeholder"),
            "{}: still a placeholder",
            path.display()
        );
        let chart = Chart {
            component: &component,
            namespace: "ns",
            chart_name: &component,
            chart_version: "0.1.0",
        };
        for values in [
            Map::new(),
            values_file(&ours.join(&component).join("values.yaml")),
        ] {
            let out = render_file(&path, &chart, &values);
            docs(&out, &path.display().to_string());
        }
    }
}

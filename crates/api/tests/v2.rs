//! `/v2` end to end, in-process: provenance checked field by field against the overlay
//! files of our catalog (`recipes/`), JSON Pointer selection and its edge cases (on a
//! small catalog built here, since neither catalog has values keys with dots or slashes),
//! RFC 9457 problem details for every error class with v1's status for the same fault,
//! the bundle, the OpenAPI document, and v1 untouched beside it.

mod common;

use aicr_api::{Api, Config};
use aicr_recipe::model::{ComponentRef, Spec};
use aicr_recipe::{Catalog, CatalogParts};
use common::{api, longest_echo, send_to};
use http::{Response, StatusCode};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

fn send(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response<Vec<u8>> {
    send_to(&api(), method, target, headers, body)
}

fn get(target: &str) -> Response<Vec<u8>> {
    send("GET", target, &[], b"")
}

fn json(r: &Response<Vec<u8>>) -> Value {
    serde_json::from_slice(r.body())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(r.body())))
}

fn header<'a>(r: &'a Response<Vec<u8>>, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

fn ok(target: &str) -> Value {
    let r = get(target);
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{target}: {}",
        String::from_utf8_lossy(r.body())
    );
    json(&r)
}

/// Asserts an RFC 9457 answer and returns its body.
fn problem(r: &Response<Vec<u8>>, status: StatusCode, code: &str) -> Value {
    assert_eq!(r.status(), status, "{}", String::from_utf8_lossy(r.body()));
    assert_eq!(header(r, "content-type"), "application/problem+json");
    assert_eq!(header(r, "cache-control"), "no-store");
    assert_eq!(header(r, "x-api-version"), "v2");
    let body = json(r);
    let kebab = code.to_ascii_lowercase().replace('_', "-");
    assert_eq!(
        body["type"],
        format!("https://aicr-edge.dev/problems/{kebab}")
    );
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(body["status"], status.as_u16());
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    let id = header(r, "x-request-id");
    assert_eq!(body["instance"], format!("urn:uuid:{id}"));
    assert_eq!(body["code"], code);
    assert_eq!(body["requestId"], id);
    assert_eq!(body["timestamp"], "2026-11-28T12:40:49Z");
    assert_eq!(body["retryable"], status.is_server_error());
    // The standard members come first in the bytes.
    let text = String::from_utf8_lossy(r.body());
    assert!(text.starts_with("{\"type\":"), "{text}");
    body
}

/// v1's answer to the same fault: the same status, and every v1 detail is a member of the
/// problem (its `error` is the tail of `detail`).
fn same_fault_as_v1(v2: &Response<Vec<u8>>, v1: &Response<Vec<u8>>) {
    assert_eq!(v2.status(), v1.status());
    assert_eq!(header(v1, "content-type"), "application/json");
    assert_eq!(header(v1, "x-api-version"), "v1");
    let (p, e) = (json(v2), json(v1));
    let message = e["message"].as_str().unwrap();
    assert!(p["detail"].as_str().unwrap().starts_with(message), "{p}");
    if let Some(details) = e["details"].as_object() {
        for (key, value) in details {
            if key == "etag" {
                // Each names its own representation.
                assert_ne!(&p[key], value);
            } else if key == "error" {
                assert_eq!(
                    p["detail"],
                    format!("{message}: {}", value.as_str().unwrap())
                );
            } else {
                assert_eq!(&p[key], value, "{key}");
            }
        }
    }
    assert_eq!(header(v2, "allow"), header(v1, "allow"));
}

const H100_EKS_UBUNTU_TRAINING: &str = "service=eks&accelerator=h100&os=ubuntu&intent=training";

/// Criteria sets whose provenance is checked against the files.
const CRITERIA: [&str; 6] = [
    H100_EKS_UBUNTU_TRAINING,
    "",
    "service=gke&accelerator=h100&os=cos&intent=inference&platform=dynamo",
    "service=eks&accelerator=gb200&os=ubuntu&intent=training&platform=kubeflow",
    "service=kind&accelerator=h100&intent=inference",
    "service=aks&accelerator=h100&intent=training&os=ubuntu",
];

/// Our catalog's overlay documents, by `metadata.name`, parsed from `recipes/overlays`.
fn overlay_files() -> &'static BTreeMap<String, Value> {
    static FILES: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes/overlays");
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let doc: Value = serde_norway::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
            files.insert(name, doc);
        }
        files
    })
}

/// Our catalog's registry entries by name, from `recipes/registry.yaml`.
fn registry_file() -> &'static BTreeMap<String, Value> {
    static FILE: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes/registry.yaml");
        let doc: Value = serde_norway::from_slice(&std::fs::read(path).unwrap()).unwrap();
        doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap().to_owned(), e.clone()))
            .collect()
    })
}

/// An overlay file's entry for component `name`, if it has one.
fn file_ref<'a>(overlay: &'a Value, name: &str) -> Option<&'a Value> {
    overlay["spec"]["componentRefs"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == name)
}

/// Whether a file sets a value: present and not empty (an empty value inherits).
fn sets(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Bool(b)) => *b,
        Some(_) => true,
    }
}

/// What the overlay file `overlay` says at `what` (`None` when it says nothing there).
type Lookup<'a> = &'a dyn Fn(&Value) -> Option<Value>;

/// The applied overlays whose files set a value, in merge order.
fn writers(applied: &[String], lookup: Lookup<'_>) -> Vec<String> {
    applied
        .iter()
        .filter(|name| sets(lookup(&overlay_files()[name.as_str()]).as_ref()))
        .cloned()
        .collect()
}

/// An entry naming an overlay: the last file to set the value is it, it holds the value
/// shown, and the others that set it are `overridden`, in merge order.
fn check_overlay_origin(
    what: &str,
    origin: &Value,
    applied: &[String],
    lookup: Lookup<'_>,
    shown: &Value,
) {
    assert_eq!(origin["source"], "overlay", "{what}: {origin}");
    let mut all = writers(applied, lookup);
    let last = all
        .pop()
        .unwrap_or_else(|| panic!("{what}: no applied overlay sets it"));
    assert_eq!(origin["overlay"], last, "{what}");
    assert_eq!(
        lookup(&overlay_files()[&last]).as_ref(),
        Some(shown),
        "{what}: the file of {last} holds another value"
    );
    let overridden: Vec<String> = origin["overridden"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    assert_eq!(overridden, all, "{what}: overridden");
}

/// Every provenance entry of a recipe against the overlay and registry files, and every
/// field of the recipe has one.
fn check_against_files(criteria: &str) {
    let recipe = ok(&format!("/v2/recipe?{criteria}"));
    let applied: Vec<String> =
        serde_json::from_value(recipe["metadata"]["appliedOverlays"].clone()).unwrap();
    let provenance = &recipe["provenance"];
    let fields = provenance["fields"].as_object().unwrap();
    // Every pointer resolves in the answer itself.
    for pointer in fields.keys() {
        assert!(recipe.pointer(pointer).is_some(), "{criteria}: {pointer}");
    }
    let at = |pointer: &str| {
        fields
            .get(pointer)
            .unwrap_or_else(|| panic!("{criteria}: no provenance for {pointer}"))
    };
    for (i, c) in recipe["constraints"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = c["name"].as_str().unwrap();
        let lookup = |o: &Value| {
            o["spec"]["constraints"]
                .as_array()?
                .iter()
                .find(|x| x["name"] == name)
                .cloned()
        };
        let what = format!("{criteria}: constraint {name}");
        check_overlay_origin(
            &what,
            at(&format!("/constraints/{i}")),
            &applied,
            &lookup,
            c,
        );
    }
    for (phase, value) in recipe["validation"].as_object().into_iter().flatten() {
        let lookup = |o: &Value| o["spec"]["validation"].get(phase).cloned();
        let what = format!("{criteria}: validation phase {phase}");
        check_overlay_origin(
            &what,
            at(&format!("/validation/{phase}")),
            &applied,
            &lookup,
            value,
        );
    }
    for (i, c) in recipe["componentRefs"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let name = c["name"].as_str().unwrap();
        let base = format!("/componentRefs/{i}");
        let listing: Vec<String> = applied
            .iter()
            .filter(|o| file_ref(&overlay_files()[o.as_str()], name).is_some())
            .cloned()
            .collect();
        let entry = at(&base);
        assert_eq!(entry["overlay"], listing[0], "{criteria}: {name} added by");
        assert_eq!(
            entry["mergedBy"],
            json!(listing),
            "{criteria}: {name} merged by"
        );
        for (field, shown) in c.as_object().unwrap() {
            let what = format!("{criteria}: {name}.{field}");
            match field.as_str() {
                "name" => {}
                "overrides" => {
                    for (key, value) in shown.as_object().unwrap() {
                        let lookup = |o: &Value| file_ref(o, name)?["overrides"].get(key).cloned();
                        let pointer = format!(
                            "{base}/overrides/{}",
                            key.replace('~', "~0").replace('/', "~1")
                        );
                        check_overlay_origin(&what, at(&pointer), &applied, &lookup, value);
                    }
                }
                "manifestFiles" => {
                    for (j, file) in shown.as_array().unwrap().iter().enumerate() {
                        let first = applied
                            .iter()
                            .find(|o| {
                                file_ref(&overlay_files()[o.as_str()], name)
                                    .and_then(|r| r["manifestFiles"].as_array())
                                    .is_some_and(|files| files.contains(file))
                            })
                            .unwrap();
                        let origin = at(&format!("{base}/manifestFiles/{j}"));
                        assert_eq!(
                            origin,
                            &json!({"source": "overlay", "overlay": first}),
                            "{what}"
                        );
                    }
                }
                _ if shown == "" => {
                    assert!(!fields.contains_key(&format!("{base}/{field}")), "{what}")
                }
                _ => {
                    let origin = at(&format!("{base}/{field}"));
                    let lookup = |o: &Value| file_ref(o, name)?.get(field.as_str()).cloned();
                    if origin["source"] == "registry" {
                        assert!(
                            writers(&applied, &lookup).is_empty(),
                            "{what}: an overlay sets it"
                        );
                        let key = origin["registryKey"].as_str().unwrap();
                        let entry = &registry_file()[name];
                        let (section, leaf) = key.split_once('.').unwrap();
                        let registered = entry[section][leaf].as_str().unwrap_or("");
                        match field.as_str() {
                            // The rule: Kustomize when the entry names a Kustomize source.
                            "type" => assert_eq!(
                                shown,
                                if registered.is_empty() {
                                    "Helm"
                                } else {
                                    "Kustomize"
                                }
                            ),
                            "chart" => {
                                assert_eq!(shown, registered.rsplit('/').next().unwrap(), "{what}")
                            }
                            _ => assert_eq!(shown, registered, "{what}"),
                        }
                    } else {
                        check_overlay_origin(&what, origin, &applied, &lookup, shown);
                    }
                }
            }
        }
    }
}

#[test]
fn provenance_matches_the_overlay_and_registry_files() {
    for criteria in CRITERIA {
        check_against_files(criteria);
    }
}

/// The index of component `name` in a recipe's `componentRefs`.
fn index_of(recipe: &Value, name: &str) -> usize {
    recipe["componentRefs"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn provenance_of_h100_eks_ubuntu_training_read_off_the_files() {
    let recipe = ok(&format!("/v2/recipe?{H100_EKS_UBUNTU_TRAINING}"));
    let fields = &recipe["provenance"]["fields"];
    let gpu = index_of(&recipe, "gpu-operator");
    let field = |f: &str| &fields[format!("/componentRefs/{gpu}/{f}")];
    // base.yaml pins the version; eks-training.yaml swaps the values file;
    // h100-eks-training.yaml replaces the dependencies and adds two override keys.
    assert_eq!(
        field("version"),
        &json!({"source": "overlay", "overlay": "base"})
    );
    assert_eq!(
        field("valuesFile"),
        &json!({"source": "overlay", "overlay": "eks-training", "overridden": ["base"]})
    );
    assert_eq!(
        recipe["componentRefs"][gpu]["valuesFile"],
        "components/gpu-operator/values-eks-training.yaml"
    );
    assert_eq!(
        field("dependencyRefs"),
        &json!({"source": "overlay", "overlay": "h100-eks-training", "overridden": ["base"]})
    );
    for key in ["cdi", "gdrcopy"] {
        assert_eq!(
            field(&format!("overrides/{key}")),
            &json!({"source": "overlay", "overlay": "h100-eks-training"})
        );
    }
    // No overlay names gpu-operator's chart or namespace: registry.yaml does.
    assert_eq!(
        field("chart"),
        &json!({"source": "registry", "registryKey": "helm.defaultChart"})
    );
    assert_eq!(recipe["componentRefs"][gpu]["chart"], "gpu-operator");
    assert_eq!(
        field("namespace"),
        &json!({"source": "registry", "registryKey": "helm.defaultNamespace"})
    );
    assert_eq!(
        field("manifestFiles/0"),
        &json!({"source": "overlay", "overlay": "base"})
    );
    assert_eq!(
        fields[format!("/componentRefs/{gpu}")],
        json!({"source": "overlay", "overlay": "base", "mergedBy": ["base", "eks-training", "h100-eks-training"]})
    );
    // aws-efa: eks.yaml gives the version, the registry its chart location.
    let efa = index_of(&recipe, "aws-efa");
    assert_eq!(
        fields[format!("/componentRefs/{efa}/version")],
        json!({"source": "overlay", "overlay": "eks"})
    );
    assert_eq!(
        fields[format!("/componentRefs/{efa}/source")]["registryKey"],
        "helm.defaultRepository"
    );
    // Every overlay of the chain raises the Kubernetes floor; the leaf's wins.
    let k8s = recipe["constraints"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["name"] == "K8s.server.version")
        .unwrap();
    assert_eq!(recipe["constraints"][k8s]["value"], ">= 1.32.4");
    assert_eq!(
        fields[format!("/constraints/{k8s}")],
        json!({
            "source": "overlay",
            "overlay": "h100-eks-ubuntu-training",
            "overridden": ["base", "eks", "eks-training", "h100-eks-training"]
        })
    );
    // eks.yaml sets conformance, the leaf replaces it whole.
    assert_eq!(
        fields["/validation/conformance"],
        json!({"source": "overlay", "overlay": "h100-eks-ubuntu-training", "overridden": ["eks"]})
    );
    assert_eq!(
        fields["/validation/deployment"]["overlay"],
        "h100-eks-ubuntu-training"
    );
}

#[test]
fn overlays_say_why_they_apply() {
    let recipe = ok(&format!("/v2/recipe?{H100_EKS_UBUNTU_TRAINING}"));
    let overlays = recipe["provenance"]["overlays"].as_array().unwrap();
    let names: Vec<&Value> = overlays.iter().map(|o| &o["name"]).collect();
    let applied: Vec<&Value> = recipe["metadata"]["appliedOverlays"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(names, applied);
    assert_eq!(overlays[0], json!({"name": "base", "applied": "base"}));
    let training = overlays
        .iter()
        .find(|o| o["name"] == "h100-eks-training")
        .unwrap();
    assert_eq!(
        training,
        &json!({
            "name": "h100-eks-training",
            "parent": "eks-training",
            "criteria": {"service": "eks", "accelerator": "h100", "intent": "training", "os": "any", "platform": "any"},
            "applied": "matched"
        })
    );
    for overlay in &overlays[1..] {
        let file = &overlay_files()[overlay["name"].as_str().unwrap()];
        let parent = file["spec"]["base"].as_str().unwrap_or("base");
        assert_eq!(overlay["parent"], parent, "{overlay}");
        for (field, value) in file["spec"]["criteria"].as_object().unwrap() {
            assert_eq!(&overlay["criteria"][field], value, "{overlay}");
        }
    }
}

#[test]
fn an_ancestor_whose_criteria_do_not_match_is_inherited_via_its_descendant() {
    // `leaf` (service=eks) inherits from `middle`, whose own criteria ask for gke.
    let overlay = |name: &str, parent: &str, service| aicr_recipe::Overlay {
        name: name.into(),
        parent: parent.into(),
        criteria: Some(aicr_recipe::Criteria {
            service,
            ..Default::default()
        }),
        spec: Spec {
            component_refs: vec![ComponentRef {
                name: "demo".into(),
                kind: "Helm".into(),
                version: name.into(),
                ..Default::default()
            }],
            ..Default::default()
        },
    };
    let catalog = Catalog::new(CatalogParts {
        overlays: vec![
            overlay("middle", "", aicr_recipe::Service::Gke),
            overlay("leaf", "middle", aicr_recipe::Service::Eks),
        ],
        ..Default::default()
    })
    .unwrap();
    let api = Api::new(&catalog, Config::default());
    let r = send_to(&api, "GET", "/v2/recipe?service=eks", &[], b"");
    let recipe = json(&r);
    assert_eq!(
        recipe["provenance"]["overlays"][1],
        json!({
            "name": "middle",
            "parent": "base",
            "criteria": {"service": "gke", "accelerator": "any", "intent": "any", "os": "any", "platform": "any"},
            "applied": "inherited",
            "via": "leaf"
        })
    );
    assert_eq!(recipe["provenance"]["overlays"][2]["applied"], "matched");
    assert_eq!(
        recipe["provenance"]["fields"]["/componentRefs/0/version"],
        json!({"source": "overlay", "overlay": "leaf", "overridden": ["middle"]})
    );
}

#[test]
fn the_v2_recipe_is_the_v1_document_plus_provenance() {
    for criteria in CRITERIA {
        let v1 = get(&format!("/v1/recipe?{criteria}"));
        let v2 = get(&format!("/v2/recipe?{criteria}"));
        assert_eq!(v2.status(), StatusCode::OK);
        assert_eq!(header(&v2, "content-type"), "application/json");
        assert_eq!(header(&v2, "x-api-version"), "v2");
        assert_eq!(header(&v1, "x-api-version"), "v1");
        assert_eq!(header(&v2, "cache-control"), "public, max-age=600");
        // Same bytes up to the added member.
        let v1_text = String::from_utf8(v1.body().clone()).unwrap();
        let v2_text = String::from_utf8(v2.body().clone()).unwrap();
        let prefix = v1_text.trim_end().strip_suffix('}').unwrap();
        assert!(
            v2_text.starts_with(&format!("{prefix},\"provenance\":{{")),
            "{criteria}"
        );
        let mut body = json(&v2);
        body.as_object_mut().unwrap().remove("provenance");
        assert_eq!(body, json(&v1), "{criteria}");
        // Different representations, different tags; each revalidates on its own.
        let (t1, t2) = (header(&v1, "etag"), header(&v2, "etag"));
        assert!(t2.starts_with('"') && t1 != t2);
        let again = send(
            "GET",
            &format!("/v2/recipe?{criteria}"),
            &[("if-none-match", t2)],
            b"",
        );
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let cross = send(
            "GET",
            &format!("/v2/recipe?{criteria}"),
            &[("if-none-match", t1)],
            b"",
        );
        assert_eq!(cross.status(), StatusCode::OK);
    }
}

#[test]
fn v2_recipe_takes_v1_inputs_and_formats() {
    let get_json = json(&get("/v2/recipe?service=eks&intent=training"));
    for (content_type, body) in [
        (
            "application/json",
            &br#"{"kind":"RecipeCriteria","spec":{"service":"eks","intent":"training"}}"#[..],
        ),
        (
            "application/yaml",
            b"spec:\n  service: eks\n  intent: training\n",
        ),
    ] {
        let r = send(
            "POST",
            "/v2/recipe",
            &[("content-type", content_type)],
            body,
        );
        assert_eq!(r.status(), StatusCode::OK, "{content_type}");
        assert_eq!(header(&r, "cache-control"), "no-store");
        assert_eq!(json(&r), get_json, "{content_type}");
    }
    let yaml = get("/v2/recipe?service=eks&intent=training&format=yaml");
    assert_eq!(header(&yaml, "content-type"), "application/yaml");
    let parsed: Value = serde_norway::from_slice(yaml.body()).unwrap();
    assert_eq!(parsed, get_json);
    // `gpu` stands for `accelerator`, and the first of repeated criteria wins, as in v1.
    assert_eq!(
        json(&get("/v2/recipe?gpu=h100&service=eks&service=gke"))["criteria"],
        json(&get("/v1/recipe?gpu=h100&service=eks&service=gke"))["criteria"]
    );
    let head = send("HEAD", "/v2/recipe?service=eks", &[], b"");
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.body().is_empty());
    assert_eq!(
        header(&head, "content-length"),
        get("/v2/recipe?service=eks").body().len().to_string()
    );
    let options = send("OPTIONS", "/v2/query", &[], b"");
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&options, "allow"), "GET, HEAD, POST, OPTIONS");
    assert_eq!(header(&options, "x-api-version"), "v2");
}

fn query(criteria: &str, pointer: &str) -> Response<Vec<u8>> {
    let target = format!("/v2/query?{criteria}&selector={}", encode(pointer));
    get(&target)
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[test]
fn query_indexes_lists_and_answers_the_documents_values() {
    let c = H100_EKS_UBUNTU_TRAINING;
    let recipe = ok(&format!("/v2/recipe?{c}"));
    let value = |pointer: &str| {
        let r = query(c, pointer);
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{pointer}: {}",
            String::from_utf8_lossy(r.body())
        );
        assert_eq!(header(&r, "x-api-version"), "v2");
        json(&r)
    };
    assert_eq!(value("/deploymentOrder/0"), recipe["deploymentOrder"][0]);
    assert_eq!(
        value("/constraints/1/value"),
        recipe["constraints"][1]["value"]
    );
    assert_eq!(
        value("/metadata/appliedOverlays/5"),
        "h100-eks-ubuntu-training"
    );
    let gpu = index_of(&recipe, "gpu-operator");
    assert_eq!(value(&format!("/componentRefs/{gpu}/name")), "gpu-operator");
    // Every provenance pointer is a selector of the same value (a whole component has its
    // values besides).
    for pointer in recipe["provenance"]["fields"].as_object().unwrap().keys() {
        let mut selected = value(pointer);
        let whole_component =
            pointer.matches('/').count() == 2 && pointer.starts_with("/componentRefs/");
        if whole_component {
            let component = selected.as_object_mut().unwrap();
            assert!(component.remove("values").is_some(), "{pointer}");
        }
        assert_eq!(&selected, recipe.pointer(pointer).unwrap(), "{pointer}");
    }
    // Values: what v1 answers for the same place, through the layered path and the whole one.
    let v1 = json(&get(&format!(
        "/v1/query?{c}&selector=components.gpu-operator.values"
    )));
    let values = value(&format!("/componentRefs/{gpu}/values"));
    assert_eq!(values, v1);
    assert_eq!(value(&format!("/componentRefs/{gpu}"))["values"], v1);
    assert_eq!(value("")["componentRefs"][gpu]["values"], v1);
    assert_eq!(value("/componentRefs")[gpu]["values"], v1);
    assert_eq!(
        value(&format!("/componentRefs/{gpu}/values/driver/version")),
        json(&get(&format!(
            "/v1/query?{c}&selector=components.gpu-operator.values.driver.version"
        )))
    );
    // A list inside values (nvsentinel's global.tolerations), which v1 cannot index.
    let sentinel = index_of(&recipe, "nvsentinel");
    let tolerations = value(&format!(
        "/componentRefs/{sentinel}/values/global/tolerations"
    ));
    let first = value(&format!(
        "/componentRefs/{sentinel}/values/global/tolerations/0"
    ));
    assert_eq!(first, tolerations[0]);
    assert_eq!(
        value(&format!(
            "/componentRefs/{sentinel}/values/global/tolerations/0/operator"
        )),
        tolerations[0]["operator"]
    );
    // The whole document: the recipe without provenance, values in every component.
    let whole = value("");
    let mut expected = recipe.clone();
    expected.as_object_mut().unwrap().remove("provenance");
    for (i, c) in expected["componentRefs"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        let name = c["name"].as_str().unwrap().to_owned();
        let v1 = json(&get(&format!(
            "/v1/query?{H100_EKS_UBUNTU_TRAINING}&selector=components.{name}"
        )));
        c["values"] = v1.get("values").cloned().unwrap_or(json!({}));
        assert_eq!(whole["componentRefs"][i]["values"], c["values"], "{name}");
    }
    assert_eq!(whole, expected);
    // POST takes {criteria, selector}, as v1.
    let r = send(
        "POST",
        "/v2/query",
        &[("content-type", "application/json")],
        br#"{"criteria":{"service":"eks"},"selector":"/criteria/service"}"#,
    );
    assert_eq!(json(&r), "eks");
    assert_eq!(header(&r, "cache-control"), "no-store");
}

#[test]
fn query_etags_name_the_version() {
    let v1 = get("/v1/query?service=eks&selector=");
    let v2 = get("/v2/query?service=eks&selector=");
    assert_ne!(header(&v1, "etag"), header(&v2, "etag"));
    let tag = header(&v2, "etag").to_owned();
    let again = send(
        "GET",
        "/v2/query?service=eks&selector=",
        &[("if-none-match", &tag)],
        b"",
    );
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&again, "x-api-version"), "v2");
    let post = send(
        "POST",
        "/v2/query",
        &[("if-none-match", "*")],
        br#"{"criteria":{"service":"eks"},"selector":""}"#,
    );
    let body = problem(
        &post,
        StatusCode::PRECONDITION_FAILED,
        "PRECONDITION_FAILED",
    );
    assert_eq!(body["header"], "If-None-Match");
}

/// A catalog with values keys that need escapes or contain dots, and a list.
fn odd_keys_catalog() -> Catalog {
    let values = json!({
        "resources": {"limits": {"nvidia.com/gpu": 8, "memory": "1Gi"}},
        "a.b": {"c": "dotted"},
        "m~n": "tilde",
        "": {"": "empty keys"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}, {"key": "x"}],
        "zero": 0,
    });
    let mut overrides = Map::new();
    overrides.insert("extra/key".into(), json!({"on": true}));
    Catalog::new(CatalogParts {
        base: Spec {
            component_refs: vec![ComponentRef {
                name: "demo".into(),
                kind: "Helm".into(),
                version: "1.0.0".into(),
                values_file: "components/demo/values.yaml".into(),
                overrides,
                ..Default::default()
            }],
            ..Default::default()
        },
        values: [("components/demo/values.yaml".to_owned(), values)].into(),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn pointers_escape_reach_dotted_keys_and_say_why_they_stop() {
    let catalog = odd_keys_catalog();
    let api = Api::new(&catalog, Config::default());
    let at = |pointer: &str| {
        let target = format!("/v2/query?selector={}", encode(pointer));
        send_to(&api, "GET", &target, &[], b"")
    };
    let found = |pointer: &str| {
        let r = at(pointer);
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{pointer}: {}",
            String::from_utf8_lossy(r.body())
        );
        json(&r)
    };
    let v = "/componentRefs/0/values";
    assert_eq!(found(&format!("{v}/resources/limits/nvidia.com~1gpu")), 8);
    assert_eq!(found(&format!("{v}/a.b/c")), "dotted");
    assert_eq!(found(&format!("{v}/m~0n")), "tilde");
    assert_eq!(found(&format!("{v}//")), "empty keys");
    assert_eq!(found(&format!("{v}/tolerations/1/key")), "x");
    assert_eq!(found(&format!("{v}/tolerations/0/key")), "nvidia.com/gpu");
    assert_eq!(found(&format!("{v}/zero")), 0);
    assert_eq!(found(&format!("{v}/extra~1key/on")), true);
    assert_eq!(
        found("/componentRefs/0/overrides/extra~1key"),
        json!({"on": true})
    );
    // Provenance escapes the override key the same way.
    let recipe = json(&send_to(&api, "GET", "/v2/recipe", &[], b""));
    assert_eq!(
        recipe["provenance"]["fields"]["/componentRefs/0/overrides/extra~1key"],
        json!({"source": "overlay", "overlay": "base"})
    );
    // v1's dotted selector cannot reach these.
    let v1 = send_to(
        &api,
        "GET",
        "/v1/query?selector=components.demo.values.a.b.c",
        &[],
        b"",
    );
    assert_eq!(v1.status(), StatusCode::NOT_FOUND);

    let stop = |pointer: &str| {
        let body = problem(&at(pointer), StatusCode::NOT_FOUND, "NOT_FOUND");
        assert_eq!(body["selector"], pointer);
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("Selector path not found: ")
        );
        body
    };
    let body = stop(&format!("{v}/tolerations/2"));
    assert_eq!(body["resolved"], format!("{v}/tolerations"));
    assert_eq!(
        (body["token"].as_str(), body["length"].as_u64()),
        (Some("2"), Some(2))
    );
    assert!(
        body["detail"].as_str().unwrap().contains("out of range"),
        "{body}"
    );
    let body = stop(&format!("{v}/tolerations/-"));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("after the last one"),
        "{body}"
    );
    for not_an_index in ["01", "x", "+1", "1.0", ""] {
        let body = stop(&format!("{v}/tolerations/{not_an_index}"));
        assert_eq!(body["token"], not_an_index);
        assert!(
            body["detail"].as_str().unwrap().contains("is not an index"),
            "{body}"
        );
    }
    let body = stop(&format!("{v}/resources/limits/nvidia.com/gpu"));
    assert_eq!(body["resolved"], format!("{v}/resources/limits"));
    assert_eq!(body["token"], "nvidia.com");
    assert_eq!(body["available"], json!(["memory", "nvidia.com/gpu"]));
    let body = stop(&format!("{v}/zero/x"));
    assert_eq!(body["resolved"], format!("{v}/zero"));
    assert!(
        body["detail"].as_str().unwrap().contains("is a number"),
        "{body}"
    );
    let body = stop("/componentRefs/1/values/x");
    assert_eq!(
        (body["resolved"].as_str(), body["length"].as_u64()),
        (Some("/componentRefs"), Some(1))
    );
    let body = stop("/nope");
    assert_eq!(body["resolved"], "");
    assert!(
        body["available"]
            .as_array()
            .unwrap()
            .contains(&json!("componentRefs"))
    );
    let body = stop("/componentRefs/0/name/x");
    assert!(
        body["detail"].as_str().unwrap().contains("is a string"),
        "{body}"
    );
}

#[test]
fn malformed_pointers_are_precise_400s() {
    for (selector, position, says) in [
        (
            "components.gpu-operator.values",
            None,
            "dotted selectors are /v1/query's",
        ),
        ("#/componentRefs/0", None, "URI fragment form"),
        ("/componentRefs~2", Some(14), "found \"2\""),
        ("/a/b~", Some(4), "found \"\""),
    ] {
        let r = query("service=eks", selector);
        let body = problem(&r, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
        assert_eq!(body["parameter"], "selector", "{selector}");
        assert_eq!(body["value"], selector);
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("Malformed selector: ")
        );
        assert!(
            body["detail"].as_str().unwrap().contains(says),
            "{selector}: {body}"
        );
        assert_eq!(body["position"].as_u64(), position, "{selector}");
    }
    let long = format!("/{}", "a".repeat(aicr_api::MAX_SELECTOR_BYTES));
    let body = problem(
        &query("", &long),
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );
    assert_eq!(body["limit"], aicr_api::MAX_SELECTOR_BYTES);
    assert_eq!(body["received"], long.len());
}

#[test]
fn every_error_class_is_problem_details_with_v1s_status() {
    let big = vec![b' '; aicr_api::MAX_BODY_BYTES + 1];
    // (method, path and query after the version, headers, body, status, code)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'a [u8],
        StatusCode,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "GET",
            "recipe?service=bogus",
            vec![],
            b"",
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "GET",
            "recipe?format=xml",
            vec![],
            b"",
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "GET",
            "recipe?service=eks;os=ubuntu",
            vec![],
            b"",
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "POST",
            "recipe",
            vec![("content-type", "application/json")],
            b"{not json",
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "POST",
            "recipe",
            vec![],
            &br#"{"kind":"Other"}"#[..],
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "POST",
            "query",
            vec![],
            &br#"{"selector":""}"#[..],
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "GET",
            "query?os=windows",
            vec![],
            b"",
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "POST",
            "recipe",
            vec![],
            &big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            "POST",
            "query",
            vec![],
            &big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            "POST",
            "bundle",
            vec![],
            &big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            "PUT",
            "recipe",
            vec![],
            b"",
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "DELETE",
            "query",
            vec![],
            b"",
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "HEAD",
            "bundle",
            vec![],
            b"",
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "POST",
            "recipe",
            vec![("if-none-match", "*")],
            &br#"{"spec":{}}"#[..],
            StatusCode::PRECONDITION_FAILED,
            "PRECONDITION_FAILED",
        ),
        (
            "POST",
            "bundle",
            vec![],
            b"{}",
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "GET",
            "bundle?service=eks&deployer=flux",
            vec![],
            b"",
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "GET",
            "bundle?service=eks&bogus=1",
            vec![],
            b"",
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        ),
        (
            "GET",
            "nothing",
            vec![],
            b"",
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
        (
            "GET",
            "recipe/",
            vec![],
            b"",
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
    ];
    for (method, rest, headers, body, status, code) in cases {
        let v2 = send(method, &format!("/v2/{rest}"), &headers, body);
        let v1 = send(method, &format!("/v1/{rest}"), &headers, body);
        let what = format!("{method} /v2/{rest}");
        if method == "HEAD" {
            assert_eq!((v2.status(), v1.status()), (status, status), "{what}");
            assert_eq!(
                header(&v2, "content-type"),
                "application/problem+json",
                "{what}"
            );
            continue;
        }
        problem(&v2, status, code);
        if rest.starts_with("nothing") || rest.starts_with("recipe/") {
            // v1 has no such path either; its 404 lists the same routes.
            assert_eq!(
                json(&v2)["routes"],
                json(&v1)["details"]["routes"],
                "{what}"
            );
        } else {
            same_fault_as_v1(&v2, &v1);
        }
    }
    for path in ["/v2", "/v2/"] {
        let body = problem(&get(path), StatusCode::NOT_FOUND, "NOT_FOUND");
        assert_eq!(body["path"], path);
    }
    // Unversioned paths and /v1 keep v1's envelope.
    for path in ["/nothing", "/v1/nothing", "/v2x"] {
        let r = get(path);
        assert_eq!(header(&r, "content-type"), "application/json", "{path}");
        assert_eq!(json(&r)["code"], "NOT_FOUND");
    }
    // Allowlists, as v1.
    let config =
        Config::from_vars(|k| (k == "AICR_ALLOWED_ACCELERATORS").then(|| "h100,l40".to_owned()))
            .unwrap();
    let api = Api::new(aicr_embedded_catalog::catalog(), config);
    let v2 = send_to(&api, "GET", "/v2/recipe?accelerator=gb200", &[], b"");
    let body = problem(&v2, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    assert_eq!(body["allowed"], json!(["h100", "l40"]));
    same_fault_as_v1(
        &v2,
        &send_to(&api, "GET", "/v1/recipe?accelerator=gb200", &[], b""),
    );
    // A bare GET of the bundle route is the all-`any` recipe's bundle (v1 keeps
    // upstream's 405).
    let bare = get("/v2/bundle");
    assert_eq!(bare.status(), StatusCode::OK);
    assert_eq!(header(&bare, "content-type"), "application/zip");
    assert_eq!(bare.body(), get("/v2/bundle?service=any").body());
    assert_eq!(get("/v1/bundle").status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn a_catalog_that_cannot_build_is_a_retryable_500_problem() {
    // Two components that depend on each other: accepted by Catalog::new, refused by resolve.
    let component = |name: &str, dependency: &str| ComponentRef {
        name: name.into(),
        kind: "Helm".into(),
        dependency_refs: vec![dependency.into()],
        ..Default::default()
    };
    let catalog = Catalog::new(CatalogParts {
        base: Spec {
            component_refs: vec![component("a", "b"), component("b", "a")],
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap();
    let api = Api::new(&catalog, Config::default());
    for route in ["recipe", "query"] {
        let v2 = send_to(&api, "GET", &format!("/v2/{route}"), &[], b"");
        let body = problem(&v2, StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("dependency cycle"),
            "{body}"
        );
        same_fault_as_v1(
            &v2,
            &send_to(&api, "GET", &format!("/v1/{route}"), &[], b""),
        );
    }
}

#[test]
fn the_v2_bundle_is_the_v1_bundle() {
    let query = "service=eks&accelerator=h100&intent=training&nodes=4&set=gpuoperator:driver.version=570.86.15";
    let v1 = get(&format!("/v1/bundle?{query}"));
    let v2 = get(&format!("/v2/bundle?{query}"));
    assert_eq!(v2.status(), StatusCode::OK);
    assert_eq!(header(&v2, "content-type"), "application/zip");
    assert_eq!(header(&v2, "x-api-version"), "v2");
    assert_eq!(v2.body(), v1.body());
    for name in [
        "content-disposition",
        "x-bundle-files",
        "x-bundle-size",
        "etag",
    ] {
        assert_eq!(header(&v2, name), header(&v1, name), "{name}");
    }
    let again = send(
        "GET",
        &format!("/v2/bundle?{query}"),
        &[("if-none-match", header(&v2, "etag"))],
        b"",
    );
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // POST takes the /v2 recipe (provenance and all) as well as the /v1 one.
    let criteria = "service=eks&accelerator=h100&intent=training";
    let from_v1 = send(
        "POST",
        "/v2/bundle?deployer=argocd",
        &[("content-type", "application/json")],
        get(&format!("/v1/recipe?{criteria}")).body(),
    );
    let from_v2 = send(
        "POST",
        "/v2/bundle?deployer=argocd",
        &[("content-type", "application/json")],
        get(&format!("/v2/recipe?{criteria}")).body(),
    );
    assert_eq!(from_v1.status(), StatusCode::OK);
    assert_eq!(from_v2.body(), from_v1.body());
    let upstream_way = send(
        "POST",
        "/v1/bundle?deployer=argocd",
        &[("content-type", "application/json")],
        get(&format!("/v1/recipe?{criteria}")).body(),
    );
    assert_eq!(from_v2.body(), upstream_way.body());
}

#[test]
fn v1_answers_as_before_and_the_service_lists_v2() {
    let root = ok("/");
    let routes: Vec<&str> = root["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for route in [
        "/v1/recipe",
        "/v1/query",
        "/v1/bundle",
        "/v2/bundle",
        "/v2/query",
        "/v2/recipe",
    ] {
        assert!(routes.contains(&route), "{route}");
    }
    assert!(routes.windows(2).all(|w| w[0] < w[1]));
    // v1's selector is still dotted and its errors keep upstream's shape.
    let r = get("/v1/query?service=eks&selector=/criteria/service");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&r, "content-type"), "application/json");
    assert_eq!(json(&r)["code"], "NOT_FOUND");
    assert_eq!(
        json(&get("/v1/query?service=eks&selector=criteria.service")),
        "eks"
    );
    assert!(
        json(&get("/v1/recipe?service=eks"))
            .get("provenance")
            .is_none()
    );
}

/// A request: method, target, headers, body.
type Probe<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a [u8]);

/// Every `/v2` route and method is in `/openapi.json`, with exactly the statuses these
/// probes get, as problem+json for errors.
#[test]
fn openapi_documents_v2_as_answered() {
    let doc = ok("/openapi.json");
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = &doc["components"]["schemas"];
    for schema in [
        "Problem",
        "Provenance",
        "Origin",
        "AppliedOverlay",
        "RecipeV2",
    ] {
        assert!(schemas.get(schema).is_some(), "{schema}");
    }
    let required: Vec<&str> = schemas["Problem"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for path in ["/v2/recipe", "/v2/query", "/v2/bundle"] {
        let item = &doc["paths"][path];
        let allow = header(&send("OPTIONS", path, &[], b""), "allow").to_ascii_lowercase();
        let documented: Vec<&str> = ["get", "head", "post", "options", "put", "delete", "patch"]
            .into_iter()
            .filter(|m| item.get(*m).is_some())
            .collect();
        let mut allowed: Vec<&str> = allow.split(", ").collect();
        allowed.sort_unstable();
        let mut documented_sorted = documented.clone();
        documented_sorted.sort_unstable();
        assert_eq!(documented_sorted, allowed, "{path}");
    }
    let resolve = |value: &Value| -> Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) => doc.pointer(r.strip_prefix('#').unwrap()).unwrap().clone(),
            None => value.clone(),
        }
    };
    let big = vec![b' '; aicr_api::MAX_BODY_BYTES + 1];
    let recipe = get("/v2/recipe?service=eks").body().clone();
    let probes: Vec<Probe> = vec![
        ("GET", "/v2/recipe?service=eks", vec![], b""),
        ("GET", "/v2/recipe?service=bogus", vec![], b""),
        ("HEAD", "/v2/recipe?service=eks", vec![], b""),
        ("POST", "/v2/recipe", vec![], b"{}"),
        ("POST", "/v2/recipe", vec![], b"{bad"),
        ("POST", "/v2/recipe", vec![], &big),
        ("POST", "/v2/recipe", vec![("if-none-match", "*")], b"{}"),
        ("OPTIONS", "/v2/recipe", vec![], b""),
        (
            "GET",
            "/v2/query?service=eks&selector=/criteria",
            vec![],
            b"",
        ),
        ("GET", "/v2/query?selector=/nope", vec![], b""),
        ("GET", "/v2/query?selector=nope", vec![], b""),
        (
            "POST",
            "/v2/query",
            vec![],
            br#"{"criteria":{},"selector":"/criteria"}"#,
        ),
        (
            "POST",
            "/v2/query",
            vec![],
            br#"{"criteria":{},"selector":"/x"}"#,
        ),
        ("POST", "/v2/query", vec![], &big),
        (
            "POST",
            "/v2/query",
            vec![("if-none-match", "*")],
            br#"{"criteria":{}}"#,
        ),
        ("GET", "/v2/bundle?service=eks", vec![], b""),
        ("GET", "/v2/bundle", vec![], b""),
        ("GET", "/v2/bundle?service=eks&deployer=flux", vec![], b""),
        ("POST", "/v2/bundle", vec![], &recipe),
        ("POST", "/v2/bundle", vec![], b"{}"),
        ("POST", "/v2/bundle", vec![], &big),
        ("OPTIONS", "/v2/bundle", vec![], b""),
    ];
    for (method, target, headers, body) in probes {
        let r = send(method, target, &headers, body);
        let path = target.split('?').next().unwrap();
        let what = format!("{method} {target}");
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        let status = r.status().as_u16().to_string();
        let response = resolve(
            op["responses"]
                .get(&status)
                .unwrap_or_else(|| panic!("{what}: {status} not documented")),
        );
        assert_eq!(
            response["headers"]["X-API-Version"]["$ref"], "#/components/headers/X-API-Version-v2",
            "{what}"
        );
        let content_type = header(&r, "content-type");
        if method == "HEAD" {
            // No body; its type is the GET answer's.
            continue;
        }
        if content_type.is_empty() {
            assert!(
                response.get("content").is_none(),
                "{what}: documents a body"
            );
            continue;
        }
        let content = &response["content"][content_type];
        assert!(
            content.is_object(),
            "{what}: {content_type} not documented for {status}"
        );
        if content_type == "application/problem+json" {
            assert_eq!(
                content["schema"]["$ref"], "#/components/schemas/Problem",
                "{what}"
            );
            if method != "HEAD" {
                let problem = json(&r);
                for member in &required {
                    assert!(problem.get(*member).is_some(), "{what}: no {member}");
                }
            }
        }
        if status == "200" && method == "GET" {
            let tag = header(&r, "etag").to_owned();
            if !tag.is_empty() {
                let again = send(method, target, &[("if-none-match", &tag)], b"");
                assert!(
                    op["responses"].get("304").is_some(),
                    "{what}: 304 not documented"
                );
                assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
            }
        }
    }
    // v1 operations are tagged as such and not deprecated (nothing sends Deprecation yet).
    for path in ["/v1/recipe", "/v1/query", "/v1/bundle"] {
        let get = &doc["paths"][path]["get"];
        assert!(
            get["tags"].as_array().unwrap().contains(&json!("v1")),
            "{path}"
        );
        assert!(get.get("deprecated").is_none(), "{path}");
    }
}

#[test]
fn problems_echo_at_most_200_bytes_of_any_client_value() {
    for filler in ["A", "é", "x`"] {
        // Long, yet within a URI once percent-encoded.
        let long = filler.repeat(9000);
        let token = filler.repeat(1000 / filler.len());
        let selectors = [
            format!("/{token}"),
            format!("/componentRefs/0/values/{token}"),
            format!("/componentRefs/{token}"),
            format!("/deploymentOrder/0/{token}"),
            token.clone(),
            format!("/{token}~"),
        ];
        let mut targets: Vec<String> = selectors
            .iter()
            .map(|s| format!("/v2/query?service=eks&selector={}", encode(s)))
            .collect();
        for route in ["recipe", "query", "bundle"] {
            targets.push(format!("/v2/{route}?service={}", encode(&long)));
        }
        // Only the bundle refuses (and names) unknown parameters.
        targets.push(format!("/v2/bundle?{}=1", encode(&long)));
        targets.push(format!("/v2/{}", encode(&long)));
        for target in targets {
            let what = format!("{}…", &target[..target.floor_char_boundary(60)]);
            let r = get(&target);
            assert!(r.status().is_client_error(), "{what}: {}", r.status());
            assert!(r.body().len() < 4096, "{what}: {} bytes", r.body().len());
            let echoed = longest_echo(&json(&r), filler);
            assert!(echoed <= 200, "{what}: echoes {echoed} bytes");
        }
    }
}

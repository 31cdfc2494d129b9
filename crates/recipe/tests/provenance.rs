//! Per-field provenance: one test per merge rule on small catalogs built in code (who
//! wins, who is overridden, registry keys, additive lists, inherited overlays), and over
//! every reachable criteria of both catalogs that recording provenance leaves the recipe
//! exactly as `resolve` builds it and names an origin for every field it shows.

use aicr_recipe::model::{
    ComponentRef, Constraint, ExpectedResource, KustomizeDefaults, Phase, RegistryEntry, Spec,
    Validation,
};
use aicr_recipe::provenance::{Applied, Origin, Source};
use aicr_recipe::{Catalog, CatalogParts, Criteria, Overlay, Service, WithProvenance};
use serde_json::{Value, json};

mod support;

fn eks() -> Criteria {
    Criteria {
        service: Service::Eks,
        ..Criteria::default()
    }
}

fn overlay(name: &str, parent: &str, criteria: Option<Criteria>, spec: Spec) -> Overlay {
    Overlay {
        name: name.into(),
        parent: parent.into(),
        criteria,
        spec,
    }
}

fn refs(component_refs: Vec<ComponentRef>) -> Spec {
    Spec {
        component_refs,
        ..Default::default()
    }
}

/// The origin at `pointer`, as its JSON.
fn origin(catalog: &Catalog, criteria: &Criteria, pointer: &str) -> Option<Value> {
    let (_, provenance) = catalog.resolve_with_provenance(criteria).unwrap();
    provenance
        .fields
        .iter()
        .find(|(p, _)| p == pointer)
        .map(|(_, o)| serde_json::to_value(o).unwrap())
}

#[test]
fn the_last_overlay_to_set_a_field_wins_and_names_the_ones_it_overrode() {
    let gpu = |version: &str, cleanup: bool, patches: &[&str]| ComponentRef {
        name: "gpu".into(),
        kind: "Helm".into(),
        version: version.into(),
        cleanup,
        patches: patches.iter().map(|p| p.to_string()).collect(),
        overrides: json!({"driver": {"v": version}, "only-base/x": 1})
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| version == "1" || *k == "driver")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        expected_resources: vec![ExpectedResource {
            kind: "Deployment".into(),
            name: format!("gpu-{version}"),
            namespace: String::new(),
        }],
        manifest_files: vec![format!("m{version}.yaml"), "shared.yaml".into()],
        ..Default::default()
    };
    let catalog = Catalog::new(CatalogParts {
        base: refs(vec![gpu("1", true, &["p1"])]),
        overlays: vec![
            overlay("eks", "", Some(eks()), refs(vec![gpu("2", true, &[])])),
            overlay(
                "eks-more",
                "eks",
                Some(eks()),
                refs(vec![ComponentRef {
                    name: "gpu".into(),
                    version: "3".into(),
                    ..Default::default()
                }]),
            ),
        ],
        ..Default::default()
    })
    .unwrap();
    let at = |pointer: &str| origin(&catalog, &eks(), pointer);
    assert_eq!(
        at("/componentRefs/0/version"),
        Some(json!({"source": "overlay", "overlay": "eks-more", "overridden": ["base", "eks"]}))
    );
    assert_eq!(
        at("/componentRefs/0"),
        Some(
            json!({"source": "overlay", "overlay": "base", "mergedBy": ["base", "eks", "eks-more"]})
        )
    );
    // `type` set twice the same way still names both.
    assert_eq!(
        at("/componentRefs/0/type"),
        Some(json!({"source": "overlay", "overlay": "eks", "overridden": ["base"]}))
    );
    assert_eq!(
        at("/componentRefs/0/cleanup"),
        Some(json!({"source": "overlay", "overlay": "eks", "overridden": ["base"]}))
    );
    // An empty list inherits: eks's `patches: []` overrides nothing.
    assert_eq!(
        at("/componentRefs/0/patches"),
        Some(json!({"source": "overlay", "overlay": "base"}))
    );
    assert_eq!(
        at("/componentRefs/0/expectedResources"),
        Some(json!({"source": "overlay", "overlay": "eks", "overridden": ["base"]}))
    );
    // Overrides merge per top-level key; a key with a slash is escaped in the pointer.
    assert_eq!(
        at("/componentRefs/0/overrides/driver"),
        Some(json!({"source": "overlay", "overlay": "eks", "overridden": ["base"]}))
    );
    assert_eq!(
        at("/componentRefs/0/overrides/only-base~1x"),
        Some(json!({"source": "overlay", "overlay": "base"}))
    );
    // Manifest files add up: each names the overlay that listed it first.
    assert_eq!(
        at("/componentRefs/0/manifestFiles/0"),
        Some(json!({"source": "overlay", "overlay": "base"}))
    );
    assert_eq!(
        at("/componentRefs/0/manifestFiles/1"),
        Some(json!({"source": "overlay", "overlay": "base"}))
    );
    assert_eq!(
        at("/componentRefs/0/manifestFiles/2"),
        Some(json!({"source": "overlay", "overlay": "eks"}))
    );
    let (recipe, _) = catalog.resolve_with_provenance(&eks()).unwrap();
    assert_eq!(
        recipe.components[0].manifest_files,
        ["m1.yaml", "shared.yaml", "m2.yaml"]
    );
    // Nothing set `namespace`, and no registry entry fills it: no entry.
    assert_eq!(at("/componentRefs/0/namespace"), None);
    assert_eq!(at("/componentRefs/0/source"), None);
}

#[test]
fn registry_defaults_name_their_key() {
    let catalog = Catalog::new(CatalogParts {
        base: refs(vec![ComponentRef {
            name: "tuning".into(),
            tag: "v9".into(),
            ..Default::default()
        }]),
        registry: vec![RegistryEntry {
            name: "tuning".into(),
            kustomize: Some(KustomizeDefaults {
                default_source: "https://example.com/tuning.git".into(),
                default_path: "deploy".into(),
                default_tag: "v1".into(),
            }),
            ..Default::default()
        }],
        ..Default::default()
    })
    .unwrap();
    let criteria = Criteria::default();
    let (recipe, _) = catalog.resolve_with_provenance(&criteria).unwrap();
    let tuning = &recipe.components[0];
    assert_eq!(
        (tuning.kind, tuning.source, tuning.path, tuning.tag),
        (
            "Kustomize",
            "https://example.com/tuning.git",
            "deploy",
            "v9"
        )
    );
    let at = |pointer: &str| origin(&catalog, &criteria, pointer);
    let registry = |key: &str| Some(json!({"source": "registry", "registryKey": key}));
    assert_eq!(
        at("/componentRefs/0/type"),
        registry("kustomize.defaultSource")
    );
    assert_eq!(
        at("/componentRefs/0/source"),
        registry("kustomize.defaultSource")
    );
    assert_eq!(
        at("/componentRefs/0/path"),
        registry("kustomize.defaultPath")
    );
    // The recipe's own tag wins over the registry's.
    assert_eq!(
        at("/componentRefs/0/tag"),
        Some(json!({"source": "overlay", "overlay": "base"}))
    );
}

#[test]
fn constraints_and_phases_name_the_overlay_whose_whole_entry_is_shown() {
    let constraint = |value: &str| Constraint {
        name: "K8s.server.version".into(),
        value: value.into(),
        severity: String::new(),
        remediation: String::new(),
        unit: String::new(),
    };
    let spec = |value: &str, check: &str| Spec {
        constraints: vec![constraint(value)],
        validation: Some(Validation {
            deployment: Some(Phase {
                checks: vec![check.into()],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let catalog = Catalog::new(CatalogParts {
        base: spec(">= 1.25", "base-check"),
        overlays: vec![overlay(
            "eks",
            "",
            Some(eks()),
            spec(">= 1.30", "eks-check"),
        )],
        ..Default::default()
    })
    .unwrap();
    let both = Some(json!({"source": "overlay", "overlay": "eks", "overridden": ["base"]}));
    assert_eq!(origin(&catalog, &eks(), "/constraints/0"), both);
    assert_eq!(origin(&catalog, &eks(), "/validation/deployment"), both);
    let base_only = Some(json!({"source": "overlay", "overlay": "base"}));
    let any = Criteria::default();
    assert_eq!(origin(&catalog, &any, "/constraints/0"), base_only);
    assert_eq!(origin(&catalog, &any, "/validation/deployment"), base_only);
}

#[test]
fn overlays_say_whether_they_matched_or_were_inherited() {
    let catalog = Catalog::new(CatalogParts {
        overlays: vec![
            overlay("mixin", "", None, Spec::default()),
            overlay("eks", "mixin", Some(eks()), Spec::default()),
        ],
        ..Default::default()
    })
    .unwrap();
    let (recipe, provenance) = catalog.resolve_with_provenance(&eks()).unwrap();
    let names: Vec<&str> = provenance.overlays.iter().map(|o| o.name).collect();
    assert_eq!(names, recipe.applied_overlays);
    let applied: Vec<Applied<'_>> = provenance.overlays.iter().map(|o| o.applied).collect();
    assert_eq!(
        applied,
        [
            Applied::Base,
            Applied::Inherited { via: "eks" },
            Applied::Matched
        ]
    );
    assert_eq!(provenance.overlays[1].parent, Some("base"));
    assert_eq!(provenance.overlays[1].criteria, None);
    assert_eq!(provenance.overlays[2].parent, Some("mixin"));
    assert_eq!(
        serde_json::to_value(&provenance.overlays[1]).unwrap(),
        json!({"name": "mixin", "parent": "base", "applied": "inherited", "via": "eks"})
    );
}

/// The pointers (below the component) of every field a component shows that must have an
/// origin: each present field but `name`, override keys one by one, manifest files by index.
fn shown_fields(component: &Value) -> Vec<String> {
    let mut shown = Vec::new();
    for (field, value) in component.as_object().unwrap() {
        match (field.as_str(), value) {
            ("name", _) => {}
            (_, Value::String(s)) if s.is_empty() => {}
            ("overrides", Value::Object(keys)) => shown.extend(
                keys.keys()
                    .map(|k| format!("overrides/{}", aicr_recipe::pointer::escape(k))),
            ),
            ("manifestFiles", Value::Array(files)) => {
                shown.extend((0..files.len()).map(|j| format!("manifestFiles/{j}")))
            }
            _ => shown.push(field.clone()),
        }
    }
    shown
}

#[test]
fn recording_provenance_changes_no_recipe_and_covers_every_field() {
    for (label, dir) in support::CATALOG_DIRS {
        let Some(catalog) = support::load(dir) else {
            continue;
        };
        for criteria in catalog.reachable_criteria() {
            let plain = catalog.resolve(&criteria).unwrap();
            let (recipe, provenance) = catalog.resolve_with_provenance(&criteria).unwrap();
            let document = serde_json::to_value(&recipe).unwrap();
            assert_eq!(
                document,
                serde_json::to_value(&plain).unwrap(),
                "{label} {criteria}"
            );
            let with = serde_json::to_value(WithProvenance {
                recipe: &recipe,
                provenance: &provenance,
            })
            .unwrap();
            let mut expected: Vec<String> = Vec::new();
            for i in 0..recipe.constraints.len() {
                expected.push(format!("/constraints/{i}"));
            }
            for (i, component) in document["componentRefs"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
            {
                expected.push(format!("/componentRefs/{i}"));
                expected.extend(
                    shown_fields(component)
                        .into_iter()
                        .map(|f| format!("/componentRefs/{i}/{f}")),
                );
            }
            for phase in &recipe.validation {
                expected.push(format!("/validation/{}", phase.name));
            }
            let mut keys: Vec<String> = provenance.fields.iter().map(|(p, _)| p.clone()).collect();
            expected.sort();
            keys.sort();
            assert_eq!(keys, expected, "{label} {criteria}");
            for (pointer, origin) in &provenance.fields {
                assert!(
                    with.pointer(pointer).is_some(),
                    "{label} {criteria}: {pointer}"
                );
                if let Source::Overlay(name) = origin.source {
                    assert!(
                        recipe.applied_overlays.contains(&name),
                        "{label} {criteria}: {pointer}"
                    );
                }
                let Origin { overridden, .. } = origin;
                assert!(
                    overridden
                        .iter()
                        .all(|o| recipe.applied_overlays.contains(o))
                );
            }
            for overlay in &provenance.overlays {
                if let Applied::Inherited { via } = overlay.applied {
                    let via = provenance.overlays.iter().find(|o| o.name == via).unwrap();
                    assert_eq!(via.applied, Applied::Matched, "{label} {criteria}");
                }
            }
        }
    }
}

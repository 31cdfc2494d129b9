//! Upstream's merge rules on small catalogs built in code: one test per rule.

use aicr_recipe::model::{
    ComponentRef, Constraint, HelmDefaults, Phase, RegistryEntry, Spec, Validation,
};
use aicr_recipe::{Catalog, CatalogParts, Criteria, Intent, Overlay, Service};
use serde_json::json;

fn component(name: &str) -> ComponentRef {
    ComponentRef {
        name: name.into(),
        kind: "Helm".into(),
        ..Default::default()
    }
}

fn constraint(name: &str, value: &str) -> Constraint {
    Constraint {
        name: name.into(),
        value: value.into(),
        severity: String::new(),
        remediation: String::new(),
        unit: String::new(),
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

fn eks() -> Criteria {
    Criteria {
        service: Service::Eks,
        ..Criteria::default()
    }
}

fn eks_training() -> Criteria {
    Criteria {
        service: Service::Eks,
        intent: Intent::Training,
        ..Criteria::default()
    }
}

fn catalog(base: Spec, overlays: Vec<Overlay>) -> Catalog {
    Catalog::new(CatalogParts {
        base,
        overlays,
        ..Default::default()
    })
    .unwrap()
}

/// The base plus one overlay, `eks` (criteria service=eks), on top of it.
fn base_and_eks(base: Spec, eks_spec: Spec) -> Catalog {
    catalog(base, vec![overlay("eks", "", Some(eks()), eks_spec)])
}

#[test]
fn chains_apply_root_first_and_ancestors_even_if_they_do_not_match() {
    let c = catalog(
        Spec::default(),
        vec![
            overlay("mixin", "", None, Spec::default()),
            overlay("eks", "mixin", Some(eks()), Spec::default()),
            overlay("eks-training", "eks", Some(eks_training()), Spec::default()),
            overlay("any", "", Some(Criteria::default()), Spec::default()),
        ],
    );
    let r = c.resolve(&eks_training()).unwrap();
    assert_eq!(
        r.applied_overlays,
        ["base", "any", "mixin", "eks", "eks-training"]
    );
    // Asymmetric wildcard: a concrete overlay value never matches a query of `any`.
    let r = c.resolve(&Criteria::default()).unwrap();
    assert_eq!(r.applied_overlays, ["base", "any"]);
}

#[test]
fn component_fields_merge_like_upstream() {
    let mut base_gpu = component("gpu");
    base_gpu.version = "1".into();
    base_gpu.dependency_refs = vec!["cm".into()];
    base_gpu.manifest_files = vec!["a.yaml".into()];
    base_gpu.overrides = json!({"driver": {"version": "1", "x": 1}, "keep": true})
        .as_object()
        .unwrap()
        .clone();
    base_gpu.cleanup = true;
    let mut child_gpu = ComponentRef {
        name: "gpu".into(),
        ..Default::default()
    };
    child_gpu.manifest_files = vec!["b.yaml".into(), "a.yaml".into()];
    child_gpu.overrides = json!({"driver": {"version": "2"}})
        .as_object()
        .unwrap()
        .clone();
    let c = base_and_eks(
        Spec {
            component_refs: vec![base_gpu, component("cm")],
            ..Default::default()
        },
        Spec {
            component_refs: vec![child_gpu],
            ..Default::default()
        },
    );
    let r = c.resolve(&eks()).unwrap();
    let gpu = r.component("gpu").unwrap();
    assert_eq!(gpu.version, "1", "empty incoming scalars inherit");
    assert_eq!(gpu.dependency_refs, ["cm"], "empty incoming lists inherit");
    assert_eq!(
        gpu.manifest_files,
        ["a.yaml", "b.yaml"],
        "manifest files add up, first seen first"
    );
    assert!(gpu.cleanup, "cleanup cannot be reset");
    let overrides = serde_json::to_value(gpu).unwrap()["overrides"].clone();
    assert_eq!(
        overrides,
        json!({"driver": {"version": "2"}, "keep": true}),
        "overrides merge shallowly"
    );
    assert_eq!(gpu.touched_by, ["base", "eks"]);
}

#[test]
fn constraints_and_phases_replace_whole() {
    let mut warn = constraint("K8s.server.version", ">= 1.25");
    warn.severity = "warning".into();
    let phase = |check: &str| Phase {
        checks: vec![check.into()],
        ..Default::default()
    };
    let c = base_and_eks(
        Spec {
            constraints: vec![warn, constraint("b", "1")],
            validation: Some(Validation {
                deployment: Some(phase("base-check")),
                conformance: Some(phase("c1")),
                ..Default::default()
            }),
            ..Default::default()
        },
        Spec {
            constraints: vec![constraint("K8s.server.version", ">= 1.30")],
            validation: Some(Validation {
                conformance: Some(phase("c2")),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
    let doc = serde_json::to_value(c.resolve(&eks()).unwrap()).unwrap();
    assert_eq!(
        doc["constraints"],
        json!([{"name": "K8s.server.version", "value": ">= 1.30"}, {"name": "b", "value": "1"}])
    );
    assert_eq!(
        doc["validation"],
        json!({"deployment": {"checks": ["base-check"]}, "conformance": {"checks": ["c2"]}})
    );
}

#[test]
fn deployment_order_is_the_lexicographically_smallest_topological_order() {
    let with_deps = |name: &str, deps: &[&str]| ComponentRef {
        dependency_refs: deps.iter().map(|d| (*d).to_owned()).collect(),
        ..component(name)
    };
    let c = catalog(
        Spec {
            component_refs: vec![
                with_deps("z-free", &[]),
                with_deps("b", &["a-root"]),
                with_deps("a-root", &[]),
                with_deps("k8s-x", &["b"]),
                with_deps("kai", &["b"]),
            ],
            ..Default::default()
        },
        vec![],
    );
    let r = c.resolve(&Criteria::default()).unwrap();
    assert_eq!(
        r.deployment_order_names().collect::<Vec<_>>(),
        ["a-root", "b", "k8s-x", "kai", "z-free"]
    );
}

#[test]
fn registry_defaults_fill_only_empty_fields() {
    let mut pinned = ComponentRef {
        name: "dyn".into(),
        ..Default::default()
    };
    pinned.version = "0.9.0".into();
    let registry = vec![RegistryEntry {
        name: "dyn".into(),
        display_name: "dyn".into(),
        helm: Some(HelmDefaults {
            default_repository: "https://charts.example".into(),
            default_chart: "vendor/dyn-chart".into(),
            default_version: "0.9.1".into(),
            default_namespace: "dyn-system".into(),
        }),
        kustomize: None,
        ..Default::default()
    }];
    let c = Catalog::new(CatalogParts {
        base: Spec {
            component_refs: vec![pinned],
            ..Default::default()
        },
        registry,
        ..Default::default()
    })
    .unwrap();
    let r = c.resolve(&Criteria::default()).unwrap();
    let d = r.component("dyn").unwrap();
    assert_eq!(
        (d.kind, d.source, d.version, d.namespace, d.chart),
        (
            "Helm",
            "https://charts.example",
            "0.9.0",
            "dyn-system",
            "dyn-chart"
        )
    );
    assert_eq!(d.version_from, "base");
}

#[test]
fn values_hydrate_base_then_variant_then_overrides() {
    let mut gpu = component("gpu");
    gpu.values_file = "components/gpu/values-eks.yaml".into();
    gpu.overrides = json!({"cdi": {"enabled": true}, "list": [3]})
        .as_object()
        .unwrap()
        .clone();
    let values = [
        (
            "components/gpu/values.yaml",
            json!({"cdi": {"enabled": false, "default": false}, "driver": {"version": "580"}, "list": [1, 2]}),
        ),
        (
            "components/gpu/values-eks.yaml",
            json!({"driver": {"rdma": true}, "storage": {"emptyDir": {}}}),
        ),
    ];
    let c = Catalog::new(CatalogParts {
        base: Spec {
            component_refs: vec![gpu],
            ..Default::default()
        },
        values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ..Default::default()
    })
    .unwrap();
    let r = c.resolve(&Criteria::default()).unwrap();
    let expected = json!({"cdi": {"enabled": true, "default": false}, "driver": {"version": "580", "rdma": true}, "list": [3], "storage": {"emptyDir": {}}});
    assert_eq!(r.query("components.gpu.values").unwrap(), expected);
    assert_eq!(
        r.query("components.gpu.values.cdi").unwrap(),
        expected["cdi"]
    );
    assert_eq!(r.query("components.gpu.values.list").unwrap(), json!([3]));
    assert_eq!(
        r.query("components.gpu.values.driver.rdma").unwrap(),
        json!(true)
    );
    assert_eq!(
        r.query("").unwrap()["components"]["gpu"]["values"],
        expected
    );
    let err = r
        .query("components.gpu.values.nope")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("key \"nope\" not found, available keys: cdi, driver, list, storage"),
        "{err}"
    );
    let err = r
        .query("components.gpu.values.list.0")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot descend into non-map value at \"0\""),
        "{err}"
    );
}

#[test]
fn catalog_defects_are_all_reported() {
    let mut dangling = component("a");
    dangling.dependency_refs = vec!["ghost".into()];
    let errors = Catalog::new(CatalogParts {
        base: Spec {
            component_refs: vec![dangling],
            ..Default::default()
        },
        overlays: vec![
            overlay("x", "missing", Some(eks()), Spec::default()),
            overlay("loop1", "loop2", Some(eks()), Spec::default()),
            overlay("loop2", "loop1", Some(eks()), Spec::default()),
        ],
        ..Default::default()
    })
    .unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = text.join("\n");
    assert!(all.contains("\"missing\""), "{all}");
    assert!(all.contains("inheritance cycle"), "{all}");
    assert!(all.contains("\"ghost\""), "{all}");
}

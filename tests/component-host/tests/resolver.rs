//! Every export of `aicr:recipe/resolver`, through wasmtime, against the native engine.
//! The expected values are built here from `aicr-recipe` directly (an independent mapping),
//! not from the component's own conversion code.

use aicr_component_host::{Host, wit};
use aicr_recipe::{Accelerator, Criteria, Field, Intent, Os, Platform, Recipe, Service};

fn catalog() -> &'static aicr_recipe::Catalog {
    aicr_embedded_catalog::catalog()
}

fn wit_criteria(c: &Criteria) -> wit::Criteria {
    wit::Criteria {
        service: match c.service {
            Service::Any => None,
            Service::Eks => Some(wit::Service::Eks),
            Service::Gke => Some(wit::Service::Gke),
            Service::Aks => Some(wit::Service::Aks),
            Service::Oke => Some(wit::Service::Oke),
            Service::Kind => Some(wit::Service::Kind),
        },
        accelerator: match c.accelerator {
            Accelerator::Any => None,
            Accelerator::H100 => Some(wit::Accelerator::H100),
            Accelerator::Gb200 => Some(wit::Accelerator::Gb200),
            Accelerator::B200 => Some(wit::Accelerator::B200),
            Accelerator::A100 => Some(wit::Accelerator::A100),
            Accelerator::L40 => Some(wit::Accelerator::L40),
        },
        intent: match c.intent {
            Intent::Any => None,
            Intent::Training => Some(wit::Intent::Training),
            Intent::Inference => Some(wit::Intent::Inference),
        },
        os: match c.os {
            Os::Any => None,
            Os::Ubuntu => Some(wit::Os::Ubuntu),
            Os::Rhel => Some(wit::Os::Rhel),
            Os::Cos => Some(wit::Os::Cos),
            Os::AmazonLinux => Some(wit::Os::Amazonlinux),
        },
        platform: match c.platform {
            Platform::Any => None,
            Platform::Dynamo => Some(wit::Platform::Dynamo),
            Platform::Kubeflow => Some(wit::Platform::Kubeflow),
        },
        nodes: c.nodes,
    }
}

fn wit_constraint(c: &aicr_recipe::Constraint) -> wit::Constraint {
    wit::Constraint {
        name: c.name.clone(),
        value: c.value.clone(),
        severity: c.severity.clone(),
        remediation: c.remediation.clone(),
        unit: c.unit.clone(),
    }
}

fn owned<S: AsRef<str>>(list: &[S]) -> Vec<String> {
    list.iter().map(|s| s.as_ref().to_owned()).collect()
}

/// The native engine's recipe in the WIT shape, values hydrated.
fn expected(recipe: &Recipe<'_>) -> wit::Recipe {
    wit::Recipe {
        criteria: wit_criteria(&recipe.criteria),
        engine_version: aicr_recipe::ENGINE_VERSION.to_owned(),
        applied_overlays: owned(&recipe.applied_overlays),
        constraints: recipe
            .constraints
            .iter()
            .map(|c| wit::RecipeConstraint {
                constraint: wit_constraint(c.constraint),
                set_by: c.set_by.to_owned(),
            })
            .collect(),
        components: recipe
            .components
            .iter()
            .map(|c| wit::ComponentRef {
                name: c.name.to_owned(),
                namespace: c.namespace.to_owned(),
                chart: c.chart.to_owned(),
                kind: c.kind.to_owned(),
                source: c.source.to_owned(),
                version: c.version.to_owned(),
                tag: c.tag.to_owned(),
                values_file: c.values_file.to_owned(),
                overrides: serde_json::Value::Object(
                    c.overrides
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).clone()))
                        .collect(),
                )
                .to_string(),
                patches: owned(c.patches),
                dependency_refs: owned(c.dependency_refs),
                manifest_files: owned(&c.manifest_files),
                path: c.path.to_owned(),
                cleanup: c.cleanup,
                expected_resources: c
                    .expected_resources
                    .iter()
                    .map(|r| wit::ExpectedResource {
                        kind: r.kind.clone(),
                        name: r.name.clone(),
                        namespace: r.namespace.clone(),
                    })
                    .collect(),
                health_check_asserts: c.health_check_asserts.to_owned(),
                enabled: c.enabled(),
                touched_by: owned(&c.touched_by),
                version_from: c.version_from.to_owned(),
                values: Some(serde_json::Value::Object(recipe.values_of(c).unwrap()).to_string()),
            })
            .collect(),
        deployment_order: recipe.deployment_order_names().map(str::to_owned).collect(),
        validation: recipe
            .validation
            .iter()
            .map(|p| wit::ValidationPhase {
                name: match p.name {
                    "readiness" => wit::PhaseName::Readiness,
                    "deployment" => wit::PhaseName::Deployment,
                    "performance" => wit::PhaseName::Performance,
                    "conformance" => wit::PhaseName::Conformance,
                    other => panic!("unknown phase {other}"),
                },
                timeout: p.phase.timeout.clone(),
                constraints: p.phase.constraints.iter().map(wit_constraint).collect(),
                checks: p.phase.checks.clone(),
                node_selection: p.phase.node_selection.as_ref().map(|n| wit::NodeSelection {
                    selector: n
                        .selector
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    max_nodes: n.max_nodes,
                    exclude_nodes: n.exclude_nodes.clone(),
                }),
                infrastructure: p.phase.infrastructure.clone(),
                set_by: p.set_by.to_owned(),
            })
            .collect(),
    }
}

#[test]
fn every_combination_resolves_like_the_native_engine() {
    let Some(host) = Host::shared() else { return };
    let (mut store, bindings) = host.instantiate().unwrap();
    let resolver = bindings.aicr_recipe_resolver();
    // Every combination of the criteria enums, `any` included (and each node count an
    // overlay asks for: none in our catalog, so nodes 0).
    let combinations = catalog().reachable_criteria();
    assert_eq!(
        combinations.len(),
        Service::ALL.len()
            * Accelerator::ALL.len()
            * Intent::ALL.len()
            * Os::ALL.len()
            * Platform::ALL.len()
    );
    for criteria in &combinations {
        let native = catalog().resolve(criteria).unwrap();
        let got = resolver
            .call_resolve(&mut store, wit_criteria(criteria), true)
            .unwrap()
            .unwrap();
        assert_eq!(got, expected(&native), "criteria {criteria}");
        let mut unhydrated = expected(&native);
        unhydrated
            .components
            .iter_mut()
            .for_each(|c| c.values = None);
        let lean = resolver
            .call_resolve(&mut store, wit_criteria(criteria), false)
            .unwrap()
            .unwrap();
        assert_eq!(lean, unhydrated, "criteria {criteria}");
    }
    eprintln!("{} combinations equal", combinations.len());
}

#[test]
fn render_is_the_native_document_in_both_formats() {
    let Some(host) = Host::shared() else { return };
    let (mut store, bindings) = host.instantiate().unwrap();
    let resolver = bindings.aicr_recipe_resolver();
    let criteria = Criteria {
        service: Service::Eks,
        accelerator: Accelerator::H100,
        intent: Intent::Training,
        nodes: 8,
        ..Criteria::default()
    };
    let native = catalog().resolve(&criteria).unwrap();
    let json = resolver
        .call_render(&mut store, wit_criteria(&criteria), wit::Format::Json)
        .unwrap()
        .unwrap();
    assert_eq!(json, serde_json::to_string(&native).unwrap() + "\n");
    let yaml = resolver
        .call_render(&mut store, wit_criteria(&criteria), wit::Format::Yaml)
        .unwrap()
        .unwrap();
    assert_eq!(yaml, serde_norway::to_string(&native).unwrap());
}

#[test]
fn query_selects_like_the_native_engine_and_misses_are_typed() {
    let Some(host) = Host::shared() else { return };
    let (mut store, bindings) = host.instantiate().unwrap();
    let resolver = bindings.aicr_recipe_resolver();
    let criteria = Criteria {
        service: Service::Eks,
        accelerator: Accelerator::H100,
        ..Criteria::default()
    };
    let native = catalog().resolve(&criteria).unwrap();
    for selector in ["", "deploymentOrder", ".criteria.service", "components"] {
        let got = resolver
            .call_query(
                &mut store,
                wit_criteria(&criteria),
                selector,
                wit::Format::Json,
            )
            .unwrap()
            .unwrap();
        let want = native.query(selector).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&got).unwrap(),
            want,
            "{selector:?}"
        );
    }
    let miss = resolver
        .call_query(
            &mut store,
            wit_criteria(&criteria),
            "components.no-such-thing",
            wit::Format::Json,
        )
        .unwrap();
    match miss {
        Err(wit::Error::SelectorNotFound(m)) => {
            assert_eq!(m.selector, "components.no-such-thing");
            assert!(
                m.message.contains("no-such-thing") && m.message.contains("available keys"),
                "{}",
                m.message
            );
        }
        other => panic!("expected selector-not-found, got {other:?}"),
    }
}

#[test]
fn parse_criteria_accepts_what_the_api_accepts_and_types_its_errors() {
    let Some(host) = Host::shared() else { return };
    let (mut store, bindings) = host.instantiate().unwrap();
    let resolver = bindings.aicr_recipe_resolver();
    let mut parse = |pairs: &[(&str, &str)]| {
        let raw: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        resolver.call_parse_criteria(&mut store, &raw).unwrap()
    };
    let ok = parse(&[
        ("service", " EKS "),
        ("os", "al2023"),
        ("accelerator", "any"),
        ("nodes", "8"),
    ])
    .unwrap();
    let want = Criteria {
        service: Service::Eks,
        os: Os::AmazonLinux,
        nodes: 8,
        ..Criteria::default()
    };
    assert_eq!(ok, wit_criteria(&want));

    match parse(&[("service", "lke")]) {
        Err(wit::Error::InvalidCriteria(e)) => {
            assert_eq!((e.field, e.value.as_str()), (wit::Field::Service, "lke"));
            assert_eq!(e.allowed, ["aks", "eks", "gke", "kind", "oke", "any"]);
            let native =
                Criteria::from_raw(|f| (f == Field::Service).then_some("lke")).unwrap_err();
            assert_eq!(e.message, native.to_string());
        }
        other => panic!("expected invalid-criteria, got {other:?}"),
    }
    match parse(&[("nodes", "12abc")]) {
        Err(wit::Error::InvalidCriteria(e)) => {
            assert_eq!((e.field, e.value.as_str()), (wit::Field::Nodes, "12abc"));
            assert!(e.allowed.is_empty());
            assert!(e.message.contains("whole number"), "{}", e.message);
        }
        other => panic!("expected invalid-criteria, got {other:?}"),
    }
    match parse(&[("service", "eks"), ("colour", "red")]) {
        Err(wit::Error::UnknownField(e)) => {
            assert_eq!(e.name, "colour");
            assert_eq!(
                e.allowed,
                [
                    "service",
                    "accelerator",
                    "gpu",
                    "intent",
                    "os",
                    "platform",
                    "nodes"
                ]
            );
        }
        other => panic!("expected unknown-field, got {other:?}"),
    }
}

#[test]
fn allowed_values_and_catalog_info_describe_the_embedded_catalog() {
    let Some(host) = Host::shared() else { return };
    let (mut store, bindings) = host.instantiate().unwrap();
    let resolver = bindings.aicr_recipe_resolver();
    let fields = resolver.call_allowed_values(&mut store).unwrap();
    assert_eq!(fields.len(), Field::ALL.len());
    for (got, field) in fields.iter().zip(Field::ALL) {
        assert_eq!(got.allowed, field.allowed_values(), "{field}");
        assert!(
            got.in_catalog
                .iter()
                .all(|v| field == Field::Nodes || got.allowed.contains(v)),
            "{field}"
        );
        assert_eq!(got.aliases.len(), field.aliases().len(), "{field}");
    }
    assert!(
        !fields[0].in_catalog.is_empty(),
        "some overlay names a service"
    );

    let info = resolver.call_catalog(&mut store).unwrap();
    let native = catalog().info();
    assert_eq!(
        (
            info.name.as_str(),
            info.version.as_str(),
            info.digest.as_str()
        ),
        (
            native.name.as_str(),
            native.version.as_str(),
            native.digest.as_str()
        )
    );
    assert_eq!(info.overlays as usize, catalog().overlays().len());
    assert_eq!(info.components as usize, catalog().component_count());
    assert_eq!(info.engine_version, aicr_recipe::ENGINE_VERSION);
}

/// Linear memory may grow while the allocator warms up, then must stay flat: 1,000 more
/// resolves in the same instance may add at most one 64 KiB page.
#[test]
fn a_thousand_resolves_in_one_instance_keep_memory_bounded() {
    const PAGE: usize = 64 * 1024;
    let Some(host) = Host::shared() else { return };
    let (mut store, bindings) = host.instantiate().unwrap();
    let resolver = bindings.aicr_recipe_resolver();
    let criteria = wit_criteria(&Criteria {
        service: Service::Eks,
        accelerator: Accelerator::Gb200,
        intent: Intent::Training,
        ..Criteria::default()
    });
    for _ in 0..50 {
        resolver
            .call_resolve(&mut store, criteria, true)
            .unwrap()
            .unwrap();
    }
    let warm = aicr_component_host::memory_bytes(&store);
    for _ in 0..1_000 {
        resolver
            .call_resolve(&mut store, criteria, true)
            .unwrap()
            .unwrap();
    }
    let after = aicr_component_host::memory_bytes(&store);
    eprintln!("linear memory: {warm} bytes after warm-up, {after} after 1,000 more resolves");
    assert!(
        after <= warm + PAGE,
        "memory grew from {warm} to {after} bytes"
    );
}

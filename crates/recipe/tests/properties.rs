//! Properties over the whole criteria space of both catalogs (ours, and upstream's when
//! ../shared is present): resolution is deterministic, the deployment order respects every
//! dependency, and every invalid value fails naming its field.

use aicr_recipe::{Accelerator, Catalog, Criteria, Field, Intent, Os, Platform, Service};
use proptest::prelude::*;

mod support;
use std::sync::OnceLock;

fn catalogs() -> &'static [Catalog] {
    static ALL: OnceLock<Vec<Catalog>> = OnceLock::new();
    ALL.get_or_init(|| {
        support::CATALOG_DIRS
            .iter()
            .filter_map(|(_, dir)| support::load(dir))
            .collect()
    })
}

fn criteria() -> impl Strategy<Value = Criteria> {
    (
        prop::sample::select(Service::ALL),
        prop::sample::select(Accelerator::ALL),
        prop::sample::select(Intent::ALL),
        prop::sample::select(Os::ALL),
        prop::sample::select(Platform::ALL),
        prop_oneof![Just(0u32), any::<u32>()],
    )
        .prop_map(
            |(service, accelerator, intent, os, platform, nodes)| Criteria {
                service,
                accelerator,
                intent,
                os,
                platform,
                nodes,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn resolution_is_deterministic(c in criteria()) {
        for catalog in catalogs() {
            let a = serde_json::to_string(&catalog.resolve(&c).unwrap()).unwrap();
            let fresh = Catalog::new(catalog.parts().clone()).unwrap();
            let b = serde_json::to_string(&fresh.resolve(&c).unwrap()).unwrap();
            prop_assert_eq!(&a, &b);
            // Resolving other criteria in between changes nothing (no shared mutable state).
            let _ = catalog.resolve(&Criteria { service: Service::Eks, accelerator: Accelerator::H100, intent: Intent::Training, os: Os::Ubuntu, ..c });
            prop_assert_eq!(&a, &serde_json::to_string(&catalog.resolve(&c).unwrap()).unwrap());
        }
    }

    #[test]
    fn deployment_order_respects_every_dependency(c in criteria()) {
        for catalog in catalogs() {
            let recipe = catalog.resolve(&c).unwrap();
            let order: Vec<&str> = recipe.deployment_order_names().collect();
            prop_assert_eq!(order.len(), recipe.components.len());
            for component in &recipe.components {
                let at = order.iter().position(|n| *n == component.name).unwrap();
                for dep in component.dependency_refs {
                    let dep_at = order.iter().position(|n| n == dep).unwrap();
                    prop_assert!(dep_at < at, "{} deploys before its dependency {}", component.name, dep);
                }
            }
        }
    }

    #[test]
    fn invalid_values_fail_naming_their_field(
        field in prop::sample::select(&Field::ALL[..]),
        raw in "[a-zA-Z0-9 _.-]{1,12}",
    ) {
        let accepted = |v: &str| {
            let folded = v.trim().to_ascii_lowercase();
            folded.is_empty()
                || folded == "any"
                || field.allowed_values().contains(&folded.as_str())
                || field.aliases().iter().any(|(a, _)| *a == folded)
                || (field == Field::Nodes && folded.parse::<u32>().is_ok())
        };
        prop_assume!(!accepted(&raw));
        let err = Criteria::from_raw(|f| (f == field).then_some(raw.as_str())).unwrap_err();
        prop_assert_eq!(err.field, field);
        prop_assert_eq!(&err.value, &raw);
        prop_assert!(err.to_string().contains(field.as_str()));
    }
}

#[test]
fn every_reachable_recipe_builds_and_hydrates() {
    for catalog in catalogs() {
        assert!(catalog.check_all_recipes().is_empty());
        assert_eq!(catalog.reachable_criteria().len(), 6 * 6 * 3 * 5 * 3);
    }
}

//! Engine benchmarks: resolve for representative criteria on our catalog and upstream's
//! (and once with provenance, as `/v2/recipe` does), and `/v1/query` selectors and a
//! `/v2/query` pointer over the hydrated recipe. `cargo xtask bench` prints a table.

use aicr_recipe::{Accelerator, Criteria, Intent, Os, Platform, Pointer, Service};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

#[path = "../tests/support/mod.rs"]
mod support;

/// The criteria sets the issue names, with short labels.
pub fn cases() -> [(&'static str, Criteria); 4] {
    [
        ("all-any", Criteria::default()),
        (
            "eks-h100-ubuntu-training",
            Criteria {
                service: Service::Eks,
                accelerator: Accelerator::H100,
                os: Os::Ubuntu,
                intent: Intent::Training,
                ..Default::default()
            },
        ),
        (
            "eks-gb200-ubuntu-inference-dynamo",
            Criteria {
                service: Service::Eks,
                accelerator: Accelerator::Gb200,
                os: Os::Ubuntu,
                intent: Intent::Inference,
                platform: Platform::Dynamo,
                ..Default::default()
            },
        ),
        (
            "kind",
            Criteria {
                service: Service::Kind,
                ..Default::default()
            },
        ),
    ]
}

fn benches(c: &mut Criterion) {
    for (label, dir) in support::CATALOG_DIRS {
        let Some(catalog) = support::load(dir) else {
            continue;
        };
        let mut group = c.benchmark_group(format!("resolve {label}"));
        for (name, criteria) in cases() {
            group.bench_function(name, |b| {
                b.iter(|| black_box(catalog.resolve(black_box(&criteria)).unwrap()))
            });
        }
        let training = cases()[1].1;
        group.bench_function("eks-h100-ubuntu-training with provenance (/v2)", |b| {
            b.iter(|| {
                black_box(
                    catalog
                        .resolve_with_provenance(black_box(&training))
                        .unwrap(),
                )
            })
        });
        group.finish();
        let mut group = c.benchmark_group(format!("query {label}"));
        group.bench_function(
            "deep selector components.gpu-operator.values.driver.version",
            |b| {
                b.iter(|| {
                    let recipe = catalog.resolve(black_box(&training)).unwrap();
                    black_box(
                        recipe
                            .query("components.gpu-operator.values.driver.version")
                            .unwrap(),
                    )
                })
            },
        );
        group.bench_function("whole hydrated recipe (empty selector)", |b| {
            b.iter(|| {
                black_box(
                    catalog
                        .resolve(black_box(&training))
                        .unwrap()
                        .query("")
                        .unwrap(),
                )
            })
        });
        let gpu = catalog
            .resolve(&training)
            .unwrap()
            .components
            .iter()
            .position(|c| c.name == "gpu-operator")
            .unwrap();
        let pointer =
            Pointer::parse(&format!("/componentRefs/{gpu}/values/driver/version")).unwrap();
        group.bench_function(
            "deep pointer (/v2) /componentRefs/{gpu-operator}/values/driver/version",
            |b| {
                b.iter(|| {
                    let recipe = catalog.resolve(black_box(&training)).unwrap();
                    black_box(recipe.select(black_box(&pointer)).unwrap())
                })
            },
        );
        group.finish();
    }
}

criterion_group!(engine, benches);
criterion_main!(engine);

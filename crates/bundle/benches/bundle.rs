//! Building bundles natively on the embedded catalog: the target is a Helm bundle for
//! eks/h100/ubuntu/training in at most 2 ms (upstream reported ~15–36 ms in its
//! `X-Bundle-Duration` header on the same recipe). `build` is the file tree (values,
//! rendered manifests, scripts, checksums); `build+zip` adds the deflated archive.

use aicr_bundle::{BundleOptions, RecipeDocument};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let catalog = aicr_embedded_catalog::catalog();
    let criteria = aicr_recipe::Criteria::from_params(&[
        ("service", "eks"),
        ("accelerator", "h100"),
        ("os", "ubuntu"),
        ("intent", "training"),
    ])
    .unwrap();
    let document = RecipeDocument::from_recipe(&catalog.resolve(&criteria).unwrap());
    let mut group = c.benchmark_group("bundle");
    for deployer in ["helm", "argocd"] {
        let options = BundleOptions::from_pairs([("deployer", deployer)]).unwrap();
        group.bench_function(format!("{deployer} eks-h100-ubuntu-training build"), |b| {
            b.iter(|| black_box(aicr_bundle::build(catalog, &document, &options).unwrap()))
        });
        group.bench_function(
            format!("{deployer} eks-h100-ubuntu-training build+zip"),
            |b| {
                b.iter(|| {
                    black_box(
                        aicr_bundle::build(catalog, &document, &options)
                            .unwrap()
                            .zip(),
                    )
                })
            },
        );
    }
    group.finish();
}

criterion_group!(bundles, benches);
criterion_main!(bundles);

//! A full request through the API crate: parse → resolve → serialise, on the embedded
//! catalog, as every host runs it. Each target twice: the first time a fresh `Api` sees it
//! (its memo is empty: the whole path), and again on a warm one (the memo holds the body).

use aicr_api::{Api, Config, RequestContext};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let api = Api::new(aicr_embedded_catalog::catalog(), Config::default());
    let ctx = RequestContext {
        unix_nanos: 1,
        random: [1; 16],
    };
    let mut group = c.benchmark_group("api");
    for (name, target) in [
        (
            "GET /v1/recipe eks-h100-ubuntu-training",
            "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training",
        ),
        (
            "GET /v1/recipe eks-h100-ubuntu-training yaml",
            "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training&format=yaml",
        ),
        (
            "GET /v1/query deep selector",
            "/v1/query?service=eks&accelerator=h100&os=ubuntu&intent=training&selector=components.gpu-operator.values.driver.version",
        ),
    ] {
        let request = http::Request::builder()
            .uri(target)
            .body(Vec::new())
            .unwrap();
        group.bench_function(name, |b| {
            b.iter_batched(
                || Api::new(aicr_embedded_catalog::catalog(), Config::default()),
                |fresh| black_box(fresh.handle(black_box(&request), &ctx)),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{name} (memo hit)"), |b| {
            b.iter(|| black_box(api.handle(black_box(&request), &ctx)))
        });
    }
    group.finish();
}

criterion_group!(api, benches);
criterion_main!(api);

//! What the stack costs per request on top of the API, in one run: the same GET answered
//! by `Api::handle` alone, by the stack with nothing configured, and by the stack with a
//! tenant key, CORS and a rate limit (the heaviest path a recipe request takes).

use aicr_api::{Api, Config, RequestContext};
use aicr_stack::{Connection, Gcra, HostOptions, Policy, Stack, keys, now_or_later};
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use std::hint::black_box;

const URI: &str = "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";
const SECRET: &str = "bench-secret-bench-secret-bench-secret";

fn request(key: Option<&str>) -> Request<Vec<u8>> {
    let mut builder = Request::get(URI).header("origin", "https://dash.example");
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder.body(Vec::new()).unwrap()
}

fn stack(policy: Policy) -> Stack {
    let api = Api::new(aicr_embedded_catalog::catalog(), Config::default());
    Stack::new(api, policy, Some(Gcra::default()), HostOptions::default())
}

fn bench(c: &mut Criterion) {
    let api = Api::new(aicr_embedded_catalog::catalog(), Config::default());
    let ctx = RequestContext::default();
    let plain = stack(Policy::default());
    let minted = keys::mint(&[9; 38], SECRET.as_bytes());
    let tenants = format!(
        r#"{{"tenants":[{{"name":"bench","keys":[{{"id":"{}","hash":"{}"}}],
        "rateLimit":"1000000000/s","corsOrigins":["https://dash.example"]}}]}}"#,
        minted.id, minted.hash
    );
    let keyed = stack(
        Policy::from_vars(|name| match name {
            "AICR_TENANTS" => Some(tenants.clone()),
            "AICR_KEY_SECRET" => Some(SECRET.to_owned()),
            _ => None,
        })
        .unwrap(),
    );
    let answer = |stack: &Stack, key: Option<&str>| {
        let future = stack.answer(request(key), ctx, Connection::default());
        match now_or_later(future) {
            Ok(response) => response,
            Err(_) => panic!("the native stack answers without waiting"),
        }
    };
    assert_eq!(answer(&keyed, Some(&minted.key)).status(), 200);

    let mut group = c.benchmark_group("stack");
    group.bench_function("api alone", |b| {
        b.iter(|| black_box(api.handle(&request(None), &ctx)))
    });
    group.bench_function("stack, nothing configured", |b| {
        b.iter(|| black_box(answer(&plain, None)))
    });
    group.bench_function("stack, tenant key + CORS + limit", |b| {
        b.iter(|| black_box(answer(&keyed, Some(&minted.key))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

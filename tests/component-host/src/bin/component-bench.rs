//! Speed of `aicr.wasm` in wasmtime, for `cargo xtask bench`: prints one JSON object of
//! medians in nanoseconds — instantiating from an `InstancePre`; what a fresh instance
//! costs to give its first answer, typed (instantiate + one resolve) and over wasi:http
//! (instantiate + one `GET /v1/recipe`, the way `wasmtime serve` runs every request); one
//! typed resolve (no hydration) in a warm instance; and the native engine's resolve of the
//! same criteria in this same process, which the ratios are taken against.
//!
//! The fresh-instance figures are what pre-initialisation (the component ships with its
//! catalog already decoded) is for: without it they carry the catalog's decoding.

use aicr_component_host::Host;
use aicr_recipe::{Accelerator, Criteria, Intent, Os, Service};
use std::time::Instant;

const SAMPLES: usize = 101;
const NATIVE_BATCH: u32 = 1_000;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Nanoseconds `f` takes.
fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed().as_nanos() as f64, out)
}

fn main() -> wasmtime::Result<()> {
    let host = Host::shared().ok_or_else(|| wasmtime::format_err!("build the component first"))?;
    let criteria = Criteria {
        service: Service::Eks,
        accelerator: Accelerator::H100,
        os: Os::Ubuntu,
        intent: Intent::Training,
        ..Criteria::default()
    };
    let typed = aicr_component_host::EKS_H100_UBUNTU_TRAINING;
    let request = || {
        http::Request::get(aicr_component_host::EKS_H100_UBUNTU_TRAINING_GET)
            .header(http::header::HOST, "localhost")
            .body(String::new())
    };
    let catalog = aicr_embedded_catalog::catalog();
    let mut native = Vec::with_capacity(SAMPLES);
    let mut instantiate = Vec::with_capacity(SAMPLES);
    let mut first_resolve = Vec::with_capacity(SAMPLES);
    let mut first_get = Vec::with_capacity(SAMPLES);
    let mut resolve = Vec::with_capacity(SAMPLES);
    let (mut store, bindings) = host.instantiate()?;
    for _ in 0..SAMPLES {
        let (ns, ()) = time(|| {
            for _ in 0..NATIVE_BATCH {
                std::hint::black_box(
                    catalog
                        .resolve(std::hint::black_box(&criteria))
                        .expect("resolves"),
                );
            }
        });
        native.push(ns / f64::from(NATIVE_BATCH));

        let (ns, fresh) = time(|| host.instantiate());
        instantiate.push(ns);
        drop(fresh?);

        let (ns, recipe) = time(|| -> wasmtime::Result<_> {
            let (mut store, fresh) = host.instantiate()?;
            fresh
                .aicr_recipe_resolver()
                .call_resolve(&mut store, typed, false)
        });
        first_resolve.push(ns);
        assert!(recipe?.is_ok());

        let request = request()?;
        let (ns, served) = time(|| host.serve(request, None));
        first_get.push(ns);
        assert_eq!(served?.response.status(), http::StatusCode::OK);

        let (ns, recipe) = time(|| {
            bindings
                .aicr_recipe_resolver()
                .call_resolve(&mut store, typed, false)
        });
        resolve.push(ns);
        assert!(recipe?.is_ok());
    }
    println!(
        "{}",
        serde_json::json!({
            "native_resolve_ns": median(native),
            "instantiate_from_instance_pre_ns": median(instantiate),
            "fresh_instance_instantiate_and_first_resolve_ns": median(first_resolve),
            "fresh_instance_instantiate_and_first_http_get_ns": median(first_get),
            "resolve_ns": median(resolve),
        })
    );
    Ok(())
}

//! Speed of `aicr.wasm` in wasmtime, for `cargo xtask bench`: prints one JSON object of
//! medians in nanoseconds — instantiating from an `InstancePre`, one typed resolve (no
//! hydration) in a warm instance, and the native engine's resolve of the same criteria in
//! this same process, which the ratios are taken against.

use aicr_component_host::{Host, wit};
use aicr_recipe::{Accelerator, Criteria, Intent, Os, Service};
use std::time::Instant;

const SAMPLES: usize = 101;
const NATIVE_BATCH: u32 = 1_000;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
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
    let typed = wit::Criteria {
        service: Some(wit::Service::Eks),
        accelerator: Some(wit::Accelerator::H100),
        intent: Some(wit::Intent::Training),
        os: Some(wit::Os::Ubuntu),
        platform: None,
        nodes: 0,
    };
    let catalog = aicr_embedded_catalog::catalog();
    let mut native = Vec::with_capacity(SAMPLES);
    let mut instantiate = Vec::with_capacity(SAMPLES);
    let mut resolve = Vec::with_capacity(SAMPLES);
    let (mut store, bindings) = host.instantiate()?;
    for _ in 0..SAMPLES {
        let start = Instant::now();
        for _ in 0..NATIVE_BATCH {
            std::hint::black_box(
                catalog
                    .resolve(std::hint::black_box(&criteria))
                    .expect("resolves"),
            );
        }
        native.push(start.elapsed().as_nanos() as f64 / f64::from(NATIVE_BATCH));

        let start = Instant::now();
        let fresh = host.instantiate()?;
        instantiate.push(start.elapsed().as_nanos() as f64);
        drop(fresh);

        let start = Instant::now();
        let recipe = bindings
            .aicr_recipe_resolver()
            .call_resolve(&mut store, typed, false)?;
        resolve.push(start.elapsed().as_nanos() as f64);
        assert!(recipe.is_ok());
    }
    println!(
        "{}",
        serde_json::json!({
            "native_resolve_ns": median(native),
            "instantiate_from_instance_pre_ns": median(instantiate),
            "resolve_ns": median(resolve),
        })
    );
    Ok(())
}

//! A fresh instance answers at once. `cargo xtask build` pre-initialises the component:
//! wizer runs the embedded catalog's decoding at build time and the component ships the
//! memory it leaves, so a host that instantiates per request (`wasmtime serve` does) never
//! pays for it. Counted in fuel (wasm instructions: the same on every machine and run), not
//! time: instantiating plus a first call must cost about what the same call costs warm,
//! where decoding the catalog first makes it many times that.

use aicr_component_host::{Embed, Host, State, component_path, fuel_used, wit};
use wasmtime::Store;

/// How much more than a warm call instantiating and a first call may cost. They measure
/// equal within a fraction of a percent; decoding the catalog adds about 4 million
/// instructions, some 2,600 times a `catalog` call and 17 times a resolve.
const MAX_FIRST_OVER_WARM: f64 = 1.5;

const CRITERIA: wit::Criteria = aicr_component_host::EKS_H100_UBUNTU_TRAINING;

/// An export called on an instance: the cheapest one, and the one hosts call most.
type Call = fn(&mut Store<State>, &Embed);

const CALLS: [(&str, Call); 2] = [
    ("catalog", |store, bindings| {
        bindings.aicr_recipe_resolver().call_catalog(store).unwrap();
    }),
    ("resolve", resolve),
];

fn resolve(store: &mut Store<State>, bindings: &Embed) {
    let recipe = bindings
        .aicr_recipe_resolver()
        .call_resolve(store, CRITERIA, false)
        .unwrap();
    assert!(recipe.is_ok());
}

#[test]
fn a_fresh_instance_answers_its_first_call_like_a_warm_one() {
    if !aicr_component_host::built_or_skip() {
        return;
    }
    let host = Host::load_metered(&component_path()).unwrap();
    let fuel = |store: &Store<State>| fuel_used(store).expect("the host is metered");
    for (name, call) in CALLS {
        let (mut store, bindings) = host.instantiate().unwrap();
        call(&mut store, &bindings);
        let first = fuel(&store);
        call(&mut store, &bindings);
        let warm = fuel(&store) - first;
        eprintln!("{name}: instantiate + first call {first} fuel, warm call {warm}");
        assert!(
            first as f64 <= MAX_FIRST_OVER_WARM * warm as f64,
            "instantiating and a first `{name}` cost {first} fuel, a warm `{name}` {warm}: \
             the instance did work before answering (is the component pre-initialised? \
             `cargo xtask build` does it)"
        );
    }
}

/// How much more an HTTP recipe may cost a fresh instance than a typed resolve in one:
/// the HTTP answer adds the stack (configured from the environment in every instance under
/// `wasmtime serve`), rendering, the ETag and the wasi:http plumbing, about half a resolve
/// again (1.5× measured). Decoding the catalog per instance would make it about 18×.
const MAX_HTTP_OVER_TYPED: f64 = 2.0;

#[test]
fn a_fresh_instance_answers_http_with_little_more_than_the_resolve_itself() {
    if !aicr_component_host::built_or_skip() {
        return;
    }
    let host = Host::load_metered(&component_path()).unwrap();
    let (mut store, bindings) = host.instantiate().unwrap();
    resolve(&mut store, &bindings);
    let typed = fuel_used(&store).expect("the host is metered");
    let request = http::Request::get(aicr_component_host::EKS_H100_UBUNTU_TRAINING_GET)
        .header(http::header::HOST, "localhost")
        .body(String::new())
        .unwrap();
    let served = host.serve(request, None).unwrap();
    assert_eq!(served.response.status(), http::StatusCode::OK);
    let over_http = served.fuel.expect("the host is metered");
    eprintln!("fresh instance: typed resolve {typed} fuel, GET /v1/recipe {over_http}");
    assert!(
        over_http as f64 <= MAX_HTTP_OVER_TYPED * typed as f64,
        "a fresh instance's GET /v1/recipe cost {over_http} fuel, a typed resolve {typed}: \
         the HTTP path does per-instance work it should not"
    );
}

//! # aicr-component — the engine as a WASI 0.2 component (`aicr.wasm`)
//!
//! One artifact with three faces, all defined in `wit/aicr.wit` (world `aicr`):
//!
//! - [`resolver`]: the typed `aicr:recipe/resolver` interface, for hosts that embed the
//!   engine (wasmtime, jco/Node, a Crossplane-style function). Hosts that bind the
//!   resolver-only world `embed` can instantiate this same file.
//! - [`http`]: `wasi:http/incoming-handler`, a type adapter from wasi:http to
//!   [`aicr_api::Api::handle`] — the same HTTP API as the edge worker, with no routing,
//!   status or header logic here.
//! - [`cli`]: `wasi:cli/run`, so `wasmtime run aicr.wasm recipe --service eks` prints a
//!   recipe.
//!
//! One file rather than one per world: the three share the engine, the catalog and the
//! serialisers, which are most of the bytes, and one artifact is simpler to ship and test.
//!
//! The shipped file is pre-initialised ([`pre_initialise`]): its catalog is decoded at
//! build time, so a fresh instance answers its first call as fast as its hundredth.
//!
//! This crate only adapts types. It must never hold engine or HTTP semantics of its own:
//! those live in `aicr-recipe` and `aicr-api`.

mod cli;
mod http;
mod resolver;

wit_bindgen::generate!({
    world: "aicr",
    path: "../../wit",
    generate_all,
});

/// The component: every export is implemented on this one type.
struct Component;

export!(Component);

/// The build's pre-initialisation entry point. `cargo xtask build` runs it once, under
/// wizer, and ships the memory it leaves as the component's initial memory
/// (xtask/src/component.rs), so every instance starts with the embedded catalog decoded
/// and indexed. Hosts that instantiate per request (`wasmtime serve`) would otherwise pay
/// that decoding on every request; it cost many times a resolve.
///
/// Only pure state that every host shares belongs here: wizer runs it with no imports,
/// and a snapshot is the same for all instances. The API's configuration, read from the
/// host's environment, stays per instance ([`http`]). Wizer removes this export from
/// what it writes; a component linked without wizer just carries it unused.
#[unsafe(export_name = "wizer.initialize")]
extern "C" fn pre_initialise() {
    resolver::catalog();
}

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

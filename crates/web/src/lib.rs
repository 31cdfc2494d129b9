//! # aicr-web — the recipe engine in the browser
//!
//! `wasm-bindgen` exports over the same engine and embedded catalog the edge API serves,
//! for the static explorer in `www/`. Nothing here re-implements engine logic: criteria
//! are parsed by [`Criteria::from_raw`], recipes come from [`Catalog::resolve`], values
//! from the engine's hydration, selectors from [`Recipe::query`], downloads from the API
//! crate's own renderer (so a download is byte-for-byte what `curl` gets from the edge),
//! bundles from `aicr-bundle` over that same rendered document ([`bundle`]).
//! What this crate adds is shaping: the page's view of a recipe with its provenance
//! ([`view`]) and the difference between two recipes ([`compare`]).
//!
//! Every export takes criteria as a plain JS object of raw strings (`{service: "eks",
//! nodes: "8"}`) and either returns plain JSON-compatible JS values or throws a plain
//! object `{field, value, message, allowed}` that the page shows next to the field.
//!
//! [`Catalog::resolve`]: aicr_recipe::Catalog::resolve
//! [`Recipe::query`]: aicr_recipe::Recipe::query

pub mod bundle;
pub mod compare;
pub mod input;
pub mod view;

use crate::input::{InputError, RawCriteria};
use aicr_recipe::{Catalog, Recipe};
use serde::Serialize;
use wasm_bindgen::prelude::*;

fn catalog() -> &'static Catalog {
    aicr_embedded_catalog::catalog()
}

/// Plain objects and arrays (not JS `Map`s), so the page can read fields directly.
fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsValue::from(e.to_string()))
}

fn fail(error: InputError) -> JsValue {
    to_js(&error).unwrap_or_else(|e| e)
}

fn raw(criteria: JsValue) -> Result<RawCriteria, JsValue> {
    serde_wasm_bindgen::from_value(criteria).map_err(|e| fail(InputError::shape(e.to_string())))
}

fn recipe(criteria: JsValue) -> Result<Recipe<'static>, JsValue> {
    input::resolve(catalog(), &raw(criteria)?).map_err(fail)
}

/// Name, version and digest of the embedded catalog, plus its size.
#[wasm_bindgen(js_name = catalogInfo)]
pub fn catalog_info() -> Result<JsValue, JsValue> {
    to_js(&view::CatalogSummary::of(catalog()))
}

/// The criteria fields in upstream's order, each with its allowed values and aliases and
/// the values the catalog's overlays ask for.
#[wasm_bindgen(js_name = criteriaFields)]
pub fn criteria_fields() -> Result<JsValue, JsValue> {
    to_js(&view::fields(catalog()))
}

/// The recipe for raw criteria, shaped for the page (see [`view::RecipeView`]).
#[wasm_bindgen]
pub fn resolve(criteria: JsValue) -> Result<JsValue, JsValue> {
    to_js(&view::RecipeView::of(&recipe(criteria)?).map_err(fail)?)
}

/// The recipe document as the edge API returns it: `format` is `json` or `yaml`.
#[wasm_bindgen]
pub fn render(criteria: JsValue, format: &str) -> Result<String, JsValue> {
    input::render(&recipe(criteria)?, format).map_err(fail)
}

/// A `/v1/query` selector over the hydrated recipe.
#[wasm_bindgen]
pub fn query(criteria: JsValue, selector: &str) -> Result<JsValue, JsValue> {
    let value = recipe(criteria)?
        .query(selector)
        .map_err(|e| fail(InputError::selector(selector, e.to_string())))?;
    to_js(&value)
}

/// The deployable bundle of the recipe for raw criteria: `options` is an array of
/// `[name, value]` pairs (the `/v1/bundle` query's options, names repeated as there).
/// Returns `{zip: Uint8Array, files, warnings}`, the zip being the API's bytes; throws
/// with `field` naming the bad option (or the recipe document's field) and why.
#[wasm_bindgen]
pub fn bundle(criteria: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let pairs: bundle::Pairs = serde_wasm_bindgen::from_value(options).map_err(|e| {
        fail(InputError::whole(format!(
            "bundle options must be an array of [name, value] strings: {e}"
        )))
    })?;
    let download = bundle::build(catalog(), &recipe(criteria)?, &pairs).map_err(fail)?;
    // The default serializer, not `to_js`'s JSON-compatible one, which would turn the zip's
    // bytes into an array of numbers; `Download` holds no maps, so it is a plain object.
    download
        .serialize(&serde_wasm_bindgen::Serializer::new())
        .map_err(|e| JsValue::from(e.to_string()))
}

/// What changes from the recipe for criteria `a` to the one for `b`.
#[wasm_bindgen]
pub fn diff(a: JsValue, b: JsValue) -> Result<JsValue, JsValue> {
    let (a, b) = (recipe(a)?, recipe(b)?);
    to_js(&compare::RecipeDiff::between(&a, &b).map_err(fail)?)
}

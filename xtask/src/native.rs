//! The native engine's answers, which the wasm hosts' tests (component in Node, explorer
//! in Chromium) are compared against.

use crate::steps::Result;
use aicr_recipe::{Criteria, Recipe};

/// The recipe for raw `(field, value)` pairs, parsed as every request path parses them.
pub fn resolve(pairs: &[(&str, &str)]) -> Result<Recipe<'static>> {
    let criteria = Criteria::from_raw(|f| {
        pairs
            .iter()
            .find(|(k, _)| *k == f.as_str())
            .map(|(_, v)| *v)
    })
    .map_err(|e| e.to_string())?;
    aicr_embedded_catalog::catalog()
        .resolve(&criteria)
        .map_err(|e| e.to_string())
}

/// A recipe document as the edge API sends it, in JSON or YAML.
pub fn render(recipe: &Recipe<'_>, format: aicr_api::Format) -> Result<String> {
    let bytes = format.render(recipe).map_err(|e| e.message)?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

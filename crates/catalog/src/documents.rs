//! The YAML documents of a catalog as they are written on disk, before the cross-checks.
//! Unknown keys are rejected here (serde), except where upstream's own catalog relies on
//! one (see `load.rs`).

use aicr_recipe::model::{ComponentRef, Constraint, Validation};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

pub const RECIPE_METADATA: &str = "RecipeMetadata";
pub const COMPONENT_REGISTRY: &str = "ComponentRegistry";
pub const API_VERSION: &str = aicr_recipe::API_VERSION;

/// Just enough of any document to know what it is.
#[derive(Deserialize)]
pub struct Header {
    #[serde(default)]
    pub kind: Option<String>,
}

/// An overlay file (`kind: RecipeMetadata`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverlayDoc {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: SpecDoc,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpecDoc {
    #[serde(default)]
    pub base: String,
    #[serde(default)]
    pub criteria: Option<CriteriaDoc>,
    #[serde(default)]
    pub constraints: Vec<Constraint>,
    #[serde(default)]
    pub component_refs: Vec<ComponentRef>,
    #[serde(default)]
    pub validation: Option<Validation>,
}

/// Overlay criteria as written: plain strings, checked against the enums by the loader.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CriteriaDoc {
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub accelerator: String,
    #[serde(default)]
    pub intent: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub nodes: u32,
}

/// `registry.yaml`. Entries stay generic values so unknown keys can be reported with
/// their names (and upstream's one known quirk tolerated).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryDoc {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub components: Vec<BTreeMap<String, Value>>,
}

/// The registry keys upstream's `ComponentConfig` knows.
pub const REGISTRY_KEYS: &[&str] = &[
    "name",
    "displayName",
    "valueOverrideKeys",
    "helm",
    "kustomize",
    "nodeScheduling",
    "podScheduling",
    "validations",
    "healthCheck",
];

//! The catalog's data model, in the upstream AICR v0.11.1 shapes (`RecipeMetadata`,
//! `ComponentRef`, `ComponentRegistry`).
//!
//! These types are what the build-time loader produces from YAML and what the embedded
//! catalog stores pre-parsed; serde names follow the upstream JSON/YAML field names, and
//! empty fields are left out exactly where upstream leaves them out.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A deployment constraint such as `K8s.server.version >= 1.32.4`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Constraint {
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub severity: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remediation: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
}

/// A Kubernetes object a deployment check expects to find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExpectedResource {
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// One component entry of an overlay (`spec.componentRefs[]`).
///
/// Field order is the upstream serialisation order. Empty strings, lists and maps are
/// "unset": they inherit when merged and are left out when serialised, except `type` and
/// `source`, which upstream always prints.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chart: String,
    /// `Helm` or `Kustomize`; empty means "take it from the registry".
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub values_file: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub overrides: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependency_refs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifest_files: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub cleanup: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_resources: Vec<ExpectedResource>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub health_check_asserts: String,
}

/// Which nodes a validation phase runs on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSelection {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_nodes: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_nodes: Vec<String>,
}

/// One validation phase: constraints and named checks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Phase {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timeout: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selection: Option<NodeSelection>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub infrastructure: String,
}

/// The four validation phases; a present phase replaces the inherited one whole.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Validation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Phase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Phase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance: Option<Phase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conformance: Option<Phase>,
}

impl Validation {
    /// The phases with their names, in output order.
    pub fn phases(&self) -> [(&'static str, Option<&Phase>); 4] {
        [
            ("readiness", self.readiness.as_ref()),
            ("deployment", self.deployment.as_ref()),
            ("performance", self.performance.as_ref()),
            ("conformance", self.conformance.as_ref()),
        ]
    }
}

/// What an overlay (or the base) contributes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub component_refs: Vec<ComponentRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
}

/// Helm defaults from the component registry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmDefaults {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_repository: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_chart: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_namespace: String,
}

/// Kustomize defaults from the component registry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeDefaults {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_path: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_tag: String,
}

/// Value paths (dotted) where a bundle writes the user's scheduling choices for one node pool.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingPaths {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selector_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub toleration_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taint_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taint_str_paths: Vec<String>,
}

impl SchedulingPaths {
    fn is_empty(&self) -> bool {
        self == &SchedulingPaths::default()
    }
}

/// Where a component takes node selectors, tolerations and the node count (bundles only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeScheduling {
    #[serde(default, skip_serializing_if = "SchedulingPaths::is_empty")]
    pub system: SchedulingPaths,
    #[serde(default, skip_serializing_if = "SchedulingPaths::is_empty")]
    pub accelerated: SchedulingPaths,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_count_paths: Vec<String>,
}

impl NodeScheduling {
    fn is_empty(&self) -> bool {
        self == &NodeScheduling::default()
    }
}

/// Where a component takes the workload selector (bundles only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodScheduling {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workload_selector_paths: Vec<String>,
}

/// A registry entry: names and chart defaults (recipes), and the `--set` aliases and
/// scheduling paths that bundles use.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryEntry {
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<HelmDefaults>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<KustomizeDefaults>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_override_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "NodeScheduling::is_empty")]
    pub node_scheduling: NodeScheduling,
    #[serde(default, skip_serializing_if = "PodScheduling::is_empty")]
    pub pod_scheduling: PodScheduling,
}

impl PodScheduling {
    fn is_empty(&self) -> bool {
        self.workload_selector_paths.is_empty()
    }
}

impl RegistryEntry {
    /// The type a ref gets when it names none: Kustomize exactly when a Kustomize source
    /// is set, as upstream.
    pub fn default_kind(&self) -> &'static str {
        match &self.kustomize {
            Some(k) if !k.default_source.is_empty() => "Kustomize",
            _ => "Helm",
        }
    }
}

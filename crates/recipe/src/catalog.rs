//! The immutable catalog every request resolves against.
//!
//! A [`Catalog`] is built once from [`CatalogParts`] (by the build-time loader, or from the
//! embedded pre-parsed blob). Construction checks everything that can be checked without
//! files: unique overlay names, known parents, no inheritance cycles, canonical criteria
//! (guaranteed by the types), known dependencies, values files present. [`Catalog::check_all_recipes`]
//! goes further and resolves every reachable criteria combination, so a catalog that passes
//! it cannot produce a dependency error at request time.

use crate::criteria::{Accelerator, Criteria, Intent, Os, Platform, Service};
use crate::index::ComponentIndex;
use crate::model::{RegistryEntry, Spec};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// Name, version and content digest of a catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CatalogInfo {
    /// A short name, e.g. `aicr-edge` or `upstream`.
    pub name: String,
    /// The catalog's own version label.
    pub version: String,
    /// Hex SHA-256 over the catalog's source files (path and bytes, sorted by path).
    pub digest: String,
}

/// One overlay: when it applies, what it inherits from, what it contributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overlay {
    pub name: String,
    /// Parent overlay name; empty means the root `base`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent: String,
    /// `None`: never selected directly, only inherited from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criteria: Option<Criteria>,
    pub spec: Spec,
}

/// Everything a catalog is made of, before the cross-checks of [`Catalog::new`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CatalogParts {
    pub info: CatalogInfo,
    pub base: Spec,
    pub overlays: Vec<Overlay>,
    pub registry: Vec<RegistryEntry>,
    /// Parsed values documents, keyed by catalog-relative path
    /// (`components/<name>/values*.yaml`).
    pub values: BTreeMap<String, Value>,
    /// Manifest templates (Helm-style Go templates), keyed by catalog-relative path
    /// (`components/<name>/manifests/*.yaml`). Only bundles read them.
    /// Borrowed when the text is compiled in (the embedded catalog keeps one copy, in
    /// static data, instead of a second decoded one), owned when loaded at run time.
    #[serde(default)]
    pub manifests: BTreeMap<String, Cow<'static, str>>,
}

/// A defect that makes a catalog unusable. `overlay` is `None` for the registry or for
/// a whole-recipe problem; `field` is a dotted path inside the overlay document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogError {
    pub overlay: Option<String>,
    pub field: String,
    pub reason: String,
}

impl CatalogError {
    fn new(overlay: Option<&str>, field: impl Into<String>, reason: impl Into<String>) -> Self {
        CatalogError {
            overlay: overlay.map(str::to_owned),
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.overlay {
            Some(o) => write!(f, "overlay {o:?}, field {}: {}", self.field, self.reason),
            None => write!(f, "{}: {}", self.field, self.reason),
        }
    }
}

impl std::error::Error for CatalogError {}

/// A validated, immutable catalog. Cheap to share; never mutated by a request.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub(crate) parts: CatalogParts,
    /// For each overlay, its inheritance chain as overlay indices, root first, itself last.
    pub(crate) chains: Vec<Vec<usize>>,
    pub(crate) index: ComponentIndex,
}

impl Catalog {
    /// Cross-checks the parts and derives the inheritance chains. Reports every defect
    /// found, not just the first.
    pub fn new(mut parts: CatalogParts) -> Result<Catalog, Vec<CatalogError>> {
        let mut errors = Vec::new();
        parts.overlays.sort_by(|a, b| a.name.cmp(&b.name));
        parts.registry.sort_by(|a, b| a.name.cmp(&b.name));
        for pair in parts.overlays.windows(2) {
            if pair[0].name == pair[1].name {
                errors.push(CatalogError::new(
                    Some(&pair[1].name),
                    "metadata.name",
                    format!(
                        "two overlays are named {:?}; overlay names must be unique",
                        pair[1].name
                    ),
                ));
            }
        }
        for pair in parts.registry.windows(2) {
            if pair[0].name == pair[1].name {
                errors.push(CatalogError::new(
                    None,
                    format!("registry.components[{}]", pair[1].name),
                    "the registry lists this component twice",
                ));
            }
        }
        if parts.overlays.iter().any(|o| o.name == "base") {
            errors.push(CatalogError::new(
                Some("base"),
                "metadata.name",
                "only overlays/base.yaml may be named \"base\"",
            ));
        }
        let chains = derive_chains(&parts.overlays, &mut errors);
        let index = ComponentIndex::new(&parts);
        check_refs(&parts, &index.names, &mut errors);
        if errors.is_empty() {
            Ok(Catalog {
                parts,
                chains,
                index,
            })
        } else {
            Err(errors)
        }
    }

    pub fn info(&self) -> &CatalogInfo {
        &self.parts.info
    }

    pub fn parts(&self) -> &CatalogParts {
        &self.parts
    }

    pub fn base(&self) -> &Spec {
        &self.parts.base
    }

    /// Overlays sorted by name.
    pub fn overlays(&self) -> &[Overlay] {
        &self.parts.overlays
    }

    pub fn overlay(&self, name: &str) -> Option<&Overlay> {
        self.overlay_index(name).map(|i| &self.parts.overlays[i])
    }

    pub(crate) fn overlay_index(&self, name: &str) -> Option<usize> {
        self.parts
            .overlays
            .binary_search_by(|o| o.name.as_str().cmp(name))
            .ok()
    }

    /// Registry entries sorted by name.
    pub fn registry(&self) -> &[RegistryEntry] {
        &self.parts.registry
    }

    pub fn registry_entry(&self, name: &str) -> Option<&RegistryEntry> {
        self.parts
            .registry
            .binary_search_by(|e| e.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.parts.registry[i])
    }

    /// A parsed values document by catalog-relative path.
    pub fn values_file(&self, path: &str) -> Option<&Value> {
        self.parts.values.get(path)
    }

    /// A manifest template's text by catalog-relative path.
    pub fn manifest(&self, path: &str) -> Option<&str> {
        self.parts.manifests.get(path).map(|text| text.as_ref())
    }

    /// Number of distinct components the catalog can put in a recipe.
    pub fn component_count(&self) -> usize {
        self.index.names.len()
    }

    /// Every criteria combination that can select a different set of overlays: the
    /// cross product of the enums, with each node count some overlay asks for (and 0).
    pub fn reachable_criteria(&self) -> Vec<Criteria> {
        let mut node_counts: Vec<u32> = self
            .parts
            .overlays
            .iter()
            .filter_map(|o| o.criteria.map(|c| c.nodes))
            .collect();
        node_counts.push(0);
        node_counts.sort_unstable();
        node_counts.dedup();
        let mut all = Vec::new();
        for &service in Service::ALL {
            for &accelerator in Accelerator::ALL {
                for &intent in Intent::ALL {
                    for &os in Os::ALL {
                        for &platform in Platform::ALL {
                            for &nodes in &node_counts {
                                all.push(Criteria {
                                    service,
                                    accelerator,
                                    intent,
                                    os,
                                    platform,
                                    nodes,
                                });
                            }
                        }
                    }
                }
            }
        }
        all
    }

    /// Resolves every reachable criteria combination and reports the distinct failures
    /// (unknown dependencies, dependency cycles, missing values files at hydration).
    pub fn check_all_recipes(&self) -> Vec<CatalogError> {
        let mut errors: Vec<CatalogError> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for criteria in self.reachable_criteria() {
            let failure = match self.resolve(&criteria) {
                Ok(recipe) => recipe.hydrate_all().err().map(|e| e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(failure) = failure
                && !seen.contains(&failure)
            {
                // No single overlay is at fault; name the combination that fails.
                let overlays: Vec<&str> = std::iter::once(crate::resolve::BASE)
                    .chain(
                        self.merge_order(&criteria)
                            .into_iter()
                            .map(|step| self.parts.overlays[step.overlay].name.as_str()),
                    )
                    .collect();
                errors.push(CatalogError::new(
                    None,
                    format!("recipe for {criteria}"),
                    format!("{failure} (when overlays {} combine)", overlays.join(", ")),
                ));
                seen.push(failure);
            }
        }
        errors
    }
}

fn derive_chains(overlays: &[Overlay], errors: &mut Vec<CatalogError>) -> Vec<Vec<usize>> {
    let index = |name: &str| {
        overlays
            .binary_search_by(|o| o.name.as_str().cmp(name))
            .ok()
    };
    let mut chains = Vec::with_capacity(overlays.len());
    for (i, overlay) in overlays.iter().enumerate() {
        let mut chain = vec![i];
        let mut current = overlay;
        loop {
            let parent = current.parent.as_str();
            if parent.is_empty() || parent == "base" {
                break;
            }
            match index(parent) {
                None => {
                    if std::ptr::eq(current, overlay) {
                        errors.push(CatalogError::new(
                            Some(&overlay.name),
                            "spec.base",
                            format!("names overlay {parent:?}, which the catalog does not have"),
                        ));
                    }
                    break;
                }
                Some(p) if chain.contains(&p) => {
                    if p == i {
                        // `chain` is the overlay, its parent, its grandparent, ...
                        let names: Vec<&str> = chain
                            .iter()
                            .chain(std::iter::once(&p))
                            .map(|&k| overlays[k].name.as_str())
                            .collect();
                        errors.push(CatalogError::new(
                            Some(&overlay.name),
                            "spec.base",
                            format!("inheritance cycle: {}", names.join(" -> ")),
                        ));
                    }
                    break;
                }
                Some(p) => {
                    chain.push(p);
                    current = &overlays[p];
                }
            }
        }
        chain.reverse();
        chains.push(chain);
    }
    chains
}

fn check_refs(parts: &CatalogParts, known: &[String], errors: &mut Vec<CatalogError>) {
    let specs = std::iter::once(("base", &parts.base))
        .chain(parts.overlays.iter().map(|o| (o.name.as_str(), &o.spec)));
    for (overlay, spec) in specs {
        let mut seen: Vec<&str> = Vec::new();
        for (i, r) in spec.component_refs.iter().enumerate() {
            let at = |field: &str| format!("spec.componentRefs[{i}].{field}");
            if r.name.is_empty() {
                errors.push(CatalogError::new(Some(overlay), at("name"), "is empty"));
            }
            if seen.contains(&r.name.as_str()) {
                errors.push(CatalogError::new(
                    Some(overlay),
                    at("name"),
                    format!("component {:?} is listed twice in this overlay", r.name),
                ));
            }
            seen.push(&r.name);
            if !matches!(r.kind.as_str(), "" | "Helm" | "Kustomize") {
                errors.push(CatalogError::new(
                    Some(overlay),
                    at("type"),
                    format!(
                        "{:?} is not a component type; use Helm or Kustomize",
                        r.kind
                    ),
                ));
            }
            for dep in &r.dependency_refs {
                if known.binary_search(dep).is_err() {
                    errors.push(CatalogError::new(
                        Some(overlay),
                        at("dependencyRefs"),
                        format!(
                            "component {:?} depends on {dep:?}, which no overlay or base defines",
                            r.name
                        ),
                    ));
                }
            }
            if !r.values_file.is_empty() && !parts.values.contains_key(&r.values_file) {
                errors.push(CatalogError::new(
                    Some(overlay),
                    at("valuesFile"),
                    format!(
                        "values file {:?} does not exist in the catalog",
                        r.values_file
                    ),
                ));
            }
        }
        let mut names: Vec<&str> = spec.constraints.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|p| p[0] == p[1]) {
            errors.push(CatalogError::new(
                Some(overlay),
                "spec.constraints",
                format!("constraint {:?} is listed twice", pair[0]),
            ));
        }
    }
}

//! Component names interned to small ids when a catalog is built, so resolving compares
//! integers instead of strings: ids follow name order, so "sorted by id" is "sorted by
//! name" (upstream's output order) for free.

use crate::catalog::CatalogParts;
use crate::model::Spec;

/// Derived from [`CatalogParts`]; never serialised.
#[derive(Debug, Clone, Default)]
pub(crate) struct ComponentIndex {
    /// Every component name any spec mentions, sorted; the id is the position.
    pub names: Vec<String>,
    /// `[spec][ref]` → id of the ref's component. Spec 0 is the base, spec `i + 1` overlay `i`.
    pub ref_ids: Vec<Vec<u16>>,
    /// `[spec][ref]` → ids of the ref's `dependencyRefs` (names no spec defines are left
    /// out; `Catalog::new` reports them as defects).
    pub dep_ids: Vec<Vec<Vec<u16>>>,
    /// `[id]` → index of the component's registry entry.
    pub registry: Vec<Option<usize>>,
}

impl ComponentIndex {
    pub fn new(parts: &CatalogParts) -> ComponentIndex {
        let specs: Vec<&Spec> = std::iter::once(&parts.base)
            .chain(parts.overlays.iter().map(|o| &o.spec))
            .collect();
        let mut names: Vec<String> = specs
            .iter()
            .flat_map(|s| s.component_refs.iter().map(|r| r.name.clone()))
            .collect();
        names.sort_unstable();
        names.dedup();
        let id = |name: &str| {
            names
                .binary_search_by(|n| n.as_str().cmp(name))
                .ok()
                .map(|i| i as u16)
        };
        let ref_ids = specs
            .iter()
            .map(|s| {
                s.component_refs
                    .iter()
                    .map(|r| id(&r.name).expect("every ref's name is interned"))
                    .collect()
            })
            .collect();
        let dep_ids = specs
            .iter()
            .map(|s| {
                s.component_refs
                    .iter()
                    .map(|r| r.dependency_refs.iter().filter_map(|d| id(d)).collect())
                    .collect()
            })
            .collect();
        let registry = names
            .iter()
            .map(|n| {
                parts
                    .registry
                    .binary_search_by(|e| e.name.as_str().cmp(n))
                    .ok()
            })
            .collect();
        ComponentIndex {
            names,
            ref_ids,
            dep_ids,
            registry,
        }
    }
}

//! Criteria → recipe: select overlays, expand inheritance chains, merge, check
//! dependencies, order the deployment, fill registry defaults.
//!
//! The result borrows every string and value from the catalog: resolving allocates only
//! the small vectors that hold the merged view, and no request can change the catalog
//! (upstream's shared-mutable-state bug cannot happen here).

use crate::catalog::Catalog;
use crate::criteria::Criteria;
use crate::model::{ComponentRef, Constraint, ExpectedResource, Phase, Spec};
use crate::provenance::RefField;
use serde_json::Value;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;

/// The name `appliedOverlays` uses for the root spec.
pub const BASE: &str = "base";
/// The `version_from` of a field filled in from the component registry.
pub const REGISTRY: &str = "registry";

/// What the merge reports as it sets fields, for per-field provenance
/// ([`crate::provenance`]). Every method defaults to doing nothing, and `()` is the
/// observer [`Catalog::resolve`] passes: the calls compile away, so a plain resolve pays
/// nothing for provenance.
pub(crate) trait Observer<'c> {
    /// `overlay` gave component `id` a value for `field`.
    fn field(&mut self, _id: u16, _field: RefField, _overlay: &'c str) {}
    /// `overlay` set top-level override `key` of component `id`.
    fn override_key(&mut self, _id: u16, _key: &'c str, _overlay: &'c str) {}
    /// `overlay` added `file` to component `id`'s `manifestFiles` (first listing only).
    fn manifest_file(&mut self, _id: u16, _file: &'c str, _overlay: &'c str) {}
    /// The registry entry's `key` filled `field` of component `id`.
    fn registry(&mut self, _id: u16, _field: RefField, _key: &'static str) {}
    /// `overlay` set constraint `name` (the whole entry).
    fn constraint(&mut self, _name: &'c str, _overlay: &'c str) {}
    /// `overlay` set validation phase `phase` (the whole phase).
    fn phase(&mut self, _phase: &'static str, _overlay: &'c str) {}
}

impl Observer<'_> for () {}

/// A constraint in a recipe and the overlay that set it (provenance).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolvedConstraint<'c> {
    pub constraint: &'c Constraint,
    pub set_by: &'c str,
}

/// A validation phase in a recipe and the overlay that set it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolvedPhase<'c> {
    pub name: &'static str,
    pub phase: &'c Phase,
    pub set_by: &'c str,
}

/// A merged component reference; strings and values borrowed from the catalog.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResolvedComponent<'c> {
    pub name: &'c str,
    pub namespace: &'c str,
    pub chart: &'c str,
    /// `Helm` or `Kustomize` (or empty for a component the registry does not know).
    pub kind: &'c str,
    pub source: &'c str,
    pub version: &'c str,
    pub tag: &'c str,
    pub values_file: &'c str,
    /// Top-level override keys, sorted; each value replaces the inherited one whole.
    pub overrides: Vec<(&'c str, &'c Value)>,
    pub patches: &'c [String],
    pub dependency_refs: &'c [String],
    pub manifest_files: Vec<&'c str>,
    pub path: &'c str,
    pub cleanup: bool,
    pub expected_resources: &'c [ExpectedResource],
    pub health_check_asserts: &'c str,
    /// Provenance: the overlays that declared or changed this component, in merge order.
    pub touched_by: Vec<&'c str>,
    /// Provenance: the overlay that set `version`, or [`REGISTRY`], or empty.
    pub version_from: &'c str,
    /// Interned id (name order) and the ids of `dependency_refs`.
    pub(crate) id: u16,
    pub(crate) dependency_ids: &'c [u16],
}

impl<'c> ResolvedComponent<'c> {
    /// `false` when `overrides.enabled` is the boolean `false` (the bundler skips it; it
    /// still stays in the recipe and the deployment order).
    pub fn enabled(&self) -> bool {
        !self
            .overrides
            .iter()
            .any(|(k, v)| *k == "enabled" && **v == Value::Bool(false))
    }

    fn merge<O: Observer<'c>>(
        &mut self,
        r: &'c ComponentRef,
        dependency_ids: &'c [u16],
        overlay: &'c str,
        observer: &mut O,
    ) {
        let id = self.id;
        let mut set = |slot: &mut &'c str, incoming: &'c str, field: RefField| {
            let set = !incoming.is_empty();
            if set {
                *slot = incoming;
                observer.field(id, field, overlay);
            }
            set
        };
        set(&mut self.namespace, &r.namespace, RefField::Namespace);
        set(&mut self.chart, &r.chart, RefField::Chart);
        set(&mut self.kind, &r.kind, RefField::Type);
        set(&mut self.source, &r.source, RefField::Source);
        if set(&mut self.version, &r.version, RefField::Version) {
            self.version_from = overlay;
        }
        set(&mut self.tag, &r.tag, RefField::Tag);
        set(&mut self.values_file, &r.values_file, RefField::ValuesFile);
        set(&mut self.path, &r.path, RefField::Path);
        set(
            &mut self.health_check_asserts,
            &r.health_check_asserts,
            RefField::HealthCheckAsserts,
        );
        if r.cleanup {
            self.cleanup = true;
            observer.field(id, RefField::Cleanup, overlay);
        }
        for (key, value) in &r.overrides {
            match self
                .overrides
                .binary_search_by(|(k, _)| (*k).cmp(key.as_str()))
            {
                Ok(i) => self.overrides[i].1 = value,
                Err(i) => self.overrides.insert(i, (key.as_str(), value)),
            }
            observer.override_key(id, key, overlay);
        }
        if !r.patches.is_empty() {
            self.patches = &r.patches;
            observer.field(id, RefField::Patches, overlay);
        }
        if !r.dependency_refs.is_empty() {
            self.dependency_refs = &r.dependency_refs;
            self.dependency_ids = dependency_ids;
            observer.field(id, RefField::DependencyRefs, overlay);
        }
        if !r.expected_resources.is_empty() {
            self.expected_resources = &r.expected_resources;
            observer.field(id, RefField::ExpectedResources, overlay);
        }
        for file in &r.manifest_files {
            if !self.manifest_files.contains(&file.as_str()) {
                self.manifest_files.push(file);
                observer.manifest_file(id, file, overlay);
            }
        }
        self.touched_by.push(overlay);
    }

    fn apply_registry_defaults<O: Observer<'c>>(&mut self, catalog: &'c Catalog, observer: &mut O) {
        let Some(entry) =
            catalog.index.registry[usize::from(self.id)].map(|i| &catalog.parts.registry[i])
        else {
            return;
        };
        let id = self.id;
        if self.kind.is_empty() {
            self.kind = entry.default_kind();
            // Kustomize exactly when the entry names a Kustomize source, else Helm.
            observer.registry(id, RefField::Type, "kustomize.defaultSource");
        }
        let mut fill =
            |slot: &mut &'c str, default: &'c str, field: RefField, key: &'static str| {
                let fill = slot.is_empty() && !default.is_empty();
                if fill {
                    *slot = default;
                    observer.registry(id, field, key);
                }
                fill
            };
        match self.kind {
            "Helm" => {
                if let Some(helm) = &entry.helm {
                    fill(
                        &mut self.source,
                        &helm.default_repository,
                        RefField::Source,
                        "helm.defaultRepository",
                    );
                    if fill(
                        &mut self.version,
                        &helm.default_version,
                        RefField::Version,
                        "helm.defaultVersion",
                    ) {
                        self.version_from = REGISTRY;
                    }
                    fill(
                        &mut self.namespace,
                        &helm.default_namespace,
                        RefField::Namespace,
                        "helm.defaultNamespace",
                    );
                    let chart = helm.default_chart.as_str();
                    fill(
                        &mut self.chart,
                        chart.rsplit('/').next().unwrap_or(chart),
                        RefField::Chart,
                        "helm.defaultChart",
                    );
                }
            }
            "Kustomize" => {
                if let Some(k) = &entry.kustomize {
                    fill(
                        &mut self.source,
                        &k.default_source,
                        RefField::Source,
                        "kustomize.defaultSource",
                    );
                    fill(
                        &mut self.tag,
                        &k.default_tag,
                        RefField::Tag,
                        "kustomize.defaultTag",
                    );
                    fill(
                        &mut self.path,
                        &k.default_path,
                        RefField::Path,
                        "kustomize.defaultPath",
                    );
                }
            }
            _ => {}
        }
    }
}

/// A resolved recipe. Serialise it with [`crate::output`] for the upstream
/// `RecipeResult` document, or hydrate it for `/v1/query`.
#[derive(Debug, Clone)]
pub struct Recipe<'c> {
    pub catalog: &'c Catalog,
    pub criteria: Criteria,
    /// Merge order, starting with `base`.
    pub applied_overlays: Vec<&'c str>,
    /// Sorted by name.
    pub constraints: Vec<ResolvedConstraint<'c>>,
    /// Sorted by name.
    pub components: Vec<ResolvedComponent<'c>>,
    /// Indices into `components`: the lexicographically smallest topological order.
    pub deployment_order: Vec<usize>,
    /// Present phases, in the order readiness, deployment, performance, conformance.
    pub validation: Vec<ResolvedPhase<'c>>,
}

impl<'c> Recipe<'c> {
    pub fn component(&self, name: &str) -> Option<&ResolvedComponent<'c>> {
        self.components
            .binary_search_by(|c| c.name.cmp(name))
            .ok()
            .map(|i| &self.components[i])
    }

    /// Component names in deployment order.
    pub fn deployment_order_names(&self) -> impl Iterator<Item = &'c str> + '_ {
        self.deployment_order
            .iter()
            .map(|&i| self.components[i].name)
    }
}

/// Why a recipe could not be built. With a catalog that passed
/// [`Catalog::check_all_recipes`] none of these can happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    UnknownDependency {
        component: String,
        dependency: String,
    },
    DependencyCycle {
        path: Vec<String>,
    },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::UnknownDependency {
                component,
                dependency,
            } => write!(
                f,
                "component {component:?} depends on {dependency:?}, which is not in the recipe"
            ),
            ResolveError::DependencyCycle { path } => {
                write!(f, "dependency cycle: {}", path.join(" -> "))
            }
        }
    }
}

impl std::error::Error for ResolveError {}

/// One overlay merged for a query: its index, and the index of the matching overlay whose
/// inheritance chain brought it in (itself when it was merged as a match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MergeStep {
    pub overlay: usize,
    pub selected: usize,
}

struct Working<'c> {
    catalog: &'c Catalog,
    constraints: Vec<ResolvedConstraint<'c>>,
    /// Indexed by component id; `None` until some spec mentions the component.
    components: Vec<Option<ResolvedComponent<'c>>>,
    validation: [Option<(&'c Phase, &'c str)>; 4],
}

impl<'c> Working<'c> {
    /// Merges spec number `spec_index` (0 = base, `i + 1` = overlay `i`).
    fn merge<O: Observer<'c>>(
        &mut self,
        spec: &'c Spec,
        spec_index: usize,
        overlay: &'c str,
        observer: &mut O,
    ) {
        for c in &spec.constraints {
            observer.constraint(&c.name, overlay);
            let entry = ResolvedConstraint {
                constraint: c,
                set_by: overlay,
            };
            match self
                .constraints
                .binary_search_by(|x| x.constraint.name.as_str().cmp(&c.name))
            {
                Ok(i) => self.constraints[i] = entry,
                Err(i) => self.constraints.insert(i, entry),
            }
        }
        let index = &self.catalog.index;
        let ids = &index.ref_ids[spec_index];
        let deps = &index.dep_ids[spec_index];
        for ((r, &id), dep_ids) in spec.component_refs.iter().zip(ids).zip(deps) {
            let slot = &mut self.components[usize::from(id)];
            let component = slot.get_or_insert_with(|| ResolvedComponent {
                name: &r.name,
                id,
                ..Default::default()
            });
            component.merge(r, dep_ids, overlay, observer);
        }
        if let Some(v) = &spec.validation {
            for (slot, (name, phase)) in self.validation.iter_mut().zip(v.phases()) {
                if let Some(phase) = phase {
                    *slot = Some((phase, overlay));
                    observer.phase(name, overlay);
                }
            }
        }
    }
}

impl Catalog {
    /// The overlays a query selects, in merge order (before chain expansion): by
    /// specificity, then by name.
    pub fn matching_overlays(&self, criteria: &Criteria) -> Vec<usize> {
        let mut matched: Vec<(usize, usize)> = self
            .parts
            .overlays
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                let c = o.criteria.as_ref()?;
                c.admits(criteria).then(|| (c.specificity(), i))
            })
            .collect();
        // Overlays are sorted by name, so (specificity, index) breaks ties by name.
        matched.sort_unstable();
        matched.into_iter().map(|(_, i)| i).collect()
    }

    /// The overlays a query merges after `base`, in merge order: each matching overlay's
    /// inheritance chain (root first), every overlay once.
    pub(crate) fn merge_order(&self, criteria: &Criteria) -> Vec<MergeStep> {
        let mut applied = vec![false; self.parts.overlays.len()];
        let mut order = Vec::new();
        for selected in self.matching_overlays(criteria) {
            for &member in &self.chains[selected] {
                if !applied[member] {
                    applied[member] = true;
                    order.push(MergeStep {
                        overlay: member,
                        selected,
                    });
                }
            }
        }
        order
    }

    /// Builds the recipe for normalised criteria.
    pub fn resolve(&self, criteria: &Criteria) -> Result<Recipe<'_>, ResolveError> {
        self.resolve_observed(criteria, &mut ())
    }

    /// [`Catalog::resolve`], reporting every field the merge sets to `observer`.
    pub(crate) fn resolve_observed<'c, O: Observer<'c>>(
        &'c self,
        criteria: &Criteria,
        observer: &mut O,
    ) -> Result<Recipe<'c>, ResolveError> {
        let overlays = &self.parts.overlays;
        let mut applied_overlays = vec![BASE];
        let mut working = Working {
            catalog: self,
            constraints: Vec::with_capacity(8),
            components: vec![None; self.index.names.len()],
            validation: [None; 4],
        };
        working.merge(&self.parts.base, 0, BASE, observer);
        for step in self.merge_order(criteria) {
            let overlay = &overlays[step.overlay];
            applied_overlays.push(&overlay.name);
            working.merge(&overlay.spec, step.overlay + 1, &overlay.name, observer);
        }
        let Working {
            constraints,
            components,
            validation,
            ..
        } = working;
        // Position of each component id in the recipe (u16::MAX: not in this recipe).
        let mut position = vec![u16::MAX; components.len()];
        let mut components: Vec<ResolvedComponent<'_>> = components.into_iter().flatten().collect();
        for (i, c) in components.iter().enumerate() {
            position[usize::from(c.id)] = i as u16;
        }
        check_dependencies(&components, &position)?;
        let deployment_order = deployment_order(&components, &position);
        for c in &mut components {
            c.apply_registry_defaults(self, observer);
        }
        let names = ["readiness", "deployment", "performance", "conformance"];
        let validation = names
            .into_iter()
            .zip(validation)
            .filter_map(|(name, slot)| {
                slot.map(|(phase, set_by)| ResolvedPhase {
                    name,
                    phase,
                    set_by,
                })
            })
            .collect();
        Ok(Recipe {
            catalog: self,
            criteria: *criteria,
            applied_overlays,
            constraints,
            components,
            deployment_order,
            validation,
        })
    }
}

fn check_dependencies(
    components: &[ResolvedComponent<'_>],
    position: &[u16],
) -> Result<(), ResolveError> {
    for c in components {
        let all_present = c.dependency_ids.len() == c.dependency_refs.len()
            && c.dependency_ids
                .iter()
                .all(|&d| position[usize::from(d)] != u16::MAX);
        if !all_present {
            let missing = c
                .dependency_refs
                .iter()
                .find(|d| !components.iter().any(|x| x.name == d.as_str()));
            return Err(ResolveError::UnknownDependency {
                component: c.name.to_owned(),
                dependency: missing.cloned().unwrap_or_default(),
            });
        }
    }
    // Depth-first search in name order; 0 = unvisited, 1 = on the path, 2 = done.
    let mut state = vec![0u8; components.len()];
    let mut path = Vec::new();
    fn visit(
        i: usize,
        components: &[ResolvedComponent<'_>],
        position: &[u16],
        state: &mut [u8],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[i] = 1;
        path.push(i);
        for &dep in components[i].dependency_ids {
            let j = usize::from(position[usize::from(dep)]);
            if state[j] == 1 {
                let start = path.iter().position(|&k| k == j).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(j);
                return Some(cycle);
            }
            if state[j] == 0
                && let Some(cycle) = visit(j, components, position, state, path)
            {
                return Some(cycle);
            }
        }
        path.pop();
        state[i] = 2;
        None
    }
    for i in 0..components.len() {
        if state[i] == 0
            && let Some(cycle) = visit(i, components, position, &mut state, &mut path)
        {
            return Err(ResolveError::DependencyCycle {
                path: cycle
                    .iter()
                    .map(|&k| components[k].name.to_owned())
                    .collect(),
            });
        }
    }
    Ok(())
}

/// Kahn's algorithm with the ready set ordered by name: the lexicographically smallest
/// topological order, as upstream. Components are sorted by name, so index order is
/// name order. Every dependency is in the recipe (checked before).
fn deployment_order(components: &[ResolvedComponent<'_>], position: &[u16]) -> Vec<usize> {
    let n = components.len();
    let mut in_degree: Vec<usize> = components.iter().map(|c| c.dependency_ids.len()).collect();
    // Dependents of each component as one flat list (offsets + entries).
    let mut offsets = vec![0usize; n + 1];
    for c in components {
        for &dep in c.dependency_ids {
            offsets[usize::from(position[usize::from(dep)]) + 1] += 1;
        }
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    let mut fill = offsets.clone();
    let mut dependents = vec![0usize; offsets[n]];
    for (i, c) in components.iter().enumerate() {
        for &dep in c.dependency_ids {
            let j = usize::from(position[usize::from(dep)]);
            dependents[fill[j]] = i;
            fill[j] += 1;
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| in_degree[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &d in &dependents[offsets[i]..offsets[i + 1]] {
            in_degree[d] -= 1;
            if in_degree[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    order
}

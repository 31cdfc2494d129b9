//! Per-field provenance: which overlay (or the component registry) set each field of a
//! recipe's component references, constraints and validation phases.
//!
//! A recipe is the merge of up to a dozen overlay documents plus registry defaults, and
//! "where does this version come from, and what did it replace?" is the first question
//! anyone reviewing or debugging one asks. Upstream answers it only by reading the
//! overlays in merge order by hand (NVIDIA/aicr#2270 asks for the ownership model to be
//! explained). Here the merge itself reports each field it sets: [`Catalog::resolve`]
//! passes an observer that ignores the reports and compiles to nothing, so the plain path
//! (everything `/v1` does) costs what it did; [`Catalog::resolve_with_provenance`] passes
//! a recorder and turns what it heard into [`Provenance`], keyed by RFC 6901 JSON Pointers
//! into the `RecipeResult` document (see [`crate::output`]), so a client can look a field
//! up by the same path it reads the value at.

use crate::catalog::Catalog;
use crate::criteria::Criteria;
use crate::output::CriteriaDoc;
use crate::pointer::escape;
use crate::resolve::{BASE, Observer, Recipe, ResolveError};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// A field of a component reference whose setter is recorded, in `RecipeResult` order.
/// `name` is not among them (the component entry itself says who added it), nor are
/// `overrides` and `manifestFiles`, which are recorded per key and per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefField {
    Namespace,
    Chart,
    Type,
    Source,
    Version,
    Tag,
    ValuesFile,
    Patches,
    DependencyRefs,
    Path,
    Cleanup,
    ExpectedResources,
    HealthCheckAsserts,
}

impl RefField {
    /// Every field, in document order.
    pub const ALL: [RefField; 13] = [
        RefField::Namespace,
        RefField::Chart,
        RefField::Type,
        RefField::Source,
        RefField::Version,
        RefField::Tag,
        RefField::ValuesFile,
        RefField::Patches,
        RefField::DependencyRefs,
        RefField::Path,
        RefField::Cleanup,
        RefField::ExpectedResources,
        RefField::HealthCheckAsserts,
    ];

    /// The field's name in the `RecipeResult` document.
    pub fn as_str(self) -> &'static str {
        match self {
            RefField::Namespace => "namespace",
            RefField::Chart => "chart",
            RefField::Type => "type",
            RefField::Source => "source",
            RefField::Version => "version",
            RefField::Tag => "tag",
            RefField::ValuesFile => "valuesFile",
            RefField::Patches => "patches",
            RefField::DependencyRefs => "dependencyRefs",
            RefField::Path => "path",
            RefField::Cleanup => "cleanup",
            RefField::ExpectedResources => "expectedResources",
            RefField::HealthCheckAsserts => "healthCheckAsserts",
        }
    }
}

/// Who supplied a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'c> {
    /// An overlay, by `metadata.name` (`base` for the root recipe).
    Overlay(&'c str),
    /// The component's registry entry; the key in it, e.g. `helm.defaultVersion`.
    Registry(&'static str),
}

/// The origin of one value in the recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin<'c> {
    pub source: Source<'c>,
    /// Overlays that set this field earlier in merge order; the value shown replaced theirs.
    pub overridden: Vec<&'c str>,
    /// For a whole component reference only: every overlay that merged an entry for it,
    /// in merge order (`source` is the first of them, the one that added it).
    pub merged_by: Vec<&'c str>,
}

impl<'c> Origin<'c> {
    fn overlay(name: &'c str) -> Origin<'c> {
        Origin {
            source: Source::Overlay(name),
            overridden: Vec::new(),
            merged_by: Vec::new(),
        }
    }

    /// The last of `writers` (merge order) set the value; the others were overridden.
    fn last_of(writers: &[&'c str]) -> Option<Origin<'c>> {
        let (last, earlier) = writers.split_last()?;
        Some(Origin {
            overridden: earlier.to_vec(),
            ..Origin::overlay(last)
        })
    }
}

/// Why an overlay is in a recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied<'c> {
    /// The root recipe, always applied first.
    Base,
    /// Its own criteria admit the request.
    Matched,
    /// Its criteria do not admit the request (or it has none): it is an ancestor
    /// (`spec.base`) of `via`, a matching overlay, and chains are merged whole.
    Inherited { via: &'c str },
}

/// One overlay of `metadata.appliedOverlays`, with what made it apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedOverlay<'c> {
    pub name: &'c str,
    /// The overlay it inherits from (`base` for a root overlay); `None` for `base`.
    pub parent: Option<&'c str>,
    /// Its own criteria; `None` for `base` and for overlays that are only inherited from.
    pub criteria: Option<&'c Criteria>,
    pub applied: Applied<'c>,
}

/// The provenance of one recipe: the overlays in merge order and the origin of every
/// field of its component references, constraints and validation phases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance<'c> {
    /// As `metadata.appliedOverlays`: merge order, `base` first.
    pub overlays: Vec<AppliedOverlay<'c>>,
    /// JSON Pointer into the `RecipeResult` document → origin, in document order. Keys:
    /// `/constraints/{i}` and `/validation/{phase}` (replaced whole by a merge, so the
    /// entry is about the whole value), `/componentRefs/{i}` (the component: who added it,
    /// who merged into it), `/componentRefs/{i}/{field}` for each present field of
    /// [`RefField`], `/componentRefs/{i}/overrides/{key}` per top-level override key (the
    /// unit overlays merge overrides in), and `/componentRefs/{i}/manifestFiles/{j}` (the
    /// overlay that first listed the file; the list is additive).
    pub fields: Vec<(String, Origin<'c>)>,
}

/// Everything the merge reported for one component.
#[derive(Debug, Clone, Default)]
struct ComponentTrace<'c> {
    /// Per [`RefField`] (by position in [`RefField::ALL`]): the overlays that set it.
    fields: [Vec<&'c str>; RefField::ALL.len()],
    /// Per [`RefField`]: the registry key that filled it.
    registry: [Option<&'static str>; RefField::ALL.len()],
    /// Override key → the overlays that set it, in merge order.
    overrides: BTreeMap<&'c str, Vec<&'c str>>,
    /// Manifest file → the overlay that added it.
    manifest_files: BTreeMap<&'c str, &'c str>,
}

/// The observer that records, for [`Catalog::resolve_with_provenance`].
#[derive(Debug, Default)]
struct Recorder<'c> {
    /// By component id.
    components: Vec<ComponentTrace<'c>>,
    /// Constraint name → the overlays that set it.
    constraints: BTreeMap<&'c str, Vec<&'c str>>,
    /// Validation phase name → the overlays that set it.
    phases: BTreeMap<&'static str, Vec<&'c str>>,
}

impl<'c> Recorder<'c> {
    fn component(&mut self, id: u16) -> &mut ComponentTrace<'c> {
        let id = usize::from(id);
        if self.components.len() <= id {
            self.components.resize_with(id + 1, ComponentTrace::default);
        }
        &mut self.components[id]
    }
}

/// The slot of `field` in the per-field arrays: its declaration order, which
/// [`RefField::ALL`] follows.
fn position(field: RefField) -> usize {
    field as usize
}

impl<'c> Observer<'c> for Recorder<'c> {
    fn field(&mut self, id: u16, field: RefField, overlay: &'c str) {
        self.component(id).fields[position(field)].push(overlay);
    }

    fn override_key(&mut self, id: u16, key: &'c str, overlay: &'c str) {
        let trace = self.component(id);
        trace.overrides.entry(key).or_default().push(overlay);
    }

    fn manifest_file(&mut self, id: u16, file: &'c str, overlay: &'c str) {
        self.component(id).manifest_files.insert(file, overlay);
    }

    fn registry(&mut self, id: u16, field: RefField, key: &'static str) {
        self.component(id).registry[position(field)] = Some(key);
    }

    fn constraint(&mut self, name: &'c str, overlay: &'c str) {
        self.constraints.entry(name).or_default().push(overlay);
    }

    fn phase(&mut self, phase: &'static str, overlay: &'c str) {
        self.phases.entry(phase).or_default().push(overlay);
    }
}

/// Whether a component field is in the `RecipeResult` document (where `type` and `source`
/// always are, an empty `type` or `source` has no setter to name).
fn present(field: RefField, c: &crate::resolve::ResolvedComponent<'_>) -> bool {
    match field {
        RefField::Namespace => !c.namespace.is_empty(),
        RefField::Chart => !c.chart.is_empty(),
        RefField::Type => !c.kind.is_empty(),
        RefField::Source => !c.source.is_empty(),
        RefField::Version => !c.version.is_empty(),
        RefField::Tag => !c.tag.is_empty(),
        RefField::ValuesFile => !c.values_file.is_empty(),
        RefField::Patches => !c.patches.is_empty(),
        RefField::DependencyRefs => !c.dependency_refs.is_empty(),
        RefField::Path => !c.path.is_empty(),
        RefField::Cleanup => c.cleanup,
        RefField::ExpectedResources => !c.expected_resources.is_empty(),
        RefField::HealthCheckAsserts => !c.health_check_asserts.is_empty(),
    }
}

impl Catalog {
    /// [`Catalog::resolve`], plus where every field of the recipe came from. The recipe is
    /// the very one `resolve` builds; only the recording is extra.
    pub fn resolve_with_provenance(
        &self,
        criteria: &Criteria,
    ) -> Result<(Recipe<'_>, Provenance<'_>), ResolveError> {
        let mut recorder = Recorder::default();
        let recipe = self.resolve_observed(criteria, &mut recorder)?;
        let provenance = Provenance {
            overlays: self.applied(criteria),
            fields: fields(&recipe, &recorder),
        };
        Ok((recipe, provenance))
    }

    fn applied(&self, criteria: &Criteria) -> Vec<AppliedOverlay<'_>> {
        let overlays = &self.parts.overlays;
        let base = AppliedOverlay {
            name: BASE,
            parent: None,
            criteria: None,
            applied: Applied::Base,
        };
        let merged = self.merge_order(criteria).into_iter().map(|step| {
            let overlay = &overlays[step.overlay];
            let matched = overlay.criteria.is_some_and(|c| c.admits(criteria));
            AppliedOverlay {
                name: &overlay.name,
                parent: Some(if overlay.parent.is_empty() {
                    BASE
                } else {
                    &overlay.parent
                }),
                criteria: overlay.criteria.as_ref(),
                applied: if matched {
                    Applied::Matched
                } else {
                    Applied::Inherited {
                        via: &overlays[step.selected].name,
                    }
                },
            }
        });
        std::iter::once(base).chain(merged).collect()
    }
}

/// The pointer-keyed origins of a recipe, in document order.
fn fields<'c>(recipe: &Recipe<'c>, recorder: &Recorder<'c>) -> Vec<(String, Origin<'c>)> {
    let mut out = Vec::new();
    for (i, c) in recipe.constraints.iter().enumerate() {
        let writers = recorder.constraints.get(c.constraint.name.as_str());
        if let Some(origin) = writers.and_then(|w| Origin::last_of(w)) {
            out.push((format!("/constraints/{i}"), origin));
        }
    }
    let empty = ComponentTrace::default();
    for (i, c) in recipe.components.iter().enumerate() {
        let at = format!("/componentRefs/{i}");
        let trace = recorder.components.get(usize::from(c.id)).unwrap_or(&empty);
        if let Some(first) = c.touched_by.first() {
            let origin = Origin {
                merged_by: c.touched_by.clone(),
                ..Origin::overlay(first)
            };
            out.push((at.clone(), origin));
        }
        for field in RefField::ALL {
            if field == RefField::Patches {
                // `overrides` comes before `patches` in the document.
                for (key, writers) in &trace.overrides {
                    if let Some(origin) = Origin::last_of(writers) {
                        out.push((format!("{at}/overrides/{}", escape(key)), origin));
                    }
                }
            }
            if field == RefField::Path {
                // ... and `manifestFiles` before `path`.
                for (j, file) in c.manifest_files.iter().enumerate() {
                    if let Some(adder) = trace.manifest_files.get(file) {
                        out.push((format!("{at}/manifestFiles/{j}"), Origin::overlay(adder)));
                    }
                }
            }
            if !present(field, c) {
                continue;
            }
            let writers = &trace.fields[position(field)];
            let origin = match trace.registry[position(field)] {
                // A registry default fills only a field no overlay set.
                Some(key) => Some(Origin {
                    source: Source::Registry(key),
                    overridden: Vec::new(),
                    merged_by: Vec::new(),
                }),
                None => Origin::last_of(writers),
            };
            if let Some(origin) = origin {
                out.push((format!("{at}/{}", field.as_str()), origin));
            }
        }
    }
    for phase in &recipe.validation {
        let writers = recorder.phases.get(phase.name);
        if let Some(origin) = writers.and_then(|w| Origin::last_of(w)) {
            out.push((format!("/validation/{}", phase.name), origin));
        }
    }
    out
}

impl Serialize for Origin<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self.source {
            Source::Overlay(name) => {
                m.serialize_entry("source", "overlay")?;
                m.serialize_entry("overlay", name)?;
            }
            Source::Registry(key) => {
                m.serialize_entry("source", "registry")?;
                m.serialize_entry("registryKey", key)?;
            }
        }
        if !self.overridden.is_empty() {
            m.serialize_entry("overridden", &self.overridden)?;
        }
        if !self.merged_by.is_empty() {
            m.serialize_entry("mergedBy", &self.merged_by)?;
        }
        m.end()
    }
}

impl Serialize for AppliedOverlay<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", self.name)?;
        if let Some(parent) = self.parent {
            m.serialize_entry("parent", parent)?;
        }
        if let Some(criteria) = self.criteria {
            m.serialize_entry("criteria", &CriteriaDoc(criteria))?;
        }
        match self.applied {
            Applied::Base => m.serialize_entry("applied", "base")?,
            Applied::Matched => m.serialize_entry("applied", "matched")?,
            Applied::Inherited { via } => {
                m.serialize_entry("applied", "inherited")?;
                m.serialize_entry("via", via)?;
            }
        }
        m.end()
    }
}

struct Fields<'a, 'c>(&'a [(String, Origin<'c>)]);

impl Serialize for Fields<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (pointer, origin) in self.0 {
            m.serialize_entry(pointer, origin)?;
        }
        m.end()
    }
}

/// `{overlays: [...], fields: {pointer: origin}}`.
impl Serialize for Provenance<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("overlays", &self.overlays)?;
        m.serialize_entry("fields", &Fields(&self.fields))?;
        m.end()
    }
}

/// The `RecipeResult` document with a `provenance` member after its own (the `/v2/recipe`
/// answer). Every pointer in `provenance.fields` resolves in this same document.
pub struct WithProvenance<'a, 'c> {
    pub recipe: &'a Recipe<'c>,
    pub provenance: &'a Provenance<'c>,
}

impl Serialize for WithProvenance<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        self.recipe.serialize_entries(&mut m)?;
        m.serialize_entry("provenance", self.provenance)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_the_fields_in_declaration_order() {
        for (i, field) in RefField::ALL.into_iter().enumerate() {
            assert_eq!(position(field), i, "{field:?}");
        }
    }
}

//! The page's view of a catalog and of a recipe: the engine's result rearranged for
//! display (components in deployment order, and provenance turned around so each overlay
//! in the chain lists what it set).
//!
//! A view carries each component's number of top-level values keys, not the values
//! themselves: the page shows them only when a component is opened, and then asks for
//! that one component's values with a `/v1/query` selector. Shipping every component's
//! hydrated values to JS on each change was most of the cost of a re-resolve.

use crate::input::InputError;
use aicr_recipe::values::Layers;
use aicr_recipe::{Catalog, Constraint, Criteria, Field, Recipe, ResolvedComponent};
use serde::Serialize;
use std::collections::BTreeMap;

/// Footer facts about the embedded catalog.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogSummary<'c> {
    pub name: &'c str,
    pub version: &'c str,
    pub digest: &'c str,
    pub overlays: usize,
    pub components: usize,
    pub engine_version: &'static str,
}

impl<'c> CatalogSummary<'c> {
    pub fn of(catalog: &'c Catalog) -> Self {
        let info = catalog.info();
        CatalogSummary {
            name: &info.name,
            version: &info.version,
            digest: &info.digest,
            overlays: catalog.overlays().len(),
            components: catalog.component_count(),
            engine_version: aicr_recipe::ENGINE_VERSION,
        }
    }
}

/// One criteria field for the form.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldView {
    pub field: &'static str,
    /// Canonical values, sorted; `any` is implied (the empty choice). Empty for `nodes`.
    pub values: Vec<&'static str>,
    /// `(alias, canonical)` spellings the engine also accepts.
    pub aliases: &'static [(&'static str, &'static str)],
    /// Values some overlay of this catalog asks for (node counts as text).
    pub used: Vec<String>,
}

/// The form's fields in upstream's order, from the engine's enums and the catalog.
pub fn fields(catalog: &Catalog) -> Vec<FieldView> {
    Field::ALL
        .iter()
        .map(|&field| {
            let mut used: Vec<String> = catalog
                .overlays()
                .iter()
                .filter_map(|o| o.criteria)
                .filter(|c| !c.is_open(field))
                .map(|c| c.field_text(field).into_owned())
                .collect();
            if field == Field::Nodes {
                used.sort_by_key(|v| v.parse::<u32>().unwrap_or(0));
            } else {
                used.sort();
            }
            used.dedup();
            FieldView {
                field: field.as_str(),
                values: field.allowed_values().to_vec(),
                aliases: field.aliases(),
                used,
            }
        })
        .collect()
}

/// Concrete fields of criteria as `field -> text` (open fields left out).
pub fn concrete(criteria: &Criteria) -> BTreeMap<&'static str, String> {
    Field::ALL
        .iter()
        .filter(|f| !criteria.is_open(**f))
        .map(|f| (f.as_str(), criteria.field_text(*f).into_owned()))
        .collect()
}

/// An applied overlay and what it set in this recipe.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OverlayStep<'c> {
    pub name: &'c str,
    /// The overlay it inherits from (`None` for `base`).
    pub parent: Option<&'c str>,
    /// The criteria it matches on (`None`: only inherited from, or `base`).
    pub criteria: Option<BTreeMap<&'static str, String>>,
    /// Components it declared or changed.
    pub components: Vec<&'c str>,
    /// `(component, version)` whose final version it set.
    pub versions: Vec<(&'c str, &'c str)>,
    /// Constraints whose final value it set.
    pub constraints: Vec<&'c str>,
    /// Validation phases it set.
    pub phases: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentView<'c> {
    pub name: &'c str,
    #[serde(rename = "type")]
    pub kind: &'c str,
    pub version: &'c str,
    /// Overlay that set the version, `registry`, or empty.
    pub version_from: &'c str,
    pub chart: &'c str,
    pub source: &'c str,
    pub namespace: &'c str,
    pub tag: &'c str,
    pub path: &'c str,
    pub dependency_refs: &'c [String],
    pub touched_by: &'c [&'c str],
    pub enabled: bool,
    /// Top-level keys of the merged Helm values (`/v1/query` answers the values
    /// themselves, at `components.<name>.values`).
    pub value_keys: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConstraintView<'c> {
    #[serde(flatten)]
    pub constraint: &'c Constraint,
    pub set_by: &'c str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseView<'c> {
    pub name: &'static str,
    pub set_by: &'c str,
    #[serde(flatten)]
    pub phase: &'c aicr_recipe::Phase,
}

/// A resolved recipe as the page shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipeView<'c> {
    /// Canonical text of every field (`any`, nodes `0` when open).
    pub criteria: BTreeMap<&'static str, String>,
    /// Applied overlays in merge order, starting with `base`.
    pub overlays: Vec<OverlayStep<'c>>,
    /// Components in deployment order.
    pub components: Vec<ComponentView<'c>>,
    pub constraints: Vec<ConstraintView<'c>>,
    pub validation: Vec<PhaseView<'c>>,
}

impl<'c> RecipeView<'c> {
    pub fn of(recipe: &'c Recipe<'c>) -> Result<Self, InputError> {
        let components = recipe
            .deployment_order
            .iter()
            .map(|&i| component(recipe, &recipe.components[i]))
            .collect::<Result<_, _>>()?;
        Ok(RecipeView {
            criteria: Field::ALL
                .iter()
                .map(|f| (f.as_str(), recipe.criteria.field_text(*f).into_owned()))
                .collect(),
            overlays: recipe
                .applied_overlays
                .iter()
                .map(|name| step(recipe, name))
                .collect(),
            components,
            constraints: recipe
                .constraints
                .iter()
                .map(|c| ConstraintView {
                    constraint: c.constraint,
                    set_by: c.set_by,
                })
                .collect(),
            validation: recipe
                .validation
                .iter()
                .map(|p| PhaseView {
                    name: p.name,
                    set_by: p.set_by,
                    phase: p.phase,
                })
                .collect(),
        })
    }
}

fn component<'c>(
    recipe: &'c Recipe<'c>,
    c: &'c ResolvedComponent<'c>,
) -> Result<ComponentView<'c>, InputError> {
    // The layers' root keys are the merged map's keys, without merging anything.
    let value_keys = Layers::of(recipe.catalog, c)
        .map_err(InputError::values)?
        .root()
        .keys()
        .len();
    Ok(ComponentView {
        name: c.name,
        kind: c.kind,
        version: c.version,
        version_from: c.version_from,
        chart: c.chart,
        source: c.source,
        namespace: c.namespace,
        tag: c.tag,
        path: c.path,
        dependency_refs: c.dependency_refs,
        touched_by: &c.touched_by,
        enabled: c.enabled(),
        value_keys,
    })
}

fn step<'c>(recipe: &'c Recipe<'c>, name: &'c str) -> OverlayStep<'c> {
    let overlay = recipe.catalog.overlay(name);
    OverlayStep {
        name,
        parent: overlay.map(|o| {
            if o.parent.is_empty() {
                aicr_recipe::resolve::BASE
            } else {
                o.parent.as_str()
            }
        }),
        criteria: overlay.and_then(|o| o.criteria.as_ref()).map(concrete),
        components: recipe
            .components
            .iter()
            .filter(|c| c.touched_by.contains(&name))
            .map(|c| c.name)
            .collect(),
        versions: recipe
            .components
            .iter()
            .filter(|c| c.version_from == name)
            .map(|c| (c.name, c.version))
            .collect(),
        constraints: recipe
            .constraints
            .iter()
            .filter(|c| c.set_by == name)
            .map(|c| c.constraint.name.as_str())
            .collect(),
        phases: recipe
            .validation
            .iter()
            .filter(|p| p.set_by == name)
            .map(|p| p.name)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{RawCriteria, resolve};

    #[test]
    fn view_follows_the_engine() {
        let catalog = aicr_embedded_catalog::catalog();
        let raw = RawCriteria(
            [
                ("service", "eks"),
                ("accelerator", "h100"),
                ("os", "ubuntu"),
                ("intent", "training"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        );
        let recipe = resolve(catalog, &raw).unwrap();
        let view = RecipeView::of(&recipe).unwrap();
        let order: Vec<&str> = view.components.iter().map(|c| c.name).collect();
        assert_eq!(order, recipe.deployment_order_names().collect::<Vec<_>>());
        let chain: Vec<&str> = view.overlays.iter().map(|o| o.name).collect();
        assert_eq!(chain, recipe.applied_overlays);
        assert_eq!(view.overlays[0].parent, None);
        // Every component is claimed by some overlay in the chain, every version too.
        for c in &view.components {
            assert!(
                view.overlays.iter().any(|o| o.components.contains(&c.name)),
                "{}",
                c.name
            );
            if !c.version.is_empty() && c.version_from != aicr_recipe::resolve::REGISTRY {
                assert!(
                    view.overlays
                        .iter()
                        .any(|o| o.versions.contains(&(c.name, c.version)))
                );
            }
        }
        let gpu = view
            .components
            .iter()
            .find(|c| c.name == "gpu-operator")
            .unwrap();
        let values = recipe.query("components.gpu-operator.values").unwrap();
        assert!(gpu.value_keys > 0);
        assert_eq!(gpu.value_keys, values.as_object().unwrap().len());
    }

    #[test]
    fn fields_come_from_the_engine_and_catalog() {
        let fields = fields(aicr_embedded_catalog::catalog());
        assert_eq!(fields.len(), Field::ALL.len());
        assert_eq!(fields[0].values, aicr_recipe::Service::ALLOWED);
        assert!(fields[0].used.iter().any(|v| v == "eks"));
        assert!(fields[5].values.is_empty());
    }
}

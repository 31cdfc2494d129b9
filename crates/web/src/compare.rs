//! The difference between two recipes: components added and removed, and for the ones
//! both have, changed fields (version, chart, ...) and changed values leaves. Values are
//! compared leaf by leaf (maps descended, lists compared whole, as the `/v1/query`
//! selector addresses them), so each change names a selector path.

use crate::input::InputError;
use crate::view::{ComponentView, RecipeView};
use aicr_recipe::Recipe;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One field whose value differs; `None` means absent on that side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change<T> {
    pub name: String,
    pub a: Option<T>,
    pub b: Option<T>,
}

/// A component present on both sides with differences.
#[derive(Debug, Serialize)]
pub struct ComponentDiff {
    pub name: String,
    /// Version, chart, source, namespace, type, tag, path, dependencies, enabled.
    pub fields: Vec<Change<String>>,
    /// Values leaves by selector path relative to `components.<name>.values`.
    pub values: Vec<Change<Value>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipeDiff {
    pub overlays_a: Vec<String>,
    pub overlays_b: Vec<String>,
    /// Component names in B's deployment order that A lacks, and vice versa.
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<ComponentDiff>,
    pub unchanged: Vec<String>,
    /// Constraints by name: `"<op> <value>"` on each side.
    pub constraints: Vec<Change<String>>,
    pub order_changed: bool,
}

impl RecipeDiff {
    pub fn between(a: &Recipe<'_>, b: &Recipe<'_>) -> Result<Self, InputError> {
        let (va, vb) = (RecipeView::of(a)?, RecipeView::of(b)?);
        let by_name = |v: &RecipeView<'_>| {
            v.components
                .iter()
                .map(|c| c.name.to_owned())
                .collect::<Vec<_>>()
        };
        let (names_a, names_b) = (by_name(&va), by_name(&vb));
        let mut changed = Vec::new();
        let mut unchanged = Vec::new();
        for ca in &va.components {
            if let Some(cb) = vb.components.iter().find(|c| c.name == ca.name) {
                let d = ComponentDiff {
                    name: ca.name.to_owned(),
                    fields: map_changes(&fields_of(ca), &fields_of(cb)),
                    values: map_changes(&value_leaves(a, ca.name)?, &value_leaves(b, cb.name)?),
                };
                if d.fields.is_empty() && d.values.is_empty() {
                    unchanged.push(d.name);
                } else {
                    changed.push(d);
                }
            }
        }
        let common_a: Vec<&String> = names_a.iter().filter(|n| names_b.contains(n)).collect();
        let common_b: Vec<&String> = names_b.iter().filter(|n| names_a.contains(n)).collect();
        let constraint_map = |v: &RecipeView<'_>| -> BTreeMap<String, String> {
            v.constraints
                .iter()
                .map(|c| (c.constraint.name.clone(), c.constraint.value.clone()))
                .collect()
        };
        Ok(RecipeDiff {
            overlays_a: va.overlays.iter().map(|o| o.name.to_owned()).collect(),
            overlays_b: vb.overlays.iter().map(|o| o.name.to_owned()).collect(),
            added: names_b
                .iter()
                .filter(|n| !names_a.contains(n))
                .cloned()
                .collect(),
            removed: names_a
                .iter()
                .filter(|n| !names_b.contains(n))
                .cloned()
                .collect(),
            changed,
            unchanged,
            constraints: map_changes(&constraint_map(&va), &constraint_map(&vb)),
            order_changed: common_a != common_b,
        })
    }
}

fn map_changes<T: Clone + PartialEq>(
    a: &BTreeMap<String, T>,
    b: &BTreeMap<String, T>,
) -> Vec<Change<T>> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| Change {
            name: k.clone(),
            a: a.get(k).cloned(),
            b: b.get(k).cloned(),
        })
        .collect()
}

fn fields_of(c: &ComponentView<'_>) -> BTreeMap<String, String> {
    [
        ("version", c.version.to_owned()),
        ("chart", c.chart.to_owned()),
        ("source", c.source.to_owned()),
        ("namespace", c.namespace.to_owned()),
        ("type", c.kind.to_owned()),
        ("tag", c.tag.to_owned()),
        ("path", c.path.to_owned()),
        ("dependencyRefs", c.dependency_refs.join(", ")),
        ("enabled", c.enabled.to_string()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The merged values of component `name` of `recipe` as leaves (see [`leaves`]).
fn value_leaves(recipe: &Recipe<'_>, name: &str) -> Result<BTreeMap<String, Value>, InputError> {
    let mut out = BTreeMap::new();
    if let Some(c) = recipe.component(name) {
        leaves(
            "",
            &recipe.values_of(c).map_err(InputError::values)?,
            &mut out,
        );
    }
    Ok(out)
}

/// Flattens maps into `path -> leaf`; an empty map is a leaf of its own.
fn leaves(prefix: &str, map: &Map<String, Value>, out: &mut BTreeMap<String, Value>) {
    for (key, value) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Object(inner) if !inner.is_empty() => leaves(&path, inner, out),
            leaf => {
                out.insert(path, leaf.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{RawCriteria, resolve};

    fn recipe(pairs: &[(&str, &str)]) -> Recipe<'static> {
        let raw = RawCriteria(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        resolve(aicr_embedded_catalog::catalog(), &raw).unwrap()
    }

    #[test]
    fn same_criteria_have_no_difference() {
        let a = recipe(&[("service", "eks"), ("intent", "training")]);
        let d = RecipeDiff::between(&a, &a).unwrap();
        assert!(
            d.added.is_empty()
                && d.removed.is_empty()
                && d.changed.is_empty()
                && d.constraints.is_empty()
        );
        assert_eq!(d.unchanged.len(), a.components.len());
    }

    #[test]
    fn added_and_removed_follow_the_engine() {
        let a = recipe(&[
            ("service", "eks"),
            ("accelerator", "h100"),
            ("intent", "training"),
        ]);
        let b = recipe(&[
            ("service", "gke"),
            ("accelerator", "h100"),
            ("intent", "inference"),
        ]);
        let d = RecipeDiff::between(&a, &b).unwrap();
        for name in &d.added {
            assert!(b.component(name).is_some() && a.component(name).is_none());
        }
        for name in &d.removed {
            assert!(a.component(name).is_some() && b.component(name).is_none());
        }
        assert_eq!(
            d.added.len() + d.changed.len() + d.unchanged.len(),
            b.components.len()
        );
        assert_eq!(
            d.removed.len() + d.changed.len() + d.unchanged.len(),
            a.components.len()
        );
        let reverse = RecipeDiff::between(&b, &a).unwrap();
        assert_eq!(reverse.added, d.removed);
    }

    #[test]
    fn leaves_are_selector_paths() {
        let mut out = BTreeMap::new();
        let v = serde_json::json!({"a": {"b": 1, "c": {}}, "d": [1, 2]});
        leaves("", v.as_object().unwrap(), &mut out);
        assert_eq!(out.keys().collect::<Vec<_>>(), ["a.b", "a.c", "d"]);
    }
}

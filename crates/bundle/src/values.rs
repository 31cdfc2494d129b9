//! A component's values as the bundle writes them: the catalog's values file(s) under the
//! recipe's inline overrides (the engine's layering), then the user's `set` entries,
//! then the registry's scheduling paths filled from the node options — upstream's order
//! and upstream's rules for each step.

use crate::options::{BundleOptions, Toleration};
use aicr_recipe::Catalog;
use aicr_recipe::model::{ComponentRef, RegistryEntry};
use aicr_recipe::values::{deep_merge, value_files};
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

/// The merged values of one component (the engine's layering of the catalog's values
/// files, under the recipe's overrides), or why a values file is missing.
pub fn from_catalog(catalog: &Catalog, r: &ComponentRef) -> Result<Map<String, Value>, String> {
    let mut values = Map::new();
    let files = value_files(catalog, &r.name, &r.values_file)
        .map_err(|missing| format!("values file {:?} is not in this catalog", missing.path))?;
    for file in files {
        deep_merge(&mut values, file);
    }
    deep_merge(&mut values, &r.overrides);
    Ok(values)
}

/// The `set` entries meant for a component: by its name, else by the first of its
/// registry aliases that has entries.
pub fn set_entries<'o>(
    options: &'o BundleOptions,
    name: &str,
    entry: Option<&RegistryEntry>,
) -> Option<&'o BTreeMap<String, String>> {
    options.set.get(name).or_else(|| {
        entry?
            .value_override_keys
            .iter()
            .find_map(|alias| options.set.get(alias))
    })
}

/// `enabled=<bool>` among a component's `set` entries: `Some(false)` drops it from the
/// bundle, `Some(true)` keeps it even if the recipe disabled it. Go's boolean spellings.
pub fn set_enabled(entries: Option<&BTreeMap<String, String>>) -> Option<bool> {
    match entries?.get("enabled")?.as_str() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A `set` value typed as upstream types it: booleans, integers, finite floats, else text.
fn typed(raw: &str) -> Value {
    match raw {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = raw.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Some(n) = raw.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(n);
    }
    Value::String(raw.to_owned())
}

/// Walks to the parent map of the last segment of `path`, creating maps on the way. With
/// `strict`, a segment that holds something other than a map stops the walk (`None`);
/// otherwise it is replaced by a map.
fn parent_of<'v>(
    values: &'v mut Map<String, Value>,
    path: &str,
    strict: bool,
) -> Option<(&'v mut Map<String, Value>, String)> {
    let mut segments: Vec<&str> = path.split('.').collect();
    let last = segments.pop()?.to_owned();
    let mut current = values;
    for segment in segments {
        let slot = current
            .entry(segment.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            if strict {
                return None;
            }
            *slot = Value::Object(Map::new());
        }
        current = slot.as_object_mut()?;
    }
    Some((current, last))
}

/// Sets typed text values at dotted paths; returns a warning per path that runs through a
/// non-map (that entry is skipped, as upstream does).
pub fn apply_text(
    values: &mut Map<String, Value>,
    entries: impl IntoIterator<Item = (String, String)>,
    component: &str,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for (path, raw) in entries {
        match parent_of(values, &path, true) {
            Some((parent, key)) => {
                parent.insert(key, typed(&raw));
            }
            None => warnings.push(format!(
                "{component}: set {path}={raw} skipped: a segment of {path} is not a map in the values"
            )),
        }
    }
    warnings
}

fn place(values: &mut Map<String, Value>, paths: &[String], value: &Value) {
    for path in paths {
        if let Some((parent, key)) = parent_of(values, path, false) {
            parent.insert(key, value.clone());
        }
    }
}

fn selector_value(selector: &BTreeMap<String, String>) -> Value {
    Value::Object(
        selector
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn tolerations_value(tolerations: &[Toleration]) -> Value {
    Value::Array(
        tolerations
            .iter()
            .map(|t| {
                let mut m = Map::new();
                let mut put = |k: &str, v: Option<&str>| {
                    if let Some(v) = v {
                        m.insert(k.to_owned(), Value::String(v.to_owned()));
                    }
                };
                put("key", t.key.as_deref());
                put("operator", Some(t.operator));
                put("value", t.value.as_deref());
                put("effect", t.effect.as_deref());
                Value::Object(m)
            })
            .collect(),
    )
}

/// Fills the registry's scheduling paths from the options (system pool, accelerated
/// pool, workload selector, workload gate, node count), in upstream's order.
pub fn apply_scheduling(
    values: &mut Map<String, Value>,
    entry: &RegistryEntry,
    options: &BundleOptions,
) -> Vec<String> {
    let ns = &entry.node_scheduling;
    if !options.system_node_selector.is_empty() {
        place(
            values,
            &ns.system.node_selector_paths,
            &selector_value(&options.system_node_selector),
        );
    }
    place(
        values,
        &ns.system.toleration_paths,
        &tolerations_value(&options.system_node_tolerations()),
    );
    if !options.accelerated_node_selector.is_empty() {
        place(
            values,
            &ns.accelerated.node_selector_paths,
            &selector_value(&options.accelerated_node_selector),
        );
    }
    place(
        values,
        &ns.accelerated.toleration_paths,
        &tolerations_value(&options.accelerated_node_tolerations()),
    );
    if !options.workload_selector.is_empty() {
        place(
            values,
            &entry.pod_scheduling.workload_selector_paths,
            &selector_value(&options.workload_selector),
        );
    }
    let mut warnings = Vec::new();
    if let Some(taint) = &options.workload_gate {
        let text = taint.to_text();
        warnings.extend(apply_text(
            values,
            ns.accelerated
                .taint_str_paths
                .iter()
                .map(|p| (p.clone(), text.clone())),
            &entry.name,
        ));
    }
    if options.nodes > 0 {
        warnings.extend(apply_text(
            values,
            ns.node_count_paths
                .iter()
                .map(|p| (p.clone(), options.nodes.to_string())),
            &entry.name,
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn set_types_values_and_creates_maps() {
        let mut v = map(json!({"driver": {"enabled": true}}));
        let w = apply_text(
            &mut v,
            [
                ("driver.version".to_owned(), "570.86.15".to_owned()),
                ("replicaCount".to_owned(), "2".to_owned()),
                ("a.b.c".to_owned(), "false".to_owned()),
                ("ratio".to_owned(), "0.5".to_owned()),
            ],
            "x",
        );
        assert!(w.is_empty());
        assert_eq!(
            Value::Object(v),
            json!({"driver": {"enabled": true, "version": "570.86.15"}, "replicaCount": 2,
                   "a": {"b": {"c": false}}, "ratio": 0.5})
        );
    }

    #[test]
    fn set_through_a_scalar_is_skipped_with_a_warning() {
        let mut v = map(json!({"driver": "on"}));
        let w = apply_text(&mut v, [("driver.version".to_owned(), "1".to_owned())], "x");
        assert_eq!(w.len(), 1);
        assert_eq!(Value::Object(v), json!({"driver": "on"}));
    }

    #[test]
    fn enabled_takes_go_boolean_spellings() {
        let mut e = BTreeMap::new();
        e.insert("enabled".to_owned(), "F".to_owned());
        assert_eq!(set_enabled(Some(&e)), Some(false));
        e.insert("enabled".to_owned(), "maybe".to_owned());
        assert_eq!(set_enabled(Some(&e)), None);
    }
}

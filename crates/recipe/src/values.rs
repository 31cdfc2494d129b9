//! Helm values hydration: base values file → selected variant → inline overrides.
//!
//! Layers merge deeply: two maps merge key by key, anything else (scalars, lists, explicit
//! nulls) replaces what is below. [`Layers`] answers a lookup without building the merged
//! document, so a deep `/v1/query` selector costs a few map lookups, not a full merge.

use crate::catalog::Catalog;
use crate::resolve::ResolvedComponent;
use serde_json::{Map, Value};
use std::fmt;

/// A values file a recipe needs but the catalog lacks (impossible for a validated catalog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingValuesFile {
    pub component: String,
    pub path: String,
}

impl fmt::Display for MissingValuesFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "component {:?}: values file {:?} is not in the catalog",
            self.component, self.path
        )
    }
}

impl std::error::Error for MissingValuesFile {}

/// Deep-merges `src` into `dst` with upstream's rules.
pub fn deep_merge(dst: &mut Map<String, Value>, src: &Map<String, Value>) {
    for (key, incoming) in src {
        match (dst.get_mut(key), incoming) {
            (Some(Value::Object(below)), Value::Object(above)) => deep_merge(below, above),
            _ => {
                dst.insert(key.clone(), incoming.clone());
            }
        }
    }
}

/// The stack of values documents of one component, bottom first.
#[derive(Debug, Clone, Default)]
pub struct Layers<'c> {
    /// Whole documents (base file, variant file), bottom first.
    files: Vec<&'c Map<String, Value>>,
    /// Top-level override entries (the topmost layer).
    overrides: &'c [(&'c str, &'c Value)],
}

/// A node reached by a selector inside layered values.
#[derive(Debug, Clone)]
pub enum LayeredNode<'c> {
    /// A scalar, list or null: the topmost layer's value wins outright.
    Leaf(&'c Value),
    /// Maps from one or more layers, bottom first, still to be merged.
    Maps(Vec<&'c Map<String, Value>>),
}

impl<'c> LayeredNode<'c> {
    /// Materialises the node.
    pub fn to_value(&self) -> Value {
        match self {
            LayeredNode::Leaf(v) => (*v).clone(),
            LayeredNode::Maps(maps) => {
                let mut out = Map::new();
                for m in maps {
                    deep_merge(&mut out, m);
                }
                Value::Object(out)
            }
        }
    }

    /// Sorted keys of a map node.
    pub fn keys(&self) -> Vec<&'c str> {
        let mut keys: Vec<&str> = match self {
            LayeredNode::Leaf(Value::Object(m)) => m.keys().map(String::as_str).collect(),
            LayeredNode::Leaf(_) => Vec::new(),
            LayeredNode::Maps(maps) => maps
                .iter()
                .flat_map(|m| m.keys())
                .map(String::as_str)
                .collect(),
        };
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// One level down, or `None` when the key is absent. A leaf has no children.
    pub fn child(&self, key: &str) -> Option<LayeredNode<'c>> {
        match self {
            LayeredNode::Leaf(Value::Object(m)) => m.get(key).map(LayeredNode::from_value),
            LayeredNode::Leaf(_) => None,
            LayeredNode::Maps(maps) => {
                merge_candidates(maps.iter().rev().filter_map(|m| m.get(key)))
            }
        }
    }

    fn from_value(v: &'c Value) -> LayeredNode<'c> {
        match v {
            Value::Object(m) => LayeredNode::Maps(vec![m]),
            other => LayeredNode::Leaf(other),
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(
            self,
            LayeredNode::Maps(_) | LayeredNode::Leaf(Value::Object(_))
        )
    }
}

/// Combines the values a key has in several layers, given top first: maps gather until the
/// first non-map, which is replaced by the maps above it (or wins if it is on top).
fn merge_candidates<'c>(top_first: impl Iterator<Item = &'c Value>) -> Option<LayeredNode<'c>> {
    let mut maps = Vec::new();
    for v in top_first {
        match v {
            Value::Object(m) => maps.push(m),
            leaf if maps.is_empty() => return Some(LayeredNode::Leaf(leaf)),
            _ => break,
        }
    }
    if maps.is_empty() {
        return None;
    }
    maps.reverse();
    Some(LayeredNode::Maps(maps))
}

/// The values documents of component `name` whose recipe names `values_file`, bottom
/// first, following upstream: none without a values file; a values file other than
/// `components/<name>/values.yaml` sits on top of that base file when it exists.
pub fn value_files<'c>(
    catalog: &'c Catalog,
    name: &str,
    values_file: &str,
) -> Result<Vec<&'c Map<String, Value>>, MissingValuesFile> {
    let mut files = Vec::new();
    if values_file.is_empty() {
        return Ok(files);
    }
    let base_path = format!("components/{name}/values.yaml");
    if values_file != base_path
        && let Some(Value::Object(base)) = catalog.values_file(&base_path)
    {
        files.push(base);
    }
    match catalog.values_file(values_file) {
        Some(Value::Object(m)) => files.push(m),
        Some(_) => {}
        None => {
            return Err(MissingValuesFile {
                component: name.to_owned(),
                path: values_file.to_owned(),
            });
        }
    }
    Ok(files)
}

impl<'c> Layers<'c> {
    /// The layers of a component ([`value_files`] under its recipe overrides); with neither
    /// a values file nor overrides the values are empty.
    pub fn of(
        catalog: &'c Catalog,
        component: &'c ResolvedComponent<'c>,
    ) -> Result<Layers<'c>, MissingValuesFile> {
        Ok(Layers {
            files: value_files(catalog, component.name, component.values_file)?,
            overrides: &component.overrides,
        })
    }

    /// The root of the merged document.
    pub fn root(&self) -> RootNode<'_, 'c> {
        RootNode(self)
    }

    /// The fully merged values.
    pub fn to_value(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for f in &self.files {
            deep_merge(&mut out, f);
        }
        for (key, v) in self.overrides {
            match (out.get_mut(*key), v) {
                (Some(Value::Object(below)), Value::Object(above)) => deep_merge(below, above),
                _ => {
                    out.insert((*key).to_owned(), (*v).clone());
                }
            }
        }
        out
    }
}

/// The top of a layered values document (overrides are a list of entries, not a map,
/// so the root needs its own lookups).
pub struct RootNode<'a, 'c>(&'a Layers<'c>);

impl<'c> RootNode<'_, 'c> {
    pub fn keys(&self) -> Vec<&'c str> {
        let mut keys: Vec<&str> = self
            .0
            .files
            .iter()
            .flat_map(|m| m.keys().map(String::as_str))
            .chain(self.0.overrides.iter().map(|(k, _)| *k))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    pub fn child(&self, key: &str) -> Option<LayeredNode<'c>> {
        let from_overrides = self
            .0
            .overrides
            .binary_search_by(|(k, _)| (*k).cmp(key))
            .ok()
            .map(|i| self.0.overrides[i].1);
        let from_files = self.0.files.iter().rev().filter_map(|m| m.get(key));
        merge_candidates(from_overrides.into_iter().chain(from_files))
    }
}

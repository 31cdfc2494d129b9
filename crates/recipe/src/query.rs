//! `/v1/query`: the hydrated recipe (values merged, file references dropped) and a dot-path
//! selector over it, with upstream's shape and error texts.
//!
//! A selector that goes into `components.<name>.values` is answered from the layered
//! values without merging whole documents; anything else builds the (small) hydrated map.

use crate::output::{API_VERSION, ENGINE_VERSION, RECIPE_KIND};
use crate::resolve::{Recipe, ResolvedComponent};
use crate::values::{LayeredNode, Layers, MissingValuesFile};
use serde_json::{Map, Value, json};
use std::fmt;

/// Why a query has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// The selector names a key that is not there, or descends into a non-map.
    NotFound { selector: String, reason: String },
    /// A values file is missing (impossible for a validated catalog).
    Values(MissingValuesFile),
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::NotFound { selector, reason } => {
                write!(f, "selector {selector:?}: {reason}")
            }
            QueryError::Values(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for QueryError {}

impl From<MissingValuesFile> for QueryError {
    fn from(e: MissingValuesFile) -> Self {
        QueryError::Values(e)
    }
}

fn not_found(selector: &str, key: &str, mut keys: Vec<&str>) -> QueryError {
    keys.sort_unstable();
    QueryError::NotFound {
        selector: selector.to_owned(),
        reason: format!("key {key:?} not found, available keys: {}", keys.join(", ")),
    }
}

fn not_a_map(selector: &str, key: &str) -> QueryError {
    QueryError::NotFound {
        selector: selector.to_owned(),
        reason: format!("cannot descend into non-map value at {key:?}"),
    }
}

impl<'c> Recipe<'c> {
    /// The values layers of every component (checks that all values files exist).
    pub fn hydrate_all(&self) -> Result<Vec<Layers<'_>>, MissingValuesFile> {
        self.components
            .iter()
            .map(|c| Layers::of(self.catalog, c))
            .collect()
    }

    /// The merged Helm values of one component, as `/v1/query` shows them.
    pub fn values_of(
        &self,
        component: &ResolvedComponent<'c>,
    ) -> Result<Map<String, Value>, MissingValuesFile> {
        Ok(Layers::of(self.catalog, component)?.to_value())
    }

    fn hydrated_component(
        &self,
        c: &ResolvedComponent<'c>,
        with_values: bool,
    ) -> Result<Value, MissingValuesFile> {
        let mut m = Map::new();
        m.insert("name".into(), c.name.into());
        m.insert("type".into(), c.kind.into());
        m.insert("source".into(), c.source.into());
        for (key, v) in [
            ("namespace", c.namespace),
            ("chart", c.chart),
            ("version", c.version),
            ("tag", c.tag),
            ("path", c.path),
        ] {
            if !v.is_empty() {
                m.insert(key.into(), v.into());
            }
        }
        if !c.dependency_refs.is_empty() {
            m.insert("dependencyRefs".into(), c.dependency_refs.into());
        }
        if with_values {
            let values = self.values_of(c)?;
            if !values.is_empty() {
                m.insert("values".into(), Value::Object(values));
            }
        }
        Ok(Value::Object(m))
    }

    /// The whole hydrated document. `with_values: false` leaves every `values` out (for
    /// selectors that never reach them).
    pub fn hydrated(&self, with_values: bool) -> Result<Value, MissingValuesFile> {
        let c = &self.criteria;
        let mut components = Map::new();
        for comp in &self.components {
            components.insert(
                comp.name.to_owned(),
                self.hydrated_component(comp, with_values)?,
            );
        }
        let mut doc = json!({
            "kind": RECIPE_KIND,
            "apiVersion": API_VERSION,
            "metadata": {
                "version": ENGINE_VERSION,
                "appliedOverlays": self.applied_overlays,
                "excludedOverlays": null,
                "constraintWarnings": null,
            },
            "criteria": {
                "service": c.service.as_str(),
                "accelerator": c.accelerator.as_str(),
                "intent": c.intent.as_str(),
                "os": c.os.as_str(),
                "platform": c.platform.as_str(),
                "nodes": c.nodes,
            },
            "deploymentOrder": self.deployment_order_names().collect::<Vec<_>>(),
            "components": components,
        });
        if !self.constraints.is_empty() {
            let list: Vec<Value> = self
                .constraints
                .iter()
                .map(|c| serde_json::to_value(c.constraint).unwrap_or(Value::Null))
                .collect();
            doc["constraints"] = Value::Array(list);
        }
        Ok(doc)
    }

    /// Answers a `/v1/query` selector: one leading `.` is dropped, the rest split on `.`;
    /// every segment must be a key of a map (lists cannot be indexed). Empty: everything.
    pub fn query(&self, selector: &str) -> Result<Value, QueryError> {
        let selector = selector.strip_prefix('.').unwrap_or(selector);
        if selector.is_empty() {
            return Ok(self.hydrated(true)?);
        }
        let segments: Vec<&str> = selector.split('.').collect();
        if let ["components", name, "values", rest @ ..] = segments.as_slice()
            && let Some(component) = self.component(name)
        {
            let layers = Layers::of(self.catalog, component)?;
            let root = layers.root();
            if !root.keys().is_empty() {
                return select_layered(selector, &layers, rest);
            }
        }
        let doc = self.hydrated(segments[0] == "components")?;
        let mut current = &doc;
        for seg in &segments {
            match current {
                Value::Object(m) => match m.get(*seg) {
                    Some(v) => current = v,
                    None => {
                        return Err(not_found(
                            selector,
                            seg,
                            m.keys().map(String::as_str).collect(),
                        ));
                    }
                },
                _ => return Err(not_a_map(selector, seg)),
            }
        }
        Ok(current.clone())
    }
}

/// Walks `rest` inside a component's layered values without merging whole documents.
fn select_layered(selector: &str, layers: &Layers<'_>, rest: &[&str]) -> Result<Value, QueryError> {
    let Some((first, deeper)) = rest.split_first() else {
        return Ok(Value::Object(layers.to_value()));
    };
    let top = layers.root();
    let mut node: LayeredNode<'_> = match top.child(first) {
        Some(n) => n,
        None => return Err(not_found(selector, first, top.keys())),
    };
    for seg in deeper {
        if !node.is_map() {
            return Err(not_a_map(selector, seg));
        }
        node = match node.child(seg) {
            Some(n) => n,
            None => return Err(not_found(selector, seg, node.keys())),
        };
    }
    Ok(node.to_value())
}

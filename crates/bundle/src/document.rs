//! The recipe a bundle is built from: upstream's `RecipeResult` document, as `/v1/recipe`
//! answers it and as clients send it back to `POST /v1/bundle`.
//!
//! It is client input, so it is parsed strictly (a defect names its JSON path) and every
//! string that will become a directory, a release name or a script argument is checked
//! (see [`crate::safety`]). Serialised again it is the bundle's `recipe.yaml`, with
//! upstream's rules for which empty fields are left out.

use crate::safety;
use aicr_recipe::model::{ComponentRef, Constraint, Validation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A rule a recipe string must pass (see [`crate::safety`]).
type Check = fn(&str) -> Result<(), String>;

/// Most components a bundle may hold (the largest catalog recipe has under 30).
pub const MAX_COMPONENTS: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_overlays: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_overlays: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraint_warnings: Vec<serde_json::Value>,
}

/// The criteria a recipe was built for, as free strings (`any` included).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentCriteria {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub accelerator: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub intent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub platform: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nodes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A `RecipeResult` document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipeDocument {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub criteria: Option<DocumentCriteria>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    #[serde(default)]
    pub component_refs: Vec<ComponentRef>,
    #[serde(default)]
    pub deployment_order: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
}

/// Why a document cannot be bundled: the JSON path and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for DocumentError {}

/// Every member the document's structs are read from is an object (or null where it is
/// optional). Serde's derived structs also take an array, filling fields by position
/// (`"validation": [null, null]` was two absent phases), which no client means.
fn objects_where_structs(doc: &serde_json::Value) -> Result<(), DocumentError> {
    use serde_json::Value;
    fn object(at: &str, value: &Value, nullable: bool) -> Result<(), DocumentError> {
        match value {
            Value::Object(_) => Ok(()),
            Value::Null if nullable => Ok(()),
            other => Err(DocumentError {
                field: at.to_owned(),
                message: format!("expected an object, found {}", kind(other)),
            }),
        }
    }
    fn kind(value: &Value) -> &'static str {
        match value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
    /// Each item of the list at `at`, when there is one (its type is serde's to check).
    fn items(at: String, value: Option<&Value>) -> Vec<(String, &Value)> {
        let list = value
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        list.iter()
            .enumerate()
            .map(|(i, item)| (format!("{at}[{i}]"), item))
            .collect()
    }
    object("", doc, false)?;
    for (member, nullable) in [
        ("metadata", false),
        ("criteria", true),
        ("validation", true),
    ] {
        if let Some(value) = doc.get(member) {
            object(member, value, nullable)?;
        }
    }
    let mut constraints = items("constraints".into(), doc.get("constraints"));
    for (at, r) in items("componentRefs".into(), doc.get("componentRefs")) {
        object(&at, r, false)?;
        for (at, resource) in items(
            format!("{at}.expectedResources"),
            r.get("expectedResources"),
        ) {
            object(&at, resource, false)?;
        }
    }
    for phase in ["readiness", "deployment", "performance", "conformance"] {
        let Some(value) = doc.get("validation").and_then(|v| v.get(phase)) else {
            continue;
        };
        let at = format!("validation.{phase}");
        object(&at, value, true)?;
        if let Some(selection) = value.get("nodeSelection") {
            object(&format!("{at}.nodeSelection"), selection, true)?;
        }
        constraints.extend(items(format!("{at}.constraints"), value.get("constraints")));
    }
    for (at, constraint) in constraints {
        object(&at, constraint, false)?;
    }
    Ok(())
}

impl RecipeDocument {
    /// Parses a JSON body and checks it (see [`RecipeDocument::check`]).
    pub fn from_json(body: &[u8]) -> Result<RecipeDocument, DocumentError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(DocumentError {
                field: String::new(),
                message: "the body is empty; send the RecipeResult JSON that /v1/recipe answered"
                    .to_owned(),
            });
        }
        let not_a_document = |e: serde_json::Error| DocumentError {
            field: String::new(),
            message: format!("not a RecipeResult JSON document: {e}"),
        };
        let value: serde_json::Value = serde_json::from_slice(body).map_err(not_a_document)?;
        objects_where_structs(&value)?;
        let doc: RecipeDocument = serde_json::from_value(value).map_err(not_a_document)?;
        doc.check()?;
        Ok(doc)
    }

    /// The document of a recipe this engine resolved (what `/v1/recipe` answers as JSON).
    pub fn from_recipe(recipe: &aicr_recipe::Recipe<'_>) -> RecipeDocument {
        serde_json::to_value(recipe)
            .and_then(serde_json::from_value)
            .expect("the engine's recipe document has exactly these fields")
    }

    /// Every string that becomes a path, a release or a script argument is checked, and
    /// the document must name at least one component, each once.
    pub fn check(&self) -> Result<(), DocumentError> {
        let fail = |field: String, message: String| Err(DocumentError { field, message });
        if self.component_refs.is_empty() {
            return fail(
                "componentRefs".into(),
                "the recipe must contain at least one component reference".into(),
            );
        }
        if self.component_refs.len() > MAX_COMPONENTS {
            return fail(
                "componentRefs".into(),
                format!(
                    "{} components; a bundle holds at most {MAX_COMPONENTS}",
                    self.component_refs.len()
                ),
            );
        }
        let mut names = BTreeSet::new();
        for (i, r) in self.component_refs.iter().enumerate() {
            let at = |field: &str| format!("componentRefs[{i}].{field}");
            let checks: [(&str, &str, Check); 7] = [
                ("name", &r.name, safety::check_name),
                ("namespace", &r.namespace, safety::check_name),
                ("chart", &r.chart, safety::check_token),
                ("version", &r.version, safety::check_token),
                ("tag", &r.tag, safety::check_token),
                ("path", &r.path, safety::check_token),
                ("source", &r.source, safety::check_url),
            ];
            for (field, value, check) in checks {
                let optional = field != "name";
                if optional && value.is_empty() {
                    continue;
                }
                if let Err(message) = check(value) {
                    return fail(at(field), message);
                }
            }
            if !names.insert(r.name.as_str()) {
                return fail(at("name"), format!("{:?} appears twice", r.name));
            }
            if !matches!(r.kind.as_str(), "" | "Helm" | "Kustomize") {
                return fail(
                    at("type"),
                    format!(
                        "{:?} is not a component type; use Helm or Kustomize",
                        r.kind
                    ),
                );
            }
        }
        if self.deployment_order.len() > MAX_COMPONENTS {
            return fail(
                "deploymentOrder".into(),
                format!("at most {MAX_COMPONENTS} entries"),
            );
        }
        Ok(())
    }

    /// The components in deployment order: those the order names first, in its order;
    /// the rest after them by name (upstream's rule).
    pub fn in_deployment_order(&self) -> Vec<&ComponentRef> {
        let rank = |name: &str| self.deployment_order.iter().position(|n| n == name);
        let mut refs: Vec<&ComponentRef> = self.component_refs.iter().collect();
        refs.sort_by(|a, b| match (rank(&a.name), rank(&b.name)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.name.cmp(&b.name),
        });
        refs
    }

    /// Keeps only the named components (in the refs and the order).
    pub fn retain(&mut self, keep: &BTreeSet<String>) {
        self.component_refs.retain(|r| keep.contains(&r.name));
        self.deployment_order.retain(|n| keep.contains(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(refs: serde_json::Value) -> Result<RecipeDocument, DocumentError> {
        let body = serde_json::json!({"kind": "RecipeResult", "componentRefs": refs});
        RecipeDocument::from_json(body.to_string().as_bytes())
    }

    #[test]
    fn empty_and_malformed_bodies_are_refused() {
        assert!(
            RecipeDocument::from_json(b"")
                .unwrap_err()
                .message
                .contains("empty")
        );
        assert!(RecipeDocument::from_json(b"{").is_err());
        assert_eq!(
            doc(serde_json::json!([])).unwrap_err().field,
            "componentRefs"
        );
    }

    #[test]
    fn arrays_are_not_read_as_structs() {
        let refs = serde_json::json!([{"name": "a"}]);
        for (member, value, field) in [
            ("validation", serde_json::json!([null, null]), "validation"),
            ("metadata", serde_json::json!([]), "metadata"),
            ("criteria", serde_json::json!(["eks"]), "criteria"),
            (
                "validation",
                serde_json::json!({"readiness": {"constraints": [["a", "b"]]}}),
                "validation.readiness.constraints[0]",
            ),
        ] {
            let body = serde_json::json!({"componentRefs": refs, member: value});
            let e = RecipeDocument::from_json(body.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.field, field, "{body}");
        }
        let e = doc(serde_json::json!([["a"]])).unwrap_err();
        assert_eq!(e.field, "componentRefs[0]");
        let e = RecipeDocument::from_json(b"[[{\"name\": \"a\"}]]").unwrap_err();
        assert_eq!(e.field, "");
        let nulls = serde_json::json!({"componentRefs": refs, "criteria": null, "validation": {"readiness": null}});
        assert!(RecipeDocument::from_json(nulls.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn hostile_strings_are_refused_with_their_field() {
        let e = doc(serde_json::json!([{"name": "../etc", "source": "https://x"}])).unwrap_err();
        assert_eq!(e.field, "componentRefs[0].name");
        let e = doc(serde_json::json!([{"name": "a", "source": "https://x/$(id)"}])).unwrap_err();
        assert_eq!(e.field, "componentRefs[0].source");
        let e = doc(serde_json::json!([{"name": "a", "version": "1.0; rm -rf /"}])).unwrap_err();
        assert_eq!(e.field, "componentRefs[0].version");
        let e = doc(serde_json::json!([{"name": "a"}, {"name": "a"}])).unwrap_err();
        assert!(e.message.contains("twice"));
    }

    #[test]
    fn order_puts_unlisted_components_last_by_name() {
        let mut d = doc(serde_json::json!([{"name": "c"}, {"name": "b"}, {"name": "a"}])).unwrap();
        d.deployment_order = vec!["c".into()];
        let names: Vec<&str> = d
            .in_deployment_order()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["c", "a", "b"]);
    }
}

//! Raw criteria from the page to a recipe, and every way that can fail, as one error
//! shape the page can place next to the field it concerns.

use aicr_api::Format;
use aicr_recipe::values::MissingValuesFile;
use aicr_recipe::{Catalog, Criteria, Field, Recipe};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Criteria as the page holds them: field name to the raw text the user chose or the
/// URL carried. Missing fields mean `any`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct RawCriteria(pub BTreeMap<String, String>);

/// An error the page can show: `field` names the form control it belongs to (`null`
/// for whole-recipe errors), `allowed` lists what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputError {
    pub field: Option<String>,
    pub value: Option<String>,
    pub message: String,
    pub allowed: Vec<String>,
}

impl InputError {
    /// The page sent something that is not an object of strings.
    pub fn shape(reason: String) -> Self {
        InputError {
            field: None,
            value: None,
            message: format!("criteria must be an object of strings: {reason}"),
            allowed: Vec::new(),
        }
    }

    pub fn selector(selector: &str, message: String) -> Self {
        InputError {
            field: Some("selector".into()),
            value: Some(selector.into()),
            message,
            allowed: Vec::new(),
        }
    }

    /// A component's values file is missing (impossible for a validated catalog).
    pub fn values(e: MissingValuesFile) -> Self {
        InputError::whole(format!("values hydration failed: {e}"))
    }

    /// A whole-recipe error, not tied to a form field.
    pub fn whole(message: String) -> Self {
        InputError {
            field: None,
            value: None,
            message,
            allowed: Vec::new(),
        }
    }

    /// An error at `field` (a bundle option, or a JSON path into the recipe document).
    pub fn at(field: String, message: String) -> Self {
        InputError {
            field: Some(field),
            ..InputError::whole(message)
        }
    }
}

/// Parses raw criteria with the engine's own parser (aliases, case, trimming, the first
/// bad field in upstream's order); an unknown key is an error too.
pub fn criteria(raw: &RawCriteria) -> Result<Criteria, InputError> {
    if let Some(key) = raw
        .0
        .keys()
        .find(|k| !Field::ALL.iter().any(|f| f.as_str() == k.as_str()))
    {
        return Err(InputError {
            field: Some(key.clone()),
            value: raw.0.get(key).cloned(),
            message: format!("unknown criteria field {key:?}"),
            allowed: Field::ALL.iter().map(|f| f.as_str().to_owned()).collect(),
        });
    }
    Criteria::from_raw(|f| raw.0.get(f.as_str()).map(String::as_str)).map_err(|e| InputError {
        field: Some(e.field.as_str().to_owned()),
        value: Some(e.value.clone()),
        message: e.to_string(),
        allowed: e.allowed().into_iter().map(str::to_owned).collect(),
    })
}

pub fn resolve<'c>(catalog: &'c Catalog, raw: &RawCriteria) -> Result<Recipe<'c>, InputError> {
    let criteria = criteria(raw)?;
    catalog
        .resolve(&criteria)
        .map_err(|e| InputError::whole(format!("recipe build failed: {e}")))
}

/// The recipe document in the API's own rendering.
pub fn render(recipe: &Recipe<'_>, format: &str) -> Result<String, InputError> {
    let format = Format::negotiate(Some(format), None).map_err(|e| InputError {
        field: Some("format".into()),
        value: Some(format.into()),
        message: e.message,
        allowed: vec!["json".into(), "yaml".into()],
    })?;
    let bytes = format
        .render(recipe)
        .map_err(|e| InputError::whole(e.message))?;
    String::from_utf8(bytes).map_err(|e| InputError::whole(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawCriteria {
        RawCriteria(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn bad_values_name_their_field() {
        let err = criteria(&raw(&[("service", "eks"), ("accelerator", "h999")])).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("accelerator"));
        assert_eq!(err.value.as_deref(), Some("h999"));
        assert!(err.allowed.contains(&"h100".to_owned()));
        let err = criteria(&raw(&[("nodes", "12abc")])).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("nodes"));
        let err = criteria(&raw(&[("gpu", "h100")])).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("gpu"));
    }

    #[test]
    fn render_matches_the_api_and_rejects_other_formats() {
        let catalog = aicr_embedded_catalog::catalog();
        let recipe = resolve(catalog, &raw(&[("service", "EKS"), ("os", "al2")])).unwrap();
        let json = render(&recipe, "json").unwrap();
        assert_eq!(json.into_bytes(), Format::Json.render(&recipe).unwrap());
        assert!(
            render(&recipe, "yaml")
                .unwrap()
                .starts_with("kind: RecipeResult")
        );
        assert_eq!(
            render(&recipe, "xml").unwrap_err().field.as_deref(),
            Some("format")
        );
    }
}

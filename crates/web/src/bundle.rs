//! The page's "Download bundle": the recipe it shows, turned into the zip `/v1/bundle`
//! answers, built in the page.
//!
//! The recipe becomes its `RecipeResult` document ([`RecipeDocument::from_recipe`], as
//! `GET /v1/bundle` does), the body a client would `POST /v1/bundle` after
//! `GET /v1/recipe`; options are parsed by `aicr-bundle` as the API parses its query. The
//! page's zip is therefore the API's, byte for byte.
//!
//! One rule comes from `GET /v1/bundle`, where `nodes` is both a criterion and the
//! bundle's node estimate: when the page's options leave `nodes` blank, the criteria's
//! node count is the estimate, so the page and a `GET` link with the same parameters agree.

use crate::input::InputError;
use aicr_bundle::{BundleOptions, RecipeDocument};
use aicr_recipe::{Catalog, Recipe};
use serde::{Serialize, Serializer};

/// A built bundle for the page: the zip (a `Uint8Array` in JS) and what to tell the user.
#[derive(Debug, Serialize)]
pub struct Download {
    #[serde(serialize_with = "as_bytes")]
    pub zip: Vec<u8>,
    pub files: usize,
    /// Non-fatal findings, e.g. a `set` path that runs through a scalar and was skipped.
    pub warnings: Vec<String>,
}

fn as_bytes<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

/// Option pairs as the page sends them: `[name, value]`, repeated names kept in order.
pub type Pairs = Vec<(String, String)>;

/// Parses the options; an error names the option (the form field) and the entry.
pub fn options(pairs: &Pairs) -> Result<BundleOptions, InputError> {
    let mut options = BundleOptions::default();
    for (name, value) in pairs {
        let refused = |message: String, allowed: Vec<String>| InputError {
            field: Some(name.clone()),
            value: Some(value.clone()),
            message,
            allowed,
        };
        match options.accept(name, value) {
            Ok(true) => {}
            Ok(false) => {
                return Err(refused(
                    format!("unknown bundle option {name:?}"),
                    aicr_bundle::options::OPTION_NAMES
                        .iter()
                        .map(|n| (*n).to_owned())
                        .collect(),
                ));
            }
            Err(e) => return Err(refused(e.message, Vec::new())),
        }
    }
    Ok(options)
}

/// The bundle of `recipe` with the option `pairs`.
pub fn build(
    catalog: &Catalog,
    recipe: &Recipe<'_>,
    pairs: &Pairs,
) -> Result<Download, InputError> {
    let mut options = options(pairs)?;
    let document = RecipeDocument::from_recipe(recipe);
    if options.nodes == 0 {
        options.nodes = document.criteria.as_ref().map_or(0, |c| c.nodes);
    }
    let bundle = aicr_bundle::build(catalog, &document, &options)
        .map_err(|e| InputError::at(e.field, e.message))?;
    Ok(Download {
        zip: bundle.zip(),
        files: bundle.files.len(),
        warnings: bundle.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{RawCriteria, resolve};
    use aicr_api::{Api, Config, Format, RequestContext};

    fn pairs(list: &[(&str, &str)]) -> Pairs {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn recipe(criteria: &[(&str, &str)]) -> Recipe<'static> {
        let raw = RawCriteria(
            criteria
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        resolve(aicr_embedded_catalog::catalog(), &raw).unwrap()
    }

    /// The body of the API's answer to `method target` (with the recipe JSON as a body).
    fn api(method: &str, target: &str, body: Vec<u8>) -> Vec<u8> {
        let api = Api::new(aicr_embedded_catalog::catalog(), Config::default());
        let request = http::Request::builder()
            .method(method)
            .uri(target)
            .header("content-type", "application/json")
            .body(body)
            .unwrap();
        let response = api.handle(&request, &RequestContext::default());
        assert_eq!(response.status(), 200, "{method} {target}");
        response.into_body()
    }

    fn query(pairs: &[(&str, &str)]) -> String {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    const A: &[(&str, &str)] = &[
        ("service", "eks"),
        ("accelerator", "h100"),
        ("os", "ubuntu"),
        ("intent", "training"),
    ];

    #[test]
    fn the_zip_is_what_the_api_answers_to_a_post_of_the_recipe() {
        let recipe = recipe(A);
        let options = [
            ("nodes", "8"),
            ("set", "gpu-operator:driver.version=570.86.15"),
        ];
        let download = build(aicr_embedded_catalog::catalog(), &recipe, &pairs(&options)).unwrap();
        let body = Format::Json.render(&recipe).unwrap();
        let target = format!("/v1/bundle?{}", query(&options));
        assert_eq!(download.zip, api("POST", &target, body));
        assert!(download.files > 10);
    }

    #[test]
    fn blank_nodes_take_the_criteria_node_count_as_get_does() {
        let with_nodes: Vec<(&str, &str)> = A.iter().copied().chain([("nodes", "8")]).collect();
        let recipe = recipe(&with_nodes);
        let download = build(aicr_embedded_catalog::catalog(), &recipe, &Pairs::new()).unwrap();
        let target = format!("/v1/bundle?{}", query(&with_nodes));
        assert_eq!(download.zip, api("GET", &target, Vec::new()));
    }

    #[test]
    fn a_bad_option_names_its_field_and_entry() {
        let recipe = recipe(A);
        let catalog = aicr_embedded_catalog::catalog();
        let e = build(catalog, &recipe, &pairs(&[("nodes", "-1")])).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("nodes"));
        assert_eq!(e.value.as_deref(), Some("-1"));
        assert!(e.message.contains("whole number"), "{}", e.message);
        let e = build(catalog, &recipe, &pairs(&[("colour", "red")])).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("colour"));
        assert!(e.allowed.contains(&"deployer".to_owned()));
    }

    #[test]
    fn a_recipe_that_cannot_be_bundled_names_the_document_field() {
        let recipe = recipe(A);
        let all_off: Vec<String> = recipe
            .deployment_order_names()
            .map(|name| format!("{name}:enabled=false"))
            .collect();
        let options: Pairs = all_off.into_iter().map(|v| ("set".to_owned(), v)).collect();
        let e = build(aicr_embedded_catalog::catalog(), &recipe, &options).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("componentRefs"));
    }
}

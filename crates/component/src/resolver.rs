//! `aicr:recipe/resolver`: engine types to WIT types and back. Every parse and every
//! message comes from `aicr-recipe` (`parse-criteria` included: repeated names and the
//! `gpu` alias follow [`Criteria::from_params`], as the HTTP API and the command line do);
//! this module only changes the shape.

use crate::Component;
use crate::exports::aicr::recipe::resolver::{
    self as wit, CatalogInfo, ComponentRef, Constraint, Error, ExpectedResource, FieldValues,
    Format, InvalidValue, NodeSelection, PhaseName, RecipeConstraint, SelectorMiss, UnknownField,
    ValidationPhase,
};
use aicr_recipe::{
    Accelerator, Catalog, Criteria, CriteriaError, Field, Intent, Os, Platform, QueryError, Recipe,
    Service,
};

/// The catalog compiled into this component.
pub fn catalog() -> &'static Catalog {
    aicr_embedded_catalog::catalog()
}

fn field_to_wit(field: Field) -> wit::Field {
    match field {
        Field::Service => wit::Field::Service,
        Field::Accelerator => wit::Field::Accelerator,
        Field::Intent => wit::Field::Intent,
        Field::Os => wit::Field::Os,
        Field::Platform => wit::Field::Platform,
        Field::Nodes => wit::Field::Nodes,
    }
}

/// Maps an engine enum to its WIT twin (`any` is `None`). The matches are exhaustive both
/// ways, so a value added on one side only fails to compile.
macro_rules! enum_maps {
    ($($engine:ident <=> $wit:ident [$($variant:ident = $wv:ident),+]);+ $(;)?) => {
        $(
            impl From<Option<wit::$wit>> for Wrap<$engine> {
                fn from(v: Option<wit::$wit>) -> Self {
                    Wrap(match v {
                        None => $engine::Any,
                        $(Some(wit::$wit::$wv) => $engine::$variant,)+
                    })
                }
            }
            impl From<$engine> for Wrap<Option<wit::$wit>> {
                fn from(v: $engine) -> Self {
                    Wrap(match v {
                        $engine::Any => None,
                        $($engine::$variant => Some(wit::$wit::$wv),)+
                    })
                }
            }
        )+
    };
}

/// Local wrapper so the conversions above satisfy the orphan rule.
struct Wrap<T>(T);

enum_maps! {
    Service <=> Service [Eks = Eks, Gke = Gke, Aks = Aks, Oke = Oke, Kind = Kind];
    Accelerator <=> Accelerator [H100 = H100, Gb200 = Gb200, B200 = B200, A100 = A100, L40 = L40];
    Intent <=> Intent [Training = Training, Inference = Inference];
    Os <=> Os [Ubuntu = Ubuntu, Rhel = Rhel, Cos = Cos, AmazonLinux = Amazonlinux];
    Platform <=> Platform [Dynamo = Dynamo, Kubeflow = Kubeflow];
}

pub fn criteria_from_wit(c: &wit::Criteria) -> Criteria {
    Criteria {
        service: Wrap::from(c.service).0,
        accelerator: Wrap::from(c.accelerator).0,
        intent: Wrap::from(c.intent).0,
        os: Wrap::from(c.os).0,
        platform: Wrap::from(c.platform).0,
        nodes: c.nodes,
    }
}

fn criteria_to_wit(c: &Criteria) -> wit::Criteria {
    wit::Criteria {
        service: Wrap::from(c.service).0,
        accelerator: Wrap::from(c.accelerator).0,
        intent: Wrap::from(c.intent).0,
        os: Wrap::from(c.os).0,
        platform: Wrap::from(c.platform).0,
        nodes: c.nodes,
    }
}

pub fn criteria_error(e: &CriteriaError) -> Error {
    Error::InvalidCriteria(InvalidValue {
        field: field_to_wit(e.field),
        value: e.value.clone(),
        allowed: e.allowed().into_iter().map(str::to_owned).collect(),
        message: e.to_string(),
    })
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

pub fn resolve(criteria: &Criteria) -> Result<Recipe<'static>, Error> {
    catalog().resolve(criteria).map_err(internal)
}

/// The bundle of the recipe for `criteria`, with the API's option pairs.
pub fn bundle(
    criteria: &Criteria,
    options: &[(String, String)],
) -> Result<aicr_bundle::Bundle, wit::BundleProblem> {
    let problem = |field: &str, message: String| wit::BundleProblem {
        field: field.to_owned(),
        message,
    };
    let options = aicr_bundle::BundleOptions::from_pairs(
        options.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|e| problem(e.parameter, e.message))?;
    let recipe = resolve(criteria).map_err(|e| problem("criteria", format!("{e:?}")))?;
    let document = aicr_bundle::RecipeDocument::from_recipe(&recipe);
    aicr_bundle::build(catalog(), &document, &options).map_err(|e| problem(&e.field, e.message))
}

fn constraint(c: &aicr_recipe::Constraint) -> Constraint {
    Constraint {
        name: c.name.clone(),
        value: c.value.clone(),
        severity: c.severity.clone(),
        remediation: c.remediation.clone(),
        unit: c.unit.clone(),
    }
}

fn strings<S: AsRef<str>>(list: &[S]) -> Vec<String> {
    list.iter().map(|s| s.as_ref().to_owned()).collect()
}

fn recipe_to_wit(recipe: &Recipe<'_>, hydrate: bool) -> Result<wit::Recipe, Error> {
    let mut components = Vec::with_capacity(recipe.components.len());
    for c in &recipe.components {
        let overrides: serde_json::Map<String, serde_json::Value> = c
            .overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).clone()))
            .collect();
        let values = if hydrate {
            let map = recipe.values_of(c).map_err(internal)?;
            Some(serde_json::to_string(&map).map_err(internal)?)
        } else {
            None
        };
        components.push(ComponentRef {
            name: c.name.to_owned(),
            namespace: c.namespace.to_owned(),
            chart: c.chart.to_owned(),
            kind: c.kind.to_owned(),
            source: c.source.to_owned(),
            version: c.version.to_owned(),
            tag: c.tag.to_owned(),
            values_file: c.values_file.to_owned(),
            overrides: serde_json::to_string(&overrides).map_err(internal)?,
            patches: strings(c.patches),
            dependency_refs: strings(c.dependency_refs),
            manifest_files: strings(&c.manifest_files),
            path: c.path.to_owned(),
            cleanup: c.cleanup,
            expected_resources: c
                .expected_resources
                .iter()
                .map(|r| ExpectedResource {
                    kind: r.kind.clone(),
                    name: r.name.clone(),
                    namespace: r.namespace.clone(),
                })
                .collect(),
            health_check_asserts: c.health_check_asserts.to_owned(),
            enabled: c.enabled(),
            touched_by: strings(&c.touched_by),
            version_from: c.version_from.to_owned(),
            values,
        });
    }
    Ok(wit::Recipe {
        criteria: criteria_to_wit(&recipe.criteria),
        engine_version: aicr_recipe::ENGINE_VERSION.to_owned(),
        applied_overlays: strings(&recipe.applied_overlays),
        constraints: recipe
            .constraints
            .iter()
            .map(|c| RecipeConstraint {
                constraint: constraint(c.constraint),
                set_by: c.set_by.to_owned(),
            })
            .collect(),
        components,
        deployment_order: recipe.deployment_order_names().map(str::to_owned).collect(),
        validation: recipe
            .validation
            .iter()
            .map(|p| ValidationPhase {
                name: match p.name {
                    "readiness" => PhaseName::Readiness,
                    "deployment" => PhaseName::Deployment,
                    "performance" => PhaseName::Performance,
                    _ => PhaseName::Conformance,
                },
                timeout: p.phase.timeout.clone(),
                constraints: p.phase.constraints.iter().map(constraint).collect(),
                checks: p.phase.checks.clone(),
                node_selection: p.phase.node_selection.as_ref().map(|n| NodeSelection {
                    selector: n
                        .selector
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    max_nodes: n.max_nodes,
                    exclude_nodes: n.exclude_nodes.clone(),
                }),
                infrastructure: p.phase.infrastructure.clone(),
                set_by: p.set_by.to_owned(),
            })
            .collect(),
    })
}

/// The API's own renderer, so `render` gives the bytes `GET /v1/recipe` gives.
pub fn render_value<T: serde::Serialize + ?Sized>(
    value: &T,
    format: aicr_api::Format,
) -> Result<String, Error> {
    let bytes = format
        .render(value)
        .map_err(|e| Error::Internal(e.message))?;
    String::from_utf8(bytes).map_err(internal)
}

fn api_format(format: Format) -> aicr_api::Format {
    match format {
        Format::Json => aicr_api::Format::Json,
        Format::Yaml => aicr_api::Format::Yaml,
    }
}

pub fn query(recipe: &Recipe<'_>, selector: &str) -> Result<serde_json::Value, Error> {
    recipe.query(selector).map_err(|e| match e {
        QueryError::NotFound { selector, reason } => Error::SelectorNotFound(SelectorMiss {
            selector,
            message: reason,
        }),
        other => internal(other),
    })
}

/// The values of `field` that some overlay's criteria names.
fn in_catalog(field: Field) -> Vec<String> {
    let mut used: Vec<String> = catalog()
        .overlays()
        .iter()
        .filter_map(|o| o.criteria.as_ref())
        .filter(|c| !c.is_open(field))
        .map(|c| c.field_text(field).into_owned())
        .collect();
    used.sort_unstable();
    used.dedup();
    used
}

impl wit::Guest for Component {
    fn parse_criteria(raw: Vec<(String, String)>) -> Result<wit::Criteria, Error> {
        if let Some((name, _)) = raw
            .iter()
            .find(|(name, _)| !Field::PARAMETERS.contains(&name.as_str()))
        {
            return Err(Error::UnknownField(UnknownField {
                name: name.clone(),
                allowed: strings(&Field::PARAMETERS),
            }));
        }
        Criteria::from_params(&raw)
            .map(|c| criteria_to_wit(&c))
            .map_err(|e| criteria_error(&e))
    }

    fn resolve(criteria: wit::Criteria, hydrate: bool) -> Result<wit::Recipe, Error> {
        recipe_to_wit(&resolve(&criteria_from_wit(&criteria))?, hydrate)
    }

    fn render(criteria: wit::Criteria, format: Format) -> Result<String, Error> {
        render_value(&resolve(&criteria_from_wit(&criteria))?, api_format(format))
    }

    fn query(criteria: wit::Criteria, selector: String, format: Format) -> Result<String, Error> {
        let recipe = resolve(&criteria_from_wit(&criteria))?;
        render_value(&query(&recipe, &selector)?, api_format(format))
    }

    fn allowed_values() -> Vec<FieldValues> {
        Field::ALL
            .iter()
            .map(|&field| FieldValues {
                field: field_to_wit(field),
                allowed: strings(field.allowed_values()),
                in_catalog: in_catalog(field),
                aliases: field
                    .aliases()
                    .iter()
                    .map(|(a, c)| ((*a).to_owned(), (*c).to_owned()))
                    .collect(),
            })
            .collect()
    }

    fn bundle(
        criteria: wit::Criteria,
        options: Vec<(String, String)>,
    ) -> Result<wit::BundleOutput, wit::BundleProblem> {
        let built = bundle(&criteria_from_wit(&criteria), &options)?;
        Ok(wit::BundleOutput {
            zip: built.zip(),
            warnings: built.warnings,
            files: built
                .files
                .into_iter()
                .map(|f| wit::BundleFile {
                    path: f.path,
                    contents: f.bytes,
                    executable: f.executable,
                })
                .collect(),
        })
    }

    fn catalog() -> CatalogInfo {
        let info = catalog().info();
        CatalogInfo {
            name: info.name.clone(),
            version: info.version.clone(),
            digest: info.digest.clone(),
            overlays: catalog().overlays().len() as u32,
            components: catalog().component_count() as u32,
            engine_version: aicr_recipe::ENGINE_VERSION.to_owned(),
        }
    }
}

//! One function per route. Every path from a request to criteria goes through
//! [`Criteria::from_raw`], so GET, JSON and YAML bodies parse and fail the same way.

use crate::config::NotAllowed;
use crate::context::RequestContext;
use crate::errors::{ApiError, ErrorCode, truncate};
use crate::etag::strong_etag;
use crate::handler::{Api, Success};
use crate::query_string::QueryParams;
use crate::render::{Format, is_yaml, media_type};
use crate::{MAX_BODY_BYTES, MAX_SELECTOR_BYTES};
use aicr_recipe::{Criteria, CriteriaError, Field, QueryError, Recipe};
use http::{Method, Request, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

/// The API routes, as listed by `/` and in 404 answers.
pub const ROUTES: &[&str] = &["/health", "/ready", "/v1/query", "/v1/recipe"];

type Answer = Result<Success, ApiError>;

const RECIPE_CRITERIA_KIND: &str = "RecipeCriteria";

/// Criteria fields of a body (`spec` of a RecipeCriteria, `criteria` of a query).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CriteriaFields {
    service: Option<String>,
    accelerator: Option<String>,
    intent: Option<String>,
    os: Option<String>,
    platform: Option<String>,
    nodes: Option<u32>,
}

impl CriteriaFields {
    fn criteria(&self) -> Result<Criteria, CriteriaError> {
        let mut c = Criteria::from_raw(|f| match f {
            Field::Service => self.service.as_deref(),
            Field::Accelerator => self.accelerator.as_deref(),
            Field::Intent => self.intent.as_deref(),
            Field::Os => self.os.as_deref(),
            Field::Platform => self.platform.as_deref(),
            Field::Nodes => None,
        })?;
        c.nodes = self.nodes.unwrap_or(0);
        Ok(c)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetadataDoc {
    #[serde(rename = "name")]
    _name: Option<String>,
}

/// A `RecipeCriteria` document (POST /v1/recipe).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RecipeCriteriaDoc {
    kind: Option<String>,
    api_version: Option<String>,
    #[serde(rename = "metadata")]
    _metadata: Option<MetadataDoc>,
    spec: Option<CriteriaFields>,
}

/// A query body (POST /v1/query).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryDoc {
    criteria: Option<CriteriaFields>,
    selector: Option<String>,
}

fn criteria_error(message: &str, e: &CriteriaError) -> ApiError {
    ApiError::criteria(message, e)
}

fn allowlist(api: &Api<'_>, c: &Criteria) -> Result<(), ApiError> {
    api.config.allowlists.check(c).map_err(
        |NotAllowed {
             field,
             requested,
             allowed,
         }| {
            let noun = match field {
                Field::Os => "OS".to_owned(),
                f => f.as_str().to_owned(),
            };
            ApiError::bad_request(format!("{noun} type not allowed"))
                .detail("parameter", field.as_str())
                .detail("requested", requested)
                .detail("allowed", allowed)
        },
    )
}

/// Criteria from GET parameters; `gpu` stands in for an absent or empty `accelerator`.
fn criteria_from_params(params: &QueryParams, message: &str) -> Result<Criteria, ApiError> {
    Criteria::from_raw(|f| match f {
        Field::Accelerator => params
            .get("accelerator")
            .filter(|v| !v.is_empty())
            .or_else(|| params.get("gpu")),
        f => params.get(f.as_str()),
    })
    .map_err(|e| criteria_error(message, &e))
}

/// Parses a request body as JSON or YAML by its Content-Type: YAML types as YAML, JSON or
/// none as JSON, anything else tried as JSON. Size-limited.
fn parse_body<T: serde::de::DeserializeOwned>(
    request: &Request<Vec<u8>>,
    message: &str,
) -> Result<Option<T>, ApiError> {
    let body = request.body();
    if body.len() > MAX_BODY_BYTES {
        return Err(
            ApiError::new(ErrorCode::PayloadTooLarge, "Request body too large")
                .detail("limit", MAX_BODY_BYTES)
                .detail("received", body.len()),
        );
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(message).detail("error", "request body is empty"));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = media_type(content_type);
    let failed = |what: &str, e: String| {
        ApiError::bad_request(message)
            .detail("error", format!("{what}: {e}"))
            .detail("contentType", truncate(content_type))
    };
    if is_yaml(&media) {
        return serde_norway::from_slice(body)
            .map_err(|e| failed("failed to parse YAML body", e.to_string()));
    }
    serde_json::from_slice(body).map_err(|e| {
        if media.is_empty() || media == "application/json" || media.ends_with("+json") {
            failed("failed to parse JSON body", e.to_string())
        } else {
            failed(
                &format!("unsupported content type {media:?} (use application/json or application/yaml), and the body is not valid JSON either"),
                e.to_string(),
            )
        }
    })
}

fn recipe_criteria(
    api: &Api<'_>,
    request: &Request<Vec<u8>>,
    params: &QueryParams,
) -> Result<Criteria, ApiError> {
    const MESSAGE: &str = "Invalid recipe criteria";
    let criteria = if request.method() == Method::POST {
        match parse_body::<RecipeCriteriaDoc>(request, MESSAGE)? {
            None => Criteria::default(),
            Some(doc) => {
                if let Some(kind) = doc
                    .kind
                    .as_deref()
                    .filter(|k| !k.is_empty() && *k != RECIPE_CRITERIA_KIND)
                {
                    return Err(ApiError::bad_request(MESSAGE).detail(
                        "error",
                        format!(
                            "invalid kind {:?}, expected {RECIPE_CRITERIA_KIND:?}",
                            truncate(kind)
                        ),
                    ));
                }
                if let Some(v) = doc
                    .api_version
                    .as_deref()
                    .filter(|v| !v.is_empty() && *v != aicr_recipe::API_VERSION)
                {
                    return Err(ApiError::bad_request(MESSAGE).detail(
                        "error",
                        format!(
                            "invalid apiVersion {:?}, expected {:?}",
                            truncate(v),
                            aicr_recipe::API_VERSION
                        ),
                    ));
                }
                doc.spec
                    .unwrap_or_default()
                    .criteria()
                    .map_err(|e| criteria_error(MESSAGE, &e))?
            }
        }
    } else {
        criteria_from_params(params, MESSAGE)?
    };
    allowlist(api, &criteria)?;
    Ok(criteria)
}

fn accept(request: &Request<Vec<u8>>) -> Option<&str> {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
}

fn resolve<'c>(api: &Api<'c>, criteria: &Criteria) -> Result<Recipe<'c>, ApiError> {
    api.catalog.resolve(criteria).map_err(|e| {
        ApiError::new(ErrorCode::Internal, "Recipe build failed").detail("error", e.to_string())
    })
}

fn criteria_key(c: &Criteria) -> String {
    Field::ALL
        .iter()
        .map(|f| c.field_text(*f))
        .collect::<Vec<_>>()
        .join("/")
}

/// A cacheable 200: the ETag names the representation (catalog digest, route, normalised
/// inputs, format), so a matching `If-None-Match` skips resolving and rendering; the
/// handler then answers 304.
fn cacheable(
    api: &Api<'_>,
    request: &Request<Vec<u8>>,
    format: Format,
    key: &[&str],
    render: impl FnOnce() -> Result<Vec<u8>, ApiError>,
) -> Answer {
    let digest = api.catalog.info().digest.as_str();
    let parts: Vec<&str> = std::iter::once(digest)
        .chain(key.iter().copied())
        .chain([format.as_str()])
        .collect();
    let etag = strong_etag(&parts);
    let known =
        crate::handler::if_none_match(request).is_some_and(|h| crate::etag::lists_tag(h, &etag));
    let body = if known { Vec::new() } else { render()? };
    Ok(Success {
        status: StatusCode::OK,
        content_type: format.content_type(),
        body,
        etag: Some(etag),
    })
}

pub fn recipe(api: &Api<'_>, request: &Request<Vec<u8>>, _ctx: &RequestContext) -> Answer {
    let params = QueryParams::parse(request.uri().query())?;
    let format = Format::negotiate(params.get("format"), accept(request))?;
    let criteria = recipe_criteria(api, request, &params)?;
    cacheable(
        api,
        request,
        format,
        &["recipe", &criteria_key(&criteria)],
        || format.render(&resolve(api, &criteria)?),
    )
}

pub fn query(api: &Api<'_>, request: &Request<Vec<u8>>, _ctx: &RequestContext) -> Answer {
    let params = QueryParams::parse(request.uri().query())?;
    let format = Format::negotiate(params.get("format"), accept(request))?;
    let (criteria, selector) = if request.method() == Method::POST {
        const MESSAGE: &str = "Invalid query request body";
        let Some(doc) = parse_body::<QueryDoc>(request, MESSAGE)? else {
            return Err(ApiError::bad_request(MESSAGE).detail(
                "error",
                "the body is null; send {criteria: {...}, selector: ...}",
            ));
        };
        let Some(fields) = doc.criteria else {
            return Err(
                ApiError::bad_request("Query criteria cannot be empty").detail(
                    "error",
                    "the body has no \"criteria\" object; send {} for all-any criteria",
                ),
            );
        };
        let criteria = fields
            .criteria()
            .map_err(|e| criteria_error("Invalid criteria in request body", &e))?;
        (criteria, doc.selector.unwrap_or_default())
    } else {
        let criteria = criteria_from_params(&params, "Invalid query criteria")?;
        (criteria, params.get("selector").unwrap_or("").to_owned())
    };
    if selector.len() > MAX_SELECTOR_BYTES {
        return Err(ApiError::bad_request("Selector too long")
            .detail("parameter", "selector")
            .detail("limit", MAX_SELECTOR_BYTES)
            .detail("received", selector.len()));
    }
    allowlist(api, &criteria)?;
    cacheable(
        api,
        request,
        format,
        &["query", &criteria_key(&criteria), &selector],
        || {
            let value = resolve(api, &criteria)?
                .query(&selector)
                .map_err(|e| match e {
                    QueryError::NotFound { .. } => {
                        ApiError::new(ErrorCode::NotFound, "Selector path not found")
                            .detail("selector", truncate(&selector))
                            .detail("error", e.to_string())
                    }
                    QueryError::Values(_) => {
                        ApiError::new(ErrorCode::Internal, "Values hydration failed")
                            .detail("error", e.to_string())
                    }
                })?;
            format.render(&value)
        },
    )
}

pub fn bundle(_api: &Api<'_>, _request: &Request<Vec<u8>>, _ctx: &RequestContext) -> Answer {
    Err(ApiError::new(
        ErrorCode::NotImplemented,
        "Bundle generation is not offered by this server",
    )
    .detail(
        "error",
        "use the aicr CLI (`aicr bundle`) with a recipe from /v1/recipe",
    ))
}

pub fn root(api: &Api<'_>, _request: &Request<Vec<u8>>, _ctx: &RequestContext) -> Answer {
    let info = api.catalog.info();
    Ok(Success::json(
        StatusCode::OK,
        &json!({
            "service": "aicr-edge",
            "version": aicr_recipe::ENGINE_VERSION,
            "routes": ROUTES,
            "catalog": { "name": info.name, "version": info.version, "digest": info.digest },
        }),
    ))
}

pub fn health(_api: &Api<'_>, _request: &Request<Vec<u8>>, ctx: &RequestContext) -> Answer {
    Ok(Success::json(
        StatusCode::OK,
        &json!({ "status": "healthy", "timestamp": ctx.timestamp() }),
    ))
}

/// The OpenAPI 3.1 document of this API (`openapi.json` beside this crate's manifest;
/// the worker's end-to-end tests check it against this crate's behaviour).
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

pub fn openapi(_api: &Api<'_>, _request: &Request<Vec<u8>>, _ctx: &RequestContext) -> Answer {
    let etag = strong_etag(&["openapi", OPENAPI_JSON]);
    let body = OPENAPI_JSON.as_bytes().to_vec();
    Ok(Success {
        status: StatusCode::OK,
        content_type: "application/json",
        body,
        etag: Some(etag),
    })
}

/// Always ready: the catalog is embedded and was validated when the binary was built.
pub fn ready(_api: &Api<'_>, _request: &Request<Vec<u8>>, ctx: &RequestContext) -> Answer {
    Ok(Success::json(
        StatusCode::OK,
        &json!({ "status": "ready", "timestamp": ctx.timestamp() }),
    ))
}

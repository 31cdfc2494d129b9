//! The route table and one function per v1 route (the `/v2` ones are in `crate::v2`,
//! built from the helpers here). Every path from a request to criteria goes through
//! [`Criteria::from_raw`], so GET, JSON and YAML bodies parse and fail the same way, in
//! either version.

use crate::config::NotAllowed;
use crate::context::RequestContext;
use crate::errors::{ApiError, ErrorCode, elide_quoted, parser_message, truncate};
use crate::etag::strong_etag;
use crate::handler::{Api, Caching, Success};
use crate::query_string::QueryParams;
use crate::render::{BodyType, Format};
use crate::{MAX_BODY_BYTES, MAX_SELECTOR_BYTES};
use aicr_recipe::{Criteria, CriteriaError, Field, QueryError, Recipe, ResolveError};
use http::{Method, Request, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

type Answer = Result<Success, ApiError>;

/// A route's answer function.
type RouteFn = for<'a, 'c> fn(&'a Api<'c>, &'a Request<Vec<u8>>, &'a RequestContext) -> Answer;

/// One served path: the methods it answers (anything else is 405 with `Allow`) and the
/// function that answers them.
pub(crate) struct Route {
    pub path: &'static str,
    pub methods: &'static [&'static str],
    pub answer: RouteFn,
}

const RECIPE_METHODS: &[&str] = &["GET", "HEAD", "POST", "OPTIONS"];
const READ_ONLY_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];
const BUNDLE_METHODS: &[&str] = &["GET", "POST", "OPTIONS"];

/// Every route served, sorted by path. Routing, the `routes` of `/` and of a 404 all read
/// this one table, so no list can name a route that is not served or miss one that is.
static ROUTES: [Route; 10] = [
    Route {
        path: "/",
        methods: READ_ONLY_METHODS,
        answer: root,
    },
    Route {
        path: "/health",
        methods: READ_ONLY_METHODS,
        answer: health,
    },
    Route {
        path: "/openapi.json",
        methods: READ_ONLY_METHODS,
        answer: openapi,
    },
    Route {
        path: "/ready",
        methods: READ_ONLY_METHODS,
        answer: ready,
    },
    Route {
        path: "/v1/bundle",
        methods: BUNDLE_METHODS,
        answer: crate::bundle::bundle,
    },
    Route {
        path: "/v1/query",
        methods: RECIPE_METHODS,
        answer: query,
    },
    Route {
        path: "/v1/recipe",
        methods: RECIPE_METHODS,
        answer: recipe,
    },
    Route {
        path: "/v2/bundle",
        methods: BUNDLE_METHODS,
        answer: crate::v2::bundle,
    },
    Route {
        path: "/v2/query",
        methods: RECIPE_METHODS,
        answer: crate::v2::query,
    },
    Route {
        path: "/v2/recipe",
        methods: RECIPE_METHODS,
        answer: crate::v2::recipe,
    },
];

impl Route {
    pub fn find(path: &str) -> Option<&'static Route> {
        ROUTES.iter().find(|r| r.path == path)
    }

    /// Every served path, sorted.
    pub fn paths() -> Vec<&'static str> {
        ROUTES.iter().map(|r| r.path).collect()
    }
}

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
    #[serde(default, deserialize_with = "node_count")]
    nodes: Option<u32>,
}

/// A body's `nodes`: a whole number from 0 to `u32::MAX`, or null (unspecified). A whole
/// number written with a fraction (`8.0`, YAML's `8.0` too) is that number: JSON Schema,
/// which the OpenAPI document speaks, calls it an integer, so a client generating from
/// the document may send it. `8.5`, strings and out-of-range numbers stay 400s.
fn node_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    struct Count;
    impl serde::de::Visitor<'_> for Count {
        type Value = Option<u32>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number from 0 to 4294967295")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
            u32::try_from(n)
                .map(Some)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(n), &self))
        }
        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Self::Value, E> {
            u32::try_from(n)
                .map(Some)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(n), &self))
        }
        fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Self::Value, E> {
            if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) {
                // Whole and in range: the cast is exact.
                Ok(Some(n as u32))
            } else {
                Err(E::invalid_value(serde::de::Unexpected::Float(n), &self))
            }
        }
    }
    d.deserialize_any(Count)
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

/// A body document that must be a JSON object or YAML mapping. Serde's derived structs
/// also take a sequence, filling fields by position (`[null, null, null, null]` was a
/// RecipeCriteria), which no client means and upstream refused; this takes a map only.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Map<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Map<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Map(std::marker::PhantomData)).map(Object)
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
    _metadata: Option<Object<MetadataDoc>>,
    spec: Option<Object<CriteriaFields>>,
}

/// A query body (POST /v1/query).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryDoc {
    criteria: Option<Object<CriteriaFields>>,
    selector: Option<String>,
}

fn criteria_error(message: &str, e: &CriteriaError) -> ApiError {
    ApiError::criteria(message, e)
}

pub(crate) fn allowlist(api: &Api<'_>, c: &Criteria) -> Result<(), ApiError> {
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
    Criteria::from_params(params.pairs()).map_err(|e| criteria_error(message, &e))
}

/// The request body, or 413 when it is over [`MAX_BODY_BYTES`].
pub(crate) fn bounded_body(request: &Request<Vec<u8>>) -> Result<&[u8], ApiError> {
    let body = request.body();
    if body.len() > MAX_BODY_BYTES {
        return Err(
            ApiError::new(ErrorCode::PayloadTooLarge, "Request body too large")
                .detail("limit", MAX_BODY_BYTES)
                .detail("received", body.len()),
        );
    }
    Ok(body)
}

/// Parses a request body as JSON or YAML by its Content-Type: YAML types as YAML, JSON or
/// none as JSON, anything else tried as JSON. Size-limited; parser messages are bounded
/// (they quote the input).
fn parse_body<T: serde::de::DeserializeOwned>(
    request: &Request<Vec<u8>>,
    message: &str,
) -> Result<Option<T>, ApiError> {
    let body = bounded_body(request)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(message).detail("error", "request body is empty"));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        ApiError::bad_request(message)
            .detail("error", format!("{what}: {}", parser_message(&e)))
            .detail("contentType", truncate(content_type))
    };
    match BodyType::of(content_type) {
        BodyType::Yaml => {
            serde_norway::from_slice(body).map_err(|e| failed("failed to parse YAML body", &e))
        }
        BodyType::Json => {
            serde_json::from_slice(body).map_err(|e| failed("failed to parse JSON body", &e))
        }
        BodyType::Other => serde_json::from_slice(body).map_err(|e| {
            failed(
                "unsupported content type (use application/json or application/yaml), \
                 and the body is not valid JSON either",
                &e,
            )
        }),
    }
}

/// `kind` or `apiVersion` of a RecipeCriteria document: absent, empty or `expected`.
fn expect_field(
    message: &str,
    field: &str,
    found: Option<&str>,
    expected: &str,
) -> Result<(), ApiError> {
    match found.filter(|f| !f.is_empty() && *f != expected) {
        None => Ok(()),
        Some(found) => Err(ApiError::bad_request(message).detail(
            "error",
            elide_quoted(&format!("invalid {field} {found:?}, expected {expected:?}")),
        )),
    }
}

pub(crate) fn recipe_criteria(
    api: &Api<'_>,
    request: &Request<Vec<u8>>,
    params: &QueryParams,
) -> Result<Criteria, ApiError> {
    const MESSAGE: &str = "Invalid recipe criteria";
    let criteria = if request.method() == Method::POST {
        match parse_body::<Object<RecipeCriteriaDoc>>(request, MESSAGE)? {
            None => Criteria::default(),
            Some(Object(doc)) => {
                expect_field(MESSAGE, "kind", doc.kind.as_deref(), RECIPE_CRITERIA_KIND)?;
                expect_field(
                    MESSAGE,
                    "apiVersion",
                    doc.api_version.as_deref(),
                    aicr_recipe::API_VERSION,
                )?;
                doc.spec
                    .map(|Object(spec)| spec)
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

pub(crate) fn accept(request: &Request<Vec<u8>>) -> Option<&str> {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
}

pub(crate) fn resolve<'a>(api: &'a Api<'_>, criteria: &Criteria) -> Result<Recipe<'a>, ApiError> {
    api.catalog.resolve(criteria).map_err(build_failed)
}

/// The 500 of a recipe that cannot be built (impossible for a catalog that passed
/// `Catalog::check_all_recipes`, as the embedded one has).
pub(crate) fn build_failed(e: ResolveError) -> ApiError {
    ApiError::new(ErrorCode::Internal, "Recipe build failed").detail("error", e.to_string())
}

pub(crate) fn criteria_key(c: &Criteria) -> String {
    Field::ALL
        .iter()
        .map(|f| c.field_text(*f))
        .collect::<Vec<_>>()
        .join("/")
}

/// The strong ETag of the representation `key` names (route, normalised inputs, format):
/// the engine's and the API's versions, the build identity and the catalog digest come
/// first, so the tag changes whenever the bytes can.
pub(crate) fn representation_tag(api: &Api<'_>, key: &[&str]) -> String {
    let engine = [
        aicr_recipe::ENGINE_VERSION,
        env!("CARGO_PKG_VERSION"),
        api.build,
        api.catalog.info().digest.as_str(),
    ];
    let parts: Vec<&str> = engine.into_iter().chain(key.iter().copied()).collect();
    strong_etag(&parts)
}

/// Whether the request's `If-None-Match` lists `tag`: then the handler answers 304 (or
/// 412) and nothing need be rendered.
pub(crate) fn client_has(request: &Request<Vec<u8>>, tag: &str) -> bool {
    crate::handler::if_none_match(request).is_some_and(|h| crate::etag::lists_tag(h, tag))
}

/// A cacheable 200: the strong ETag names the representation by everything its bytes
/// depend on (engine crate versions and build identity, catalog digest, API version,
/// route, normalised inputs, format), so a matching `If-None-Match` skips resolving and
/// rendering (the handler then answers 304 for GET and HEAD, 412 for POST), and so does a
/// tag whose bytes the API rendered before (its memo). v1 keys start with the route, v2
/// keys with `v2`.
pub(crate) fn cacheable(
    api: &Api<'_>,
    request: &Request<Vec<u8>>,
    format: Format,
    key: &[&str],
    render: impl FnOnce() -> Result<Vec<u8>, ApiError>,
) -> Answer {
    let parts: Vec<&str> = key.iter().copied().chain([format.as_str()]).collect();
    let etag = representation_tag(api, &parts);
    let known = api.tag_only || client_has(request, &etag);
    let body = if known {
        Vec::new()
    } else {
        api.memo.body(&etag, render)?
    };
    Ok(Success {
        status: StatusCode::OK,
        content_type: format.content_type(),
        body,
        caching: Caching::Tagged(etag),
        headers: Vec::new(),
    })
}

fn recipe(api: &Api<'_>, request: &Request<Vec<u8>>, _ctx: &RequestContext) -> Answer {
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

/// The criteria and selector of a query (GET parameters, or a `{criteria, selector}` body),
/// the selector within [`MAX_SELECTOR_BYTES`], the criteria within the allowlists. The
/// selector is not parsed: each version reads it its own way.
pub(crate) fn query_inputs(
    api: &Api<'_>,
    request: &Request<Vec<u8>>,
    params: &QueryParams,
) -> Result<(Criteria, String), ApiError> {
    let (criteria, selector) = if request.method() == Method::POST {
        const MESSAGE: &str = "Invalid query request body";
        let Some(Object(doc)) = parse_body::<Object<QueryDoc>>(request, MESSAGE)? else {
            return Err(ApiError::bad_request(MESSAGE).detail(
                "error",
                "the body is null; send {criteria: {...}, selector: ...}",
            ));
        };
        let Some(Object(fields)) = doc.criteria else {
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
        let criteria = criteria_from_params(params, "Invalid query criteria")?;
        (criteria, params.get("selector").unwrap_or("").to_owned())
    };
    if selector.len() > MAX_SELECTOR_BYTES {
        return Err(ApiError::bad_request("Selector too long")
            .detail("parameter", "selector")
            .detail("limit", MAX_SELECTOR_BYTES)
            .detail("received", selector.len()));
    }
    allowlist(api, &criteria)?;
    Ok((criteria, selector))
}

fn query(api: &Api<'_>, request: &Request<Vec<u8>>, _ctx: &RequestContext) -> Answer {
    let params = QueryParams::parse(request.uri().query())?;
    let format = Format::negotiate(params.get("format"), accept(request))?;
    let (criteria, selector) = query_inputs(api, request, &params)?;
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
                            .detail("error", elide_quoted(&e.to_string()))
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

fn root(api: &Api<'_>, _request: &Request<Vec<u8>>, _ctx: &RequestContext) -> Answer {
    let info = api.catalog.info();
    Ok(Success::json(
        &json!({
            "service": "aicr-edge",
            "version": aicr_recipe::ENGINE_VERSION,
            "routes": Route::paths(),
            "catalog": { "name": info.name, "version": info.version, "digest": info.digest },
        }),
        Caching::Unspecified,
    ))
}

fn health(_api: &Api<'_>, _request: &Request<Vec<u8>>, ctx: &RequestContext) -> Answer {
    Ok(Success::json(
        &json!({ "status": "healthy", "timestamp": ctx.timestamp() }),
        Caching::NoStore,
    ))
}

/// The OpenAPI 3.1 document of this API (`openapi.json` beside this crate's manifest;
/// the worker's end-to-end tests check it against this crate's behaviour).
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

fn openapi(_api: &Api<'_>, _request: &Request<Vec<u8>>, _ctx: &RequestContext) -> Answer {
    Ok(Success {
        status: StatusCode::OK,
        content_type: "application/json",
        body: OPENAPI_JSON.as_bytes().to_vec(),
        caching: Caching::Tagged(strong_etag(&["openapi", OPENAPI_JSON])),
        headers: Vec::new(),
    })
}

/// Always ready: the catalog is embedded and was validated when the binary was built.
fn ready(_api: &Api<'_>, _request: &Request<Vec<u8>>, ctx: &RequestContext) -> Answer {
    Ok(Success::json(
        &json!({ "status": "ready", "timestamp": ctx.timestamp() }),
        Caching::NoStore,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_unique() {
        let paths = Route::paths();
        assert!(paths.windows(2).all(|w| w[0] < w[1]), "{paths:?}");
    }
}

//! The [`Handler`] trait every layer implements, and [`Api`], the innermost handler:
//! routing, method checks and the headers every response carries.

use crate::config::Config;
use crate::context::RequestContext;
use crate::errors::{ApiError, ErrorCode};
use crate::etag::if_none_match_hits;
use crate::{API_VERSION_HEADER_VALUE, routes};
use aicr_recipe::Catalog;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};

/// Anything that answers HTTP requests. Layers (CORS, auth, rate limits, caching,
/// metrics) implement it by wrapping an inner `Handler`.
pub trait Handler {
    fn handle(&self, request: &Request<Vec<u8>>, ctx: &RequestContext) -> Response<Vec<u8>>;
}

/// The API over one catalog and one configuration. Immutable; share it across requests.
#[derive(Debug, Clone)]
pub struct Api<'c> {
    pub(crate) catalog: &'c Catalog,
    pub(crate) config: Config,
}

/// A successful answer before headers are added.
pub(crate) struct Success {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Set for cacheable representations (recipe, query): enables Cache-Control,
    /// ETag and 304.
    pub etag: Option<String>,
}

impl Success {
    pub fn json(status: StatusCode, value: &serde_json::Value) -> Success {
        let mut body = serde_json::to_vec(value).unwrap_or_default();
        body.push(b'\n');
        Success {
            status,
            content_type: "application/json",
            body,
            etag: None,
        }
    }
}

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const API_VERSION: HeaderName = HeaderName::from_static("x-api-version");

/// Methods each route answers; anything else is 405 with `Allow`.
pub(crate) const RECIPE_METHODS: &[&str] = &["GET", "HEAD", "POST", "OPTIONS"];
pub(crate) const READ_ONLY_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];
pub(crate) const BUNDLE_METHODS: &[&str] = &["POST", "OPTIONS"];

/// A route's answer function.
type RouteFn = for<'a, 'c> fn(
    &'a Api<'c>,
    &'a Request<Vec<u8>>,
    &'a RequestContext,
) -> Result<Success, ApiError>;

/// The methods a path allows and the function that answers it.
fn find_route(path: &str) -> Option<(&'static [&'static str], RouteFn)> {
    Some(match path {
        "/v1/recipe" => (RECIPE_METHODS, routes::recipe),
        "/v1/query" => (RECIPE_METHODS, routes::query),
        "/v1/bundle" => (BUNDLE_METHODS, routes::bundle),
        "/" => (READ_ONLY_METHODS, routes::root),
        "/health" => (READ_ONLY_METHODS, routes::health),
        "/ready" => (READ_ONLY_METHODS, routes::ready),
        "/openapi.json" => (READ_ONLY_METHODS, routes::openapi),
        _ => return None,
    })
}

/// The request id to answer with: the client's when it is a UUID (in canonical form),
/// else a fresh one.
fn request_id(request: &Request<Vec<u8>>, ctx: &RequestContext) -> String {
    request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::try_parse(v.trim()).ok())
        .map(|u| u.hyphenated().to_string())
        .unwrap_or_else(|| ctx.fresh_request_id())
}

impl<'c> Api<'c> {
    pub fn new(catalog: &'c Catalog, config: Config) -> Api<'c> {
        Api { catalog, config }
    }

    pub fn catalog(&self) -> &'c Catalog {
        self.catalog
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn route(&self, request: &Request<Vec<u8>>, ctx: &RequestContext) -> Result<Success, ApiError> {
        let method = request.method();
        let path = request.uri().path();
        let Some((allowed, answer)) = find_route(path) else {
            return Err(ApiError::new(ErrorCode::NotFound, "No such route")
                .detail("path", crate::errors::truncate(path))
                .detail("routes", routes::ROUTES));
        };
        if !allowed.contains(&method.as_str()) {
            return Err(ApiError::method_not_allowed(method, allowed));
        }
        if method == Method::OPTIONS {
            return Ok(Success {
                status: StatusCode::NO_CONTENT,
                content_type: "",
                body: Vec::new(),
                etag: None,
            });
        }
        answer(self, request, ctx)
    }
}

/// The request's `If-None-Match` header, if readable.
pub(crate) fn if_none_match(request: &Request<Vec<u8>>) -> Option<&str> {
    request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
}

fn set(response: &mut Response<Vec<u8>>, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

impl Handler for Api<'_> {
    fn handle(&self, request: &Request<Vec<u8>>, ctx: &RequestContext) -> Response<Vec<u8>> {
        let id = request_id(request, ctx);
        let method = request.method().clone();
        let mut response = match self.route(request, ctx) {
            Ok(success) => {
                let not_modified = success.etag.as_deref().is_some_and(|tag| {
                    if_none_match(request).is_some_and(|h| if_none_match_hits(h, tag))
                });
                let (status, body) = if not_modified {
                    (StatusCode::NOT_MODIFIED, Vec::new())
                } else {
                    (success.status, success.body)
                };
                let mut r = Response::new(body);
                *r.status_mut() = status;
                if !success.content_type.is_empty() && !not_modified {
                    set(&mut r, header::CONTENT_TYPE, success.content_type);
                }
                if let Some(tag) = &success.etag {
                    set(&mut r, header::ETAG, tag);
                    set(
                        &mut r,
                        header::CACHE_CONTROL,
                        &format!("public, max-age={}", self.config.cache_max_age),
                    );
                    set(&mut r, header::VARY, "Accept");
                }
                if method == Method::OPTIONS
                    && let Some((allow, _)) = find_route(request.uri().path())
                {
                    set(&mut r, header::ALLOW, &allow.join(", "));
                }
                r
            }
            Err(error) => error.to_response(&id, ctx),
        };
        set(&mut response, API_VERSION, API_VERSION_HEADER_VALUE);
        set(&mut response, REQUEST_ID, &id);
        set(&mut response, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        if method == Method::HEAD {
            let len = response.body().len();
            response.body_mut().clear();
            set(&mut response, header::CONTENT_LENGTH, &len.to_string());
        }
        response
    }
}

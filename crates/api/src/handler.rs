//! [`Api`], the innermost tower `Service` of every host's stack: routing, method checks,
//! conditional requests and the headers every response carries.
//!
//! Caching follows the method (RFC 9110 §9.2.1, §13.1.2, RFC 9111): a GET or HEAD of a
//! recipe or query answer is `public, max-age=N` with a strong ETag and answers a matching
//! `If-None-Match` with 304; a POST answer is `no-store` (its representation is named by
//! the request body, which no cache keys on) and a matching `If-None-Match` makes it 412;
//! errors, liveness and readiness are `no-store`.

use crate::config::{Allowlists, Config};
use crate::context::RequestContext;
use crate::errors::{ApiError, ErrorCode, NO_STORE, truncate};
use crate::etag::if_none_match_hits;
use crate::routes::Route;
use crate::{API_VERSION_HEADER_VALUE, BUILD_IDENTITY};
use aicr_recipe::Catalog;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};

/// The API over one catalog and one configuration. Immutable; share it across requests.
#[derive(Debug, Clone)]
pub struct Api<'c> {
    pub(crate) catalog: CatalogHandle<'c>,
    /// Shared by clones: a host's stack clones the API per request.
    pub(crate) config: std::sync::Arc<Config>,
    /// Names the engine build in every strong ETag (see [`Api::with_build_identity`]).
    pub(crate) build: &'static str,
    /// Rendered recipe and query bodies by strong ETag (shared by clones).
    pub(crate) memo: crate::memo::Memo,
    /// Set only by [`Api::representation_tag`]: a cacheable answer stops at its tag.
    pub(crate) tag_only: bool,
}

/// The catalog an [`Api`] answers from: borrowed (the embedded one, for the life of the
/// program) or shared (a tenant's catalog loaded at run time, kept while any API over it
/// lives).
#[derive(Debug, Clone)]
pub(crate) enum CatalogHandle<'c> {
    Borrowed(&'c Catalog),
    Shared(std::sync::Arc<Catalog>),
}

impl std::ops::Deref for CatalogHandle<'_> {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        match self {
            CatalogHandle::Borrowed(c) => c,
            CatalogHandle::Shared(c) => c,
        }
    }
}

/// How an answer may be cached.
pub(crate) enum Caching {
    /// Nothing said: the service document and OPTIONS.
    Unspecified,
    /// Live state (liveness, readiness): `no-store`.
    NoStore,
    /// A representation named by this strong ETag: conditional requests apply, and the
    /// method decides `Cache-Control`.
    Tagged(String),
}

/// A successful answer before headers are added.
pub(crate) struct Success {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub caching: Caching,
    /// Route-specific headers (a bundle's `Content-Disposition`, `X-Bundle-*`).
    pub headers: Vec<(HeaderName, String)>,
}

impl Success {
    pub fn json(value: &serde_json::Value, caching: Caching) -> Success {
        let mut body = serde_json::to_vec(value).unwrap_or_default();
        body.push(b'\n');
        Success {
            status: StatusCode::OK,
            content_type: "application/json",
            body,
            caching,
            headers: Vec::new(),
        }
    }
}

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const API_VERSION: HeaderName = HeaderName::from_static("x-api-version");

/// The request id to answer with: the client's when it is a UUID (in canonical form),
/// else a fresh one. Layers that answer before the API (a 401, a 429) use it too, so
/// every answer to one request names the same id.
pub fn request_id(request: &Request<Vec<u8>>, ctx: &RequestContext) -> String {
    request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::try_parse(v.trim()).ok())
        .map(|u| u.hyphenated().to_string())
        .unwrap_or_else(|| ctx.fresh_request_id())
}

/// Whether the method only reads (RFC 9110 §9.2.1), so a false `If-None-Match` is a 304.
fn is_safe(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

impl<'c> Api<'c> {
    pub fn new(catalog: &'c Catalog, config: Config) -> Api<'c> {
        Api {
            catalog: CatalogHandle::Borrowed(catalog),
            config: std::sync::Arc::new(config),
            build: BUILD_IDENTITY,
            memo: crate::memo::Memo::default(),
            tag_only: false,
        }
    }

    /// The same API naming another engine build in its ETags. [`BUILD_IDENTITY`] (the
    /// default) changes whenever this build's engine or API code does; a host that
    /// changes the bytes by other means (its own layer rewriting bodies, say) gives its own.
    pub fn with_build_identity(self, build: &'static str) -> Api<'c> {
        Api { build, ..self }
    }

    /// Forgets every memoised answer (shared by clones); returns how many there were.
    /// Answers stay correct either way: the memo is keyed by strong ETags.
    pub fn flush_memo(&self) -> usize {
        self.memo.flush()
    }

    /// How many rendered answers the memo holds (shared by clones).
    pub fn memo_len(&self) -> usize {
        self.memo.len()
    }

    /// The API over a catalog it shares ownership of (a tenant's, loaded at run time).
    pub fn shared(catalog: std::sync::Arc<Catalog>, config: Config) -> Api<'static> {
        Api {
            catalog: CatalogHandle::Shared(catalog),
            config: std::sync::Arc::new(config),
            build: BUILD_IDENTITY,
            memo: crate::memo::Memo::default(),
            tag_only: false,
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The strong ETag a `GET` or `HEAD` of a recipe or query (`/v1/recipe`, `/v1/query`,
    /// `/v2/recipe`, `/v2/query`) would answer `request` with, worked out from its
    /// normalised inputs (criteria, selector, negotiated format) exactly as the answer
    /// works it out, but without resolving or rendering. Hosts key shared caches on it:
    /// two requests get the same tag exactly when they get the same bytes, however they
    /// spell their criteria. `None` for every other route and method and for a request
    /// that fails before its tag is known (a bad value, criteria the allowlists refuse,
    /// the tenant's allowlists in the extensions included); `Some` does not promise a 200
    /// (a v1 selector naming nothing is a 404, found only when rendering).
    pub fn representation_tag(&self, request: &Request<Vec<u8>>) -> Option<String> {
        const TAGGED: [&str; 4] = ["/v1/query", "/v1/recipe", "/v2/query", "/v2/recipe"];
        if !is_safe(request.method()) {
            return None;
        }
        let route = Route::find(request.uri().path())?;
        if !TAGGED.contains(&route.path) {
            return None;
        }
        let api = Api {
            tag_only: true,
            ..self
                .with_request_allowlists(request)
                .unwrap_or_else(|| self.clone())
        };
        match (route.answer)(&api, request, &RequestContext::default()) {
            Ok(Success {
                caching: Caching::Tagged(tag),
                ..
            }) => Some(tag),
            _ => None,
        }
    }

    /// This API with the allowlists a layer put in the request's extensions (an
    /// authenticated tenant's) in place of the configured ones; `None` when there are
    /// none or they are the configured ones.
    fn with_request_allowlists(&self, request: &Request<Vec<u8>>) -> Option<Api<'c>> {
        match request.extensions().get::<Allowlists>() {
            Some(lists) if *lists != self.config.allowlists => {
                let mut config = Config::clone(&self.config);
                config.allowlists = lists.clone();
                Some(Api {
                    config: std::sync::Arc::new(config),
                    ..self.clone()
                })
            }
            _ => None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn route(&self, request: &Request<Vec<u8>>, ctx: &RequestContext) -> Result<Success, ApiError> {
        let method = request.method();
        let path = request.uri().path();
        let Some(route) = Route::find(path) else {
            return Err(ApiError::new(ErrorCode::NotFound, "No such route")
                .detail("path", truncate(path))
                .detail("routes", Route::paths()));
        };
        if !route.methods.contains(&method.as_str()) {
            return Err(ApiError::method_not_allowed(method, route.methods));
        }
        if method == Method::OPTIONS {
            return Ok(Success {
                status: StatusCode::NO_CONTENT,
                content_type: "",
                body: Vec::new(),
                caching: Caching::Unspecified,
                headers: Vec::new(),
            });
        }
        (route.answer)(self, request, ctx)
    }

    /// Status, headers and body of a success, after `If-None-Match` (RFC 9110 §13.1.2,
    /// evaluated only for answers that would be 2xx, §13.2.1).
    fn respond(
        &self,
        request: &Request<Vec<u8>>,
        success: Success,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        let safe = is_safe(request.method());
        let mut response = Response::new(success.body);
        *response.status_mut() = success.status;
        let mut content_type = success.content_type;
        match &success.caching {
            Caching::Unspecified => {}
            Caching::NoStore => set(&mut response, header::CACHE_CONTROL, NO_STORE),
            Caching::Tagged(tag) => {
                let matched = if_none_match(request).is_some_and(|h| if_none_match_hits(h, tag));
                if matched && !safe {
                    return Err(ApiError::precondition_failed(tag));
                }
                if matched {
                    *response.status_mut() = StatusCode::NOT_MODIFIED;
                    response.body_mut().clear();
                    content_type = "";
                }
                set(&mut response, header::ETAG, tag);
                let cache_control = if safe {
                    format!("public, max-age={}", self.config.cache_max_age)
                } else {
                    NO_STORE.to_owned()
                };
                set(&mut response, header::CACHE_CONTROL, &cache_control);
                set(&mut response, header::VARY, "Accept");
            }
        }
        if !content_type.is_empty() {
            set(&mut response, header::CONTENT_TYPE, content_type);
        }
        if response.status() != StatusCode::NOT_MODIFIED {
            for (name, value) in success.headers {
                set(&mut response, name, &value);
            }
        }
        if request.method() == Method::OPTIONS
            && let Some(route) = Route::find(request.uri().path())
        {
            set(&mut response, header::ALLOW, &route.methods.join(", "));
        }
        Ok(response)
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

/// The headers every answer carries, whoever made it (the API or a host's own error):
/// `X-API-Version`, the request id, and `nosniff`.
pub(crate) fn stamp(response: &mut Response<Vec<u8>>, request_id: &str) {
    set(response, API_VERSION, API_VERSION_HEADER_VALUE);
    set(response, REQUEST_ID, request_id);
    set(response, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
}

impl Api<'_> {
    /// Answers one request. Pure: the same request and context give the same answer.
    pub fn handle(&self, request: &Request<Vec<u8>>, ctx: &RequestContext) -> Response<Vec<u8>> {
        let id = request_id(request, ctx);
        let mut response = self
            .route(request, ctx)
            .and_then(|success| self.respond(request, success))
            .unwrap_or_else(|error| error.to_response_for(request.uri().path(), &id, ctx));
        stamp(&mut response, &id);
        if crate::errors::is_v2_path(request.uri().path()) {
            crate::v2::stamp(&mut response);
        }
        if request.method() == Method::HEAD {
            let len = response.body().len();
            response.body_mut().clear();
            set(&mut response, header::CONTENT_LENGTH, &len.to_string());
        }
        response
    }
}

/// The API as the innermost tower `Service` of a host's stack. The host puts the request's
/// [`RequestContext`] in its extensions (a request without one is answered with the
/// default context: time zero, a zero-random request id). A layer that has authenticated a
/// tenant with its own criteria allowlists puts those [`Allowlists`] in the extensions
/// too; they replace the configured ones for that request.
impl tower_service::Service<Request<Vec<u8>>> for Api<'_> {
    type Response = Response<Vec<u8>>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Response<Vec<u8>>, std::convert::Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Vec<u8>>) -> Self::Future {
        let ctx = RequestContext::of(&request);
        let response = match self.with_request_allowlists(&request) {
            Some(api) => api.handle(&request, &ctx),
            None => self.handle(&request, &ctx),
        };
        std::future::ready(Ok(response))
    }
}

//! The admin API, served on the admin listener only, through the same stack as the public
//! API (`Stack::around`): paths under `/admin/` need the key of a tenant with
//! `"admin": true` (the stack's rule for every host: no key 401, another tenant's 403), and
//! the listener itself only answers addresses in `AICR_ADMIN_ALLOW` (see `serve`).
//!
//! | route | what |
//! |---|---|
//! | `GET /admin/identity` | version, engine build identity, catalog (name, version, digest, source), start time, TLS certificate fingerprint |
//! | `GET`/`PUT /admin/log-level` | the log level; `PUT {"level": "debug"}` changes it at once |
//! | `GET`/`PUT /admin/rate-limit` | the limit of callers without a key; `PUT {"anonymous": "100/s"}` (or `null`: none) rebuilds and swaps the public stack |
//! | `POST /admin/cache/flush` | forgets every memoised answer; says how many |
//! | `GET /admin/flags` | the feature flags, their rollouts and where they were read from |
//! | `/admin/tenants/{tenant}/catalogs…` | tenants' catalogs: upload, list, fetch, activate, roll back, deactivate (`aicr_tenant_catalogs::routes`, the edge worker's answers; needs `AICR_CATALOG_STORE`) |
//!
//! Every change is logged (target `admin`) with the tenant that made it. Errors have the
//! API's error body.

use crate::app::App;
use crate::catalogs::{Answer, UNCONFIGURED};
use crate::config::{LEVELS, level_name, parse_level};
use aicr_api::{ApiError, ErrorCode, MAX_BODY_BYTES, RequestContext};
use aicr_stack::Principal;
use aicr_tenant_catalogs::routes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_service::Service;

/// The admin routes and the methods each answers.
const ROUTES: [(&str, &[&str]); 5] = [
    ("/admin/identity", &["GET"]),
    ("/admin/log-level", &["GET", "PUT"]),
    ("/admin/rate-limit", &["GET", "PUT"]),
    ("/admin/cache/flush", &["POST"]),
    ("/admin/flags", &["GET"]),
];

/// The admin listener's route a path is served by, for logs: an admin route, `/metrics`
/// or `unmatched`.
pub fn route_template(path: &str) -> &'static str {
    if path == "/metrics" {
        return "/metrics";
    }
    if let Some(template) = aicr_tenant_catalogs::routes::route_template(path) {
        return template;
    }
    ROUTES
        .iter()
        .find(|(p, _)| *p == path)
        .map_or("unmatched", |(p, _)| p)
}

/// The innermost service of the admin listener's stack.
#[derive(Clone)]
pub struct AdminRouter {
    pub app: Arc<App>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelChange {
    level: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitChange {
    anonymous: Option<String>,
}

/// A JSON body of `T`, or the 400 / 413 saying what is wrong with it.
fn body<T: DeserializeOwned>(request: &Request<Vec<u8>>, shape: &str) -> Result<T, ApiError> {
    let bytes = request.body();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(
            ApiError::new(ErrorCode::PayloadTooLarge, "Request body too large")
                .detail("limit", MAX_BODY_BYTES)
                .detail("received", bytes.len()),
        );
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("Invalid request body")
            .detail("error", aicr_api::truncate(&e.to_string()))
            .detail("expected", shape)
    })
}

fn tenant(request: &Request<Vec<u8>>) -> String {
    match request.extensions().get::<Principal>() {
        Some(Principal::Tenant(name)) => name.to_string(),
        _ => "anonymous".to_owned(),
    }
}

fn unix_seconds(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl AdminRouter {
    fn identity(&self) -> Value {
        let app = &self.app;
        let info = app.api.catalog().info();
        let started = unix_seconds(app.started);
        json!({
            "service": "aicr-server",
            "version": env!("CARGO_PKG_VERSION"),
            "engine": aicr_recipe::ENGINE_VERSION,
            "build": aicr_api::BUILD_IDENTITY,
            "catalog": {
                "name": info.name,
                "version": info.version,
                "digest": info.digest,
                "source": app.catalog_source,
            },
            "startedAt": RequestContext {
                unix_nanos: u128::from(started) * 1_000_000_000,
                random: [0; 16],
            }
            .timestamp(),
            "uptimeSeconds": unix_seconds(std::time::SystemTime::now()).saturating_sub(started),
            "tls": app.tls_fingerprint.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
                .map(|f| json!({"certificateSha256": f})),
        })
    }

    fn route(&self, request: &Request<Vec<u8>>) -> Result<Value, ApiError> {
        let path = request.uri().path();
        let method = request.method();
        let app = &self.app;
        match (method.as_str(), path) {
            ("GET", "/admin/identity") => Ok(self.identity()),
            ("GET", "/admin/log-level") => Ok(json!({ "level": app.log.level() })),
            ("PUT", "/admin/log-level") => {
                let change: LevelChange = body(request, "{\"level\": \"info\"}")?;
                let level = parse_level(&change.level).ok_or_else(|| {
                    ApiError::bad_request("Unknown log level")
                        .detail("parameter", "level")
                        .detail("value", aicr_api::truncate(&change.level))
                        .detail("allowed", LEVELS.to_vec())
                })?;
                let previous = app
                    .log
                    .set_level(level)
                    .map_err(|e| ApiError::new(ErrorCode::Internal, e))?;
                tracing::info!(target: "admin", tenant = %tenant(request), action = "log-level",
                    from = previous, to = level_name(level), "admin change");
                Ok(json!({ "level": level_name(level), "previous": previous }))
            }
            ("GET", "/admin/rate-limit") => Ok(json!({ "anonymous": app.anonymous_limit() })),
            ("PUT", "/admin/rate-limit") => {
                let change: LimitChange = body(request, "{\"anonymous\": \"600/m\" or null}")?;
                let previous = app
                    .set_anonymous_limit(change.anonymous.as_deref())
                    .map_err(|e| {
                        ApiError::bad_request("Invalid rate limit")
                            .detail("parameter", "anonymous")
                            .detail("value", aicr_api::truncate(&e.value))
                            .detail("expected", e.expected)
                    })?;
                tracing::info!(target: "admin", tenant = %tenant(request), action = "rate-limit",
                    from = previous.as_deref().unwrap_or("none"),
                    to = change.anonymous.as_deref().unwrap_or("none"), "admin change");
                Ok(json!({ "anonymous": app.anonymous_limit(), "previous": previous }))
            }
            ("POST", "/admin/cache/flush") => {
                let flushed = app.serving.flush_memo();
                tracing::info!(target: "admin", tenant = %tenant(request), action = "cache-flush",
                    flushed, "admin change");
                Ok(json!({ "flushed": flushed }))
            }
            ("GET", "/admin/flags") => Ok(app.flags.describe()),
            _ => match ROUTES.iter().find(|(p, _)| *p == path) {
                Some((_, methods)) => Err(ApiError::method_not_allowed(method, methods)),
                None => Err(ApiError::new(ErrorCode::NotFound, "No such route")
                    .detail("path", aicr_api::truncate(path))
                    .detail("routes", ROUTES.iter().map(|(p, _)| *p).collect::<Vec<_>>())),
            },
        }
    }

    fn answer(&self, request: &Request<Vec<u8>>) -> Response<Vec<u8>> {
        let ctx = RequestContext::of(request);
        let id = aicr_api::request_id(request, &ctx);
        match self.route(request) {
            Err(error) => error.to_response(&id, &ctx),
            Ok(value) => {
                let mut body = serde_json::to_vec(&value).unwrap_or_default();
                body.push(b'\n');
                let mut response = Response::new(body);
                *response.status_mut() = StatusCode::OK;
                let headers = response.headers_mut();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert(
                    "x-content-type-options",
                    HeaderValue::from_static("nosniff"),
                );
                if let Ok(id) = HeaderValue::from_str(&id) {
                    headers.insert("x-request-id", id);
                }
                response
            }
        }
    }
}

impl Service<Request<Vec<u8>>> for AdminRouter {
    type Response = Response<Vec<u8>>;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Vec<u8>>) -> Self::Future {
        if !routes::is_catalog_path(request.uri().path()) {
            return Answer::Now(Some(self.answer(&request)));
        }
        // Validating an upload or an activation is CPU work: on the blocking pool, off the
        // thread that also runs signals, TLS reloads and the span exporter.
        let catalogs = self.app.serving.catalogs().cloned();
        let policy = self.app.policy.clone();
        let who = tenant(&request);
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        Answer::Later(Box::pin(async move {
            let handle = tokio::runtime::Handle::current();
            let answered = tokio::task::spawn_blocking(move || {
                handle.block_on(routes::answer(catalogs, UNCONFIGURED, &policy, request))
            })
            .await;
            let response = answered.unwrap_or_else(|e| {
                ApiError::new(ErrorCode::Internal, "The admin operation failed")
                    .detail("error", e.to_string())
                    .to_response("", &RequestContext::default())
            });
            if method != http::Method::GET && response.status().is_success() {
                tracing::info!(target: "admin", tenant = %who, action = "tenant-catalogs",
                    method = %method, path = %path, status = response.status().as_u16(),
                    "admin change");
            }
            response
        }))
    }
}

//! The admin routes for tenants' catalogs, over [`TenantCatalogs`]' operations (which hold
//! their semantics: validation, atomic activation, history, rollback): one HTTP answer for
//! every host (the edge worker, the native server), behind the `http` feature.
//!
//! | route | method | answer |
//! |---|---|---|
//! | `/admin/tenants/{tenant}/catalogs` | `POST` (body: an artifact made by `cargo xtask catalog pack`) | 201 (stored; `Location`) or 200 (already stored): `{digest, created, files, warnings}` |
//! | `/admin/tenants/{tenant}/catalogs` | `GET` | `{active, history, catalogs}` |
//! | `/admin/tenants/{tenant}/catalogs/{digest}` | `GET` | the stored artifact |
//! | `/admin/tenants/{tenant}/catalogs/active` | `PUT` (body: `{"digest": "…"}`) | `{active, history}` |
//! | `/admin/tenants/{tenant}/catalogs/active` | `DELETE` | `{active: null, history}`: back to the built-in catalog |
//! | `/admin/tenants/{tenant}/catalogs/active/rollback` | `POST` | `{active, history}` |
//!
//! The stack has already required an admin tenant's key for every `/admin/` path. The
//! tenant must be one the tenants document names, so a typo cannot publish a catalog no
//! key will ever use. Failures are the API's error body: 400 (a malformed tenant, digest
//! or body), 404 (no such tenant, catalog or route), 405, 409 (nothing to roll back to),
//! 413 (an upload over the artifact limit, other bodies over the API's 64 KiB), 422
//! `INVALID_CATALOG` with every defect in `details.defects` (file, field, reason, origin),
//! 500 (an unreadable pointer document; a host without a store: the worker's missing
//! `AICR_CATALOGS` binding, the server's unset `AICR_CATALOG_STORE`), 503 (the store
//! failed; retryable). Nothing an admin route answers is cached.
//!
//! A host reads at most [`UPLOAD_READ_LIMIT`] body bytes for [`is_upload`] requests and
//! the API's limit for the others.

use crate::{AdminError, Digest, MAX_ARTIFACT_BYTES, TenantCatalogs, TenantId};
use aicr_api::{API_VERSION_HEADER_VALUE, ApiError, ErrorCode, MAX_BODY_BYTES, RequestContext};
use aicr_stack::Policy;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;

/// The routes, for a 404's `routes` detail.
const ROUTES: [&str; 4] = [
    "/admin/tenants/{tenant}/catalogs",
    "/admin/tenants/{tenant}/catalogs/{digest}",
    "/admin/tenants/{tenant}/catalogs/active",
    "/admin/tenants/{tenant}/catalogs/active/rollback",
];

/// Which route a path is, with its tenant segment.
enum Route<'p> {
    Catalogs(&'p str),
    Catalog(&'p str, &'p str),
    Active(&'p str),
    Rollback(&'p str),
}

impl<'p> Route<'p> {
    fn of(path: &'p str) -> Option<Route<'p>> {
        let rest = path.strip_prefix("/admin/tenants/")?;
        let segments: Vec<&str> = rest.split('/').collect();
        match segments.as_slice() {
            [tenant, "catalogs"] => Some(Route::Catalogs(tenant)),
            [tenant, "catalogs", "active"] => Some(Route::Active(tenant)),
            [tenant, "catalogs", "active", "rollback"] => Some(Route::Rollback(tenant)),
            [tenant, "catalogs", digest] if !digest.is_empty() => {
                Some(Route::Catalog(tenant, digest))
            }
            _ => None,
        }
    }

    fn methods(&self) -> &'static [&'static str] {
        match self {
            Route::Catalogs(_) => &["GET", "POST"],
            Route::Catalog(..) => &["GET"],
            Route::Active(_) => &["PUT", "DELETE"],
            Route::Rollback(_) => &["POST"],
        }
    }

    fn tenant(&self) -> &'p str {
        match self {
            Route::Catalogs(t) | Route::Catalog(t, _) | Route::Active(t) | Route::Rollback(t) => t,
        }
    }
}

/// How many body bytes a host reads for `POST` to a catalogs route: one past the largest
/// artifact, so a larger one is told 413 without being buffered whole.
pub const UPLOAD_READ_LIMIT: usize = MAX_ARTIFACT_BYTES + 1;

/// Whether a request is a catalog upload (`POST /admin/tenants/{tenant}/catalogs`), the
/// one admin request whose body may be up to [`UPLOAD_READ_LIMIT`] bytes.
pub fn is_upload(method: &Method, path: &str) -> bool {
    method == Method::POST && matches!(Route::of(path), Some(Route::Catalogs(_)))
}

/// The route template serving `path`, for logs and metrics.
pub fn route_template(path: &str) -> Option<&'static str> {
    Some(match Route::of(path)? {
        Route::Catalogs(_) => ROUTES[0],
        Route::Catalog(..) => ROUTES[1],
        Route::Active(_) => ROUTES[2],
        Route::Rollback(_) => ROUTES[3],
    })
}

/// Whether `path` is one of these routes' (`/admin/tenants/…`).
pub fn is_catalog_path(path: &str) -> bool {
    path.starts_with("/admin/tenants/")
}

/// Answers one `/admin/tenants/` request. `catalogs` is `None` on a host without a store;
/// `unconfigured` then says why (the 500's message).
pub async fn answer(
    catalogs: Option<TenantCatalogs>,
    unconfigured: &'static str,
    policy: &Policy,
    request: Request<Vec<u8>>,
) -> Response<Vec<u8>> {
    let ctx = RequestContext::of(&request);
    let id = aicr_api::request_id(&request, &ctx);
    match route(catalogs, unconfigured, policy, &request).await {
        Ok(Reply {
            status,
            body,
            headers: extra,
        }) => {
            let mut response = Response::new(body);
            *response.status_mut() = status;
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                HeaderName::from_static("x-api-version"),
                HeaderValue::from_static(API_VERSION_HEADER_VALUE),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            if let Ok(id) = HeaderValue::from_str(&id) {
                headers.insert(HeaderName::from_static("x-request-id"), id);
            }
            for (name, value) in extra {
                headers.insert(name, value);
            }
            response
        }
        Err(error) => error.to_response_for(request.uri().path(), &id, &ctx),
    }
}

/// A successful admin answer: JSON (the artifact route's body is the stored artifact,
/// itself a JSON document, byte for byte, so its digest can be checked).
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Reply {
    fn json(status: StatusCode, value: &impl serde::Serialize) -> Result<Reply, ApiError> {
        let mut body = serde_json::to_vec(value).map_err(|e| {
            ApiError::new(ErrorCode::Internal, "The answer could not be encoded")
                .detail("error", e.to_string())
        })?;
        body.push(b'\n');
        Ok(Reply {
            status,
            body,
            headers: Vec::new(),
        })
    }
}

type Answer = Result<Reply, ApiError>;

async fn route(
    catalogs: Option<TenantCatalogs>,
    unconfigured: &'static str,
    policy: &Policy,
    request: &Request<Vec<u8>>,
) -> Answer {
    let path = request.uri().path();
    let Some(route) = Route::of(path) else {
        return Err(ApiError::new(ErrorCode::NotFound, "No such route")
            .detail("path", aicr_api::truncate(path))
            .detail("routes", ROUTES.as_slice()));
    };
    let method = request.method();
    if !route.methods().contains(&method.as_str()) {
        return Err(ApiError::method_not_allowed(method, route.methods()));
    }
    let tenant = TenantId::parse(route.tenant()).map_err(|e| {
        ApiError::bad_request("Invalid tenant name")
            .detail("parameter", "tenant")
            .detail("error", e)
    })?;
    if !policy.tenants().iter().any(|t| t.name == tenant.as_str()) {
        return Err(
            ApiError::new(ErrorCode::NotFound, "No such tenant in AICR_TENANTS")
                .detail("tenant", tenant.as_str()),
        );
    }
    let Some(catalogs) = catalogs else {
        return Err(ApiError::new(ErrorCode::Internal, unconfigured));
    };
    let body = request.body();
    let limit = match (&route, method) {
        (Route::Catalogs(_), &Method::POST) => MAX_ARTIFACT_BYTES,
        _ => MAX_BODY_BYTES,
    };
    if body.len() > limit {
        return Err(
            ApiError::new(ErrorCode::PayloadTooLarge, "Request body too large")
                .detail("limit", limit)
                .detail("received", body.len()),
        );
    }
    match (route, method) {
        (Route::Catalogs(_), &Method::POST) => {
            let uploaded = catalogs.upload(&tenant, body).await.map_err(refusal)?;
            if !uploaded.created {
                return Reply::json(StatusCode::OK, &uploaded);
            }
            let mut reply = Reply::json(StatusCode::CREATED, &uploaded)?;
            let location = format!(
                "/admin/tenants/{tenant}/catalogs/{}",
                uploaded.digest.as_str()
            );
            if let Ok(location) = HeaderValue::from_str(&location) {
                reply.headers.push((header::LOCATION, location));
            }
            Ok(reply)
        }
        (Route::Catalogs(_), _) => Reply::json(
            StatusCode::OK,
            &catalogs.list(&tenant).await.map_err(refusal)?,
        ),
        (Route::Catalog(_, digest), _) => {
            let digest = Digest::parse(digest).map_err(|e| {
                ApiError::bad_request("Invalid catalog digest")
                    .detail("parameter", "digest")
                    .detail("error", e)
            })?;
            let body = catalogs.artifact(&tenant, &digest).await.map_err(refusal)?;
            let disposition = format!("attachment; filename=\"{}\"", digest.file_name());
            let mut headers = vec![(header::ETAG, format!("\"{digest}\""))];
            headers.push((header::CONTENT_DISPOSITION, disposition));
            Ok(Reply {
                status: StatusCode::OK,
                body,
                headers: headers
                    .into_iter()
                    .filter_map(|(n, v)| Some((n, HeaderValue::from_str(&v).ok()?)))
                    .collect(),
            })
        }
        (Route::Active(_), &Method::PUT) => {
            let Activation { digest } = serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request("Invalid activation body").detail(
                    "error",
                    aicr_api::truncate(&format!("{e}; send {{\"digest\": \"<64 hex digits>\"}}")),
                )
            })?;
            Reply::json(
                StatusCode::OK,
                &catalogs.activate(&tenant, &digest).await.map_err(refusal)?,
            )
        }
        (Route::Active(_), _) => Reply::json(
            StatusCode::OK,
            &catalogs.deactivate(&tenant).await.map_err(refusal)?,
        ),
        (Route::Rollback(_), _) => Reply::json(
            StatusCode::OK,
            &catalogs.rollback(&tenant).await.map_err(refusal)?,
        ),
    }
}

/// `PUT …/catalogs/active`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Activation {
    digest: Digest,
}

/// An admin operation's refusal as the API's error: the crate's status and code, its
/// message, and what a client needs to act on it.
fn refusal(error: AdminError) -> ApiError {
    let message = error.to_string();
    match error {
        AdminError::Rejected(defects) => ApiError::new(
            ErrorCode::InvalidCatalog,
            format!(
                "The catalog has {} defect(s); nothing was changed",
                defects.len()
            ),
        )
        .detail(
            "defects",
            serde_json::to_value(&defects).unwrap_or(Value::Null),
        ),
        AdminError::UnknownCatalog(digest) => {
            ApiError::new(ErrorCode::NotFound, "No such catalog for this tenant")
                .detail("digest", digest.as_str())
        }
        AdminError::NothingToRollBack => ApiError::new(ErrorCode::Conflict, message),
        AdminError::Store(e) => {
            ApiError::new(ErrorCode::ServiceUnavailable, "The catalog store failed")
                .detail("error", e)
                .header(header::RETRY_AFTER, "1")
        }
        AdminError::CorruptPointer(e) => ApiError::new(
            ErrorCode::Internal,
            "The tenant's pointer document is unreadable",
        )
        .detail("error", e),
    }
}

//! `/v2`: the v1 resources with the changes v1's clients could not take without breaking.
//!
//! - `/v2/recipe` answers the `RecipeResult` plus `provenance`: which overlay (or the
//!   component registry) set each field of each component reference, constraint and
//!   validation phase, keyed by JSON Pointer (see `aicr_recipe::provenance`).
//! - `/v2/query` takes an RFC 6901 JSON Pointer as its selector, so it can index lists and
//!   reach keys that contain dots, which v1's dotted selector cannot; the document it
//!   selects in is the `/v2/recipe` one with each component's merged Helm `values`.
//! - every error under `/v2`, unknown paths included, is RFC 9457 problem details
//!   (`ApiError::to_response_for`).
//!
//! Everything else is v1's, by calling the same functions: inputs, criteria parsing,
//! allowlists, formats, caching. A representation's ETag names the version, since v1 and
//! v2 bytes differ for the same inputs. v1 is frozen: nothing here changes a v1 byte.

use crate::context::RequestContext;
use crate::errors::{ApiError, ErrorCode, elide_quoted, truncate};
use crate::handler::{Api, Success};
use crate::query_string::QueryParams;
use crate::render::Format;
use crate::routes::{
    accept, build_failed, cacheable, criteria_key, query_inputs, recipe_criteria, resolve,
};
use aicr_recipe::pointer::Reason;
use aicr_recipe::{Pointer, PointerError, SelectError, WithProvenance};
use http::header::{HeaderName, HeaderValue};
use http::{Request, Response};

/// The version these routes are, in their ETags and their `X-API-Version`.
pub const VERSION: &str = "v2";

const API_VERSION: HeaderName = HeaderName::from_static("x-api-version");

type Answer = Result<Success, ApiError>;

/// Marks an answer under `/v2` ([`crate::errors::is_v2_path`]) as such: `X-API-Version: v2`
/// in place of the `v1` every answer is stamped with.
pub(crate) fn stamp(response: &mut Response<Vec<u8>>) {
    response
        .headers_mut()
        .insert(API_VERSION, HeaderValue::from_static(VERSION));
}

/// `/v2/recipe`: v1's inputs, the recipe with its provenance.
pub(crate) fn recipe(api: &Api<'_>, request: &Request<Vec<u8>>, _ctx: &RequestContext) -> Answer {
    let params = QueryParams::parse(request.uri().query())?;
    let format = Format::negotiate(params.get("format"), accept(request))?;
    let criteria = recipe_criteria(api, request, &params)?;
    cacheable(
        api,
        request,
        format,
        &[VERSION, "recipe", &criteria_key(&criteria)],
        || {
            let (recipe, provenance) = api
                .catalog
                .resolve_with_provenance(&criteria)
                .map_err(build_failed)?;
            format.render(&WithProvenance {
                recipe: &recipe,
                provenance: &provenance,
            })
        },
    )
}

/// A 400 for a selector that is not a JSON Pointer.
fn malformed(selector: &str, e: &PointerError) -> ApiError {
    let err = ApiError::bad_request("Malformed selector")
        .detail("parameter", "selector")
        .detail("value", truncate(selector))
        .detail("error", elide_quoted(&e.to_string()));
    match e {
        PointerError::BadEscape { at, .. } => err.detail("position", *at),
        PointerError::NoLeadingSlash { .. } => err,
    }
}

/// The answer to a pointer that names nothing (404) or a catalog that cannot hydrate (500).
fn select_failed(selector: &str, e: SelectError) -> ApiError {
    match e {
        SelectError::Unresolved(u) => {
            let err = ApiError::new(ErrorCode::NotFound, "Selector path not found")
                .detail("selector", truncate(selector))
                .detail("resolved", truncate(&u.at))
                .detail("token", truncate(&u.token))
                .detail("error", elide_quoted(&u.to_string()));
            match u.reason {
                Reason::NoSuchKey { available } => err.detail("available", available),
                Reason::NotAnIndex { len }
                | Reason::OutOfRange { len }
                | Reason::PastTheEnd { len } => err.detail("length", len),
                Reason::Leaf { .. } => err,
            }
        }
        SelectError::Values(e) => ApiError::new(ErrorCode::Internal, "Values hydration failed")
            .detail("error", e.to_string()),
        SelectError::Encode(e) => {
            ApiError::new(ErrorCode::Internal, "Failed to render the response").detail("error", e)
        }
    }
}

/// `/v2/query`: v1's inputs, the selector a JSON Pointer.
pub(crate) fn query(api: &Api<'_>, request: &Request<Vec<u8>>, _ctx: &RequestContext) -> Answer {
    let params = QueryParams::parse(request.uri().query())?;
    let format = Format::negotiate(params.get("format"), accept(request))?;
    let (criteria, selector) = query_inputs(api, request, &params)?;
    let pointer = Pointer::parse(&selector).map_err(|e| malformed(&selector, &e))?;
    cacheable(
        api,
        request,
        format,
        &[VERSION, "query", &criteria_key(&criteria), &selector],
        || {
            let value = resolve(api, &criteria)?
                .select(&pointer)
                .map_err(|e| select_failed(&selector, e))?;
            format.render(&value)
        },
    )
}

/// `/v2/bundle`: `/v1/bundle` (the zip is the same bytes, so it keeps v1's ETag), with
/// its errors as problem details. A bare `GET` is the bundle of the all-`any` recipe, as a
/// bare `GET /v2/recipe` is that recipe (v1 keeps upstream's 405 there: its query
/// parameters are all optional, yet one of them must be sent, which no OpenAPI document
/// can say).
pub(crate) fn bundle(api: &Api<'_>, request: &Request<Vec<u8>>, _ctx: &RequestContext) -> Answer {
    let params = QueryParams::parse(request.uri().query())?;
    crate::bundle::answer(api, request, &params)
}

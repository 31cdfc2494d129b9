//! `/v1/bundle`: a recipe turned into a deployable zip by `aicr-bundle`.
//!
//! `POST` is upstream's: the body is the `RecipeResult` `/v1/recipe` answered, the bundle
//! options are query parameters, the answer is `application/zip` with
//! `Content-Disposition`, `X-Bundle-Files` and `X-Bundle-Size`. `GET` with criteria and
//! options in the query is ours: it resolves the recipe itself, so a link or `curl -O`
//! is enough, and its answer is cacheable like a recipe's (strong ETag over the inputs).
//! A bare `GET` (no query) stays upstream's 405 on `/v1/bundle` (`/v2/bundle` answers the
//! all-`any` recipe's bundle).

use crate::context::RequestContext;
use crate::errors::{ApiError, parser_message, truncate};
use crate::handler::{Api, Caching, Success};
use crate::query_string::QueryParams;
use aicr_bundle::{BundleOptions, OptionError, RecipeDocument};
use aicr_recipe::{Criteria, Field};
use http::header::{self, HeaderName};
use http::{Method, Request, StatusCode};

const BUNDLE_FILES: HeaderName = HeaderName::from_static("x-bundle-files");
const BUNDLE_SIZE: HeaderName = HeaderName::from_static("x-bundle-size");

/// Query names that are recipe criteria on `GET /v1/bundle` (`gpu` is `accelerator`'s alias;
/// `nodes` is both a criterion and the bundle's node estimate).
fn is_criterion(name: &str) -> bool {
    name == "gpu" || Field::ALL.iter().any(|f| f.as_str() == name)
}

fn option_error(e: OptionError) -> ApiError {
    ApiError::bad_request(format!("Invalid {} parameter", e.parameter))
        .detail("parameter", e.parameter)
        .detail("error", parser_message(&e.message))
}

/// Options from the query; on `GET` criteria names are skipped (the caller reads them).
fn options(params: &QueryParams, with_criteria: bool) -> Result<BundleOptions, ApiError> {
    let mut options = BundleOptions::default();
    for (name, value) in params.pairs() {
        let taken = options.accept(name, value).map_err(option_error)?;
        let known = taken || (with_criteria && is_criterion(name));
        if !known {
            let mut allowed: Vec<&str> = aicr_bundle::options::OPTION_NAMES.to_vec();
            if with_criteria {
                allowed.extend(Field::ALL.iter().map(|f| f.as_str()));
            }
            return Err(ApiError::bad_request("Unknown query parameter")
                .detail("parameter", truncate(name))
                .detail("allowed", allowed));
        }
    }
    Ok(options)
}

/// The body's criteria must pass the allowlists, as upstream checks them.
fn check_allowlists(api: &Api<'_>, document: &RecipeDocument) -> Result<(), ApiError> {
    let Some(c) = &document.criteria else {
        return Ok(());
    };
    let raw = |f: Field| match f {
        Field::Service => Some(c.service.as_str()),
        Field::Accelerator => Some(c.accelerator.as_str()),
        Field::Intent => Some(c.intent.as_str()),
        Field::Os => Some(c.os.as_str()),
        Field::Platform => Some(c.platform.as_str()),
        Field::Nodes => None,
    };
    match Criteria::from_raw(|f| raw(f).filter(|v| !v.is_empty())) {
        Ok(criteria) => crate::routes::allowlist(api, &criteria),
        Err(e) if api.config.allowlists != Default::default() => {
            Err(ApiError::criteria("Recipe criteria value not allowed", &e))
        }
        // Without allowlists the criteria are only echoed into README.md and recipe.yaml.
        Err(_) => Ok(()),
    }
}

fn document_from_body(request: &Request<Vec<u8>>) -> Result<RecipeDocument, ApiError> {
    RecipeDocument::from_json(crate::routes::bounded_body(request)?).map_err(|e| {
        let err = ApiError::bad_request("Invalid request body")
            .detail("error", parser_message(&e.message));
        if e.field.is_empty() {
            err
        } else {
            err.detail("field", truncate(&e.field))
        }
    })
}

fn document_from_criteria(api: &Api<'_>, params: &QueryParams) -> Result<RecipeDocument, ApiError> {
    let criteria = Criteria::from_params(params.pairs())
        .map_err(|e| ApiError::criteria("Invalid recipe criteria", &e))?;
    crate::routes::allowlist(api, &criteria)?;
    Ok(RecipeDocument::from_recipe(&crate::routes::resolve(
        api, &criteria,
    )?))
}

pub(crate) fn bundle(
    api: &Api<'_>,
    request: &Request<Vec<u8>>,
    _ctx: &RequestContext,
) -> Result<Success, ApiError> {
    let params = QueryParams::parse(request.uri().query())?;
    if request.method() == Method::GET && params.pairs().is_empty() {
        return Err(ApiError::method_not_allowed(request.method(), &["POST"]).detail(
            "error",
            "GET /v1/bundle needs recipe criteria in the query (e.g. ?service=eks&accelerator=h100&intent=training); or POST the RecipeResult from /v1/recipe",
        ));
    }
    answer(api, request, &params)
}

/// The bundle of a request whose query is parsed: `GET` resolves the criteria in the query
/// (none: every criterion `any`), `POST` takes the recipe in the body.
pub(crate) fn answer(
    api: &Api<'_>,
    request: &Request<Vec<u8>>,
    params: &QueryParams,
) -> Result<Success, ApiError> {
    let get = request.method() == Method::GET;
    let options = options(params, get)?;
    let (document, caching) = if get {
        // In query order: a later `set` of the same path wins and a repeated criterion
        // keeps its first value, so order is part of what the bytes depend on.
        let inputs: Vec<String> = params
            .pairs()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let key: Vec<&str> = std::iter::once("bundle")
            .chain(inputs.iter().map(String::as_str))
            .collect();
        let etag = crate::routes::representation_tag(api, &key);
        if crate::routes::client_has(request, &etag) {
            // The handler answers 304; no need to build what will not be sent.
            return Ok(Success {
                status: StatusCode::OK,
                content_type: "application/zip",
                body: Vec::new(),
                caching: Caching::Tagged(etag),
                headers: Vec::new(),
            });
        }
        (document_from_criteria(api, params)?, Caching::Tagged(etag))
    } else {
        let document = document_from_body(request)?;
        check_allowlists(api, &document)?;
        (document, Caching::NoStore)
    };
    let bundle = aicr_bundle::build(&api.catalog, &document, &options).map_err(|e| {
        ApiError::bad_request("Bundle cannot be built from this recipe")
            .detail("field", truncate(&e.field))
            .detail("error", parser_message(&e.message))
    })?;
    let headers = vec![
        (
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"bundles.zip\"".to_owned(),
        ),
        (BUNDLE_FILES, bundle.files.len().to_string()),
        (BUNDLE_SIZE, bundle.total_size().to_string()),
    ];
    Ok(Success {
        status: StatusCode::OK,
        content_type: "application/zip",
        body: bundle.zip(),
        caching,
        headers,
    })
}

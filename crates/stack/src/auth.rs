//! Authentication and authorisation, as tower-http's `ValidateRequestHeader` layer with
//! our [`Authorize`] deciding: which tenant a key belongs to, whether its signature holds,
//! and whether that tenant may make this request. (The decision never waits, so the
//! synchronous layer fits; the asynchronous `AsyncRequireAuthorization` moves a clone of
//! the whole inner stack into every request's future, which measured at ~1 µs a request.)
//!
//! A key arrives as `Authorization: Bearer <key>` or `X-API-Key: <key>`. A request without
//! one is anonymous, which every path allows unless configured otherwise (paths under
//! `/admin/` never). A key that is present but wrong is always refused, never treated as
//! anonymous: a client with a broken key learns so at once. 401 (with `WWW-Authenticate`)
//! means "who are you?", 403 "not you". Nothing here writes a key, hash or signature into
//! an answer or a log line; answers say what was wrong, not what was sent.

use crate::error_response;
use crate::keys::{self, SIGNATURE_HEADER, SIGNATURE_WINDOW_SECS, TIMESTAMP_HEADER};
use crate::policy::{Policy, Tenant};
use aicr_api::{ApiError, ErrorCode};
use http::header::{AUTHORIZATION, ORIGIN, WWW_AUTHENTICATE};
use http::{Request, Response};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use tower_http::validate_request::ValidateRequest;

/// Who a request acts for, for the layers inside (rate limits, logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    Tenant(Arc<str>),
}

/// Signatures seen within the window: the replay guard. Bounded; when full of live
/// signatures, signed requests are refused (429) rather than a replay let through.
#[derive(Debug, Default)]
pub(crate) struct SeenSignatures {
    by_expiry: BTreeMap<u64, Vec<String>>,
    seen: HashSet<String>,
}

/// Most live signatures remembered.
const SEEN_CAPACITY: usize = 100_000;

impl SeenSignatures {
    /// Records `signature` until `expires`; false if it was already seen (a replay).
    fn first_use(&mut self, signature: &str, now: u64, expires: u64) -> Result<bool, ()> {
        while let Some(entry) = self.by_expiry.first_entry() {
            if *entry.key() >= now {
                break;
            }
            for old in entry.remove() {
                self.seen.remove(&old);
            }
        }
        if self.seen.contains(signature) {
            return Ok(false);
        }
        if self.seen.len() >= SEEN_CAPACITY {
            return Err(());
        }
        self.seen.insert(signature.to_owned());
        self.by_expiry
            .entry(expires)
            .or_default()
            .push(signature.to_owned());
        Ok(true)
    }
}

/// The authorisation decision, for tower-http's `ValidateRequestHeaderLayer::custom`.
#[derive(Clone)]
pub struct Authorize {
    pub(crate) policy: Arc<Policy>,
}

/// Why a request is refused.
enum Refusal {
    /// 401: no usable credentials; `error` is the RFC 6750 error code, if any.
    Unauthenticated(ApiError, Option<&'static str>),
    Other(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Other(e)
    }
}

fn unauthorized(message: &str, error: Option<&'static str>) -> Refusal {
    Refusal::Unauthenticated(ApiError::new(ErrorCode::Unauthorized, message), error)
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, message)
}

/// The key the request presents, if any; both headers with different keys is a 400.
fn presented_key(request: &Request<Vec<u8>>) -> Result<Option<&str>, Refusal> {
    let bearer = match request.headers().get(AUTHORIZATION) {
        None => None,
        Some(value) => {
            let text = value.to_str().ok().and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then_some(token.trim())
            });
            Some(text.ok_or_else(|| {
                unauthorized(
                    "The Authorization header must read \"Bearer <API key>\"",
                    Some("invalid_request"),
                )
            })?)
        }
    };
    let header = match request.headers().get("x-api-key") {
        None => None,
        Some(v) => Some(v.to_str().map(str::trim).map_err(|_| {
            unauthorized(
                "The X-API-Key header is not a valid key",
                Some("invalid_token"),
            )
        })?),
    };
    match (bearer, header) {
        (Some(a), Some(b)) if a != b => Err(ApiError::bad_request(
            "Authorization and X-API-Key name different keys; send one",
        )
        .into()),
        (a, b) => Ok(a.or(b)),
    }
}

impl Policy {
    /// Whether `headers` present the valid key of an admin tenant (signatures aside: the
    /// stack checks those with the body). A host uses it before reading a body larger
    /// than the API's limit (a catalog upload), so callers without such a key cannot make
    /// it buffer one.
    pub fn admits_admin(&self, headers: &http::HeaderMap) -> bool {
        let header = |name: http::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        let bearer = header(AUTHORIZATION).and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        });
        let Some(key) = bearer.or(header(http::HeaderName::from_static("x-api-key"))) else {
            return false;
        };
        let Ok(presented) = keys::parse(key.trim()) else {
            return false;
        };
        let (Some((tenant, stored)), Some(hasher)) =
            (self.keys.get(presented.id), self.key_hasher.as_ref())
        else {
            return false;
        };
        self.tenants[*tenant].admin && hasher.verify(presented.whole, stored)
    }
}

impl Authorize {
    /// The tenant the request acts for (`None`: anonymous), or why it is refused.
    fn decide(&self, request: &Request<Vec<u8>>) -> Result<Option<&Tenant>, Refusal> {
        let path = request.uri().path();
        let Some(key) = presented_key(request)? else {
            if self.policy.needs_key(path) {
                return Err(unauthorized(
                    "This route needs an API key (Authorization: Bearer <key> or X-API-Key)",
                    None,
                ));
            }
            return Ok(None);
        };
        let presented = keys::parse(key).map_err(|why| {
            Refusal::Unauthenticated(
                ApiError::new(ErrorCode::Unauthorized, "The API key is malformed")
                    .detail("error", why),
                Some("invalid_token"),
            )
        })?;
        let invalid = || unauthorized("The API key is not valid", Some("invalid_token"));
        let (tenant_index, stored) = self.policy.keys.get(presented.id).ok_or_else(invalid)?;
        let hasher = self.policy.key_hasher.as_ref().ok_or_else(invalid)?;
        if !hasher.verify(presented.whole, stored) {
            return Err(invalid());
        }
        let tenant = &self.policy.tenants[*tenant_index];
        self.check_signature(request, presented.whole, tenant)?;
        if !tenant.may_call(path) {
            return Err(forbidden("This API key's tenant may not call this route")
                .detail("tenant", tenant.name.as_str())
                .detail("path", aicr_api::truncate(path))
                .into());
        }
        if let Some(origin) = request.headers().get(ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            let allowed = self.policy.cors_origins.allows(origin)
                || tenant.cors_origins.iter().any(|o| o == origin);
            if !allowed {
                return Err(
                    forbidden("This API key's tenant may not be used from this origin")
                        .detail("tenant", tenant.name.as_str())
                        .detail("origin", aicr_api::truncate(origin))
                        .into(),
                );
            }
        }
        Ok(Some(tenant))
    }

    /// Checks a signature when one is sent (or the tenant requires one).
    fn check_signature(
        &self,
        request: &Request<Vec<u8>>,
        key: &str,
        tenant: &Tenant,
    ) -> Result<(), Refusal> {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        let (timestamp, signature) = match (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER)) {
            (None, None) if !tenant.require_signature => return Ok(()),
            (Some(t), Some(s)) => (t.trim(), s.trim()),
            _ => {
                return Err(unauthorized(
                    "A signed request needs X-AICR-Timestamp and X-AICR-Signature",
                    Some("invalid_request"),
                ));
            }
        };
        let now = (aicr_api::RequestContext::of(request).unix_nanos / 1_000_000_000) as u64;
        let sent: u64 = timestamp.parse().map_err(|_| {
            unauthorized(
                "X-AICR-Timestamp must be whole seconds since the Unix epoch",
                Some("invalid_request"),
            )
        })?;
        if now.abs_diff(sent) > SIGNATURE_WINDOW_SECS {
            return Err(Refusal::Unauthenticated(
                ApiError::new(
                    ErrorCode::Unauthorized,
                    "The request's signature has expired or is from the future",
                )
                .detail("windowSeconds", SIGNATURE_WINDOW_SECS)
                .detail("serverTime", now),
                Some("invalid_token"),
            ));
        }
        let uri = request.uri();
        let canonical = keys::canonical_request(
            request.method().as_str(),
            uri.path(),
            uri.query().unwrap_or(""),
            timestamp,
            request.body(),
        );
        if !keys::signature_matches(key, &canonical, signature) {
            return Err(unauthorized(
                "The request's signature does not match it",
                Some("invalid_token"),
            ));
        }
        let mut seen = self.policy.replay.lock().unwrap_or_else(|p| p.into_inner());
        match seen.first_use(signature, now, sent + SIGNATURE_WINDOW_SECS) {
            Ok(true) => Ok(()),
            Ok(false) => Err(unauthorized(
                "This signed request was already used; sign each request anew",
                Some("invalid_token"),
            )),
            Err(()) => Err(ApiError::new(
                ErrorCode::RateLimitExceeded,
                "Too many signed requests within the signature window",
            )
            .header(http::header::RETRY_AFTER, "1")
            .into()),
        }
    }
}

impl ValidateRequest<Vec<u8>> for Authorize {
    type ResponseBody = Vec<u8>;

    fn validate(&mut self, request: &mut Request<Vec<u8>>) -> Result<(), Response<Vec<u8>>> {
        match self.decide(request) {
            Ok(None) => {
                request.extensions_mut().insert(Principal::Anonymous);
                Ok(())
            }
            Ok(Some(tenant)) => {
                let principal = Principal::Tenant(Arc::from(tenant.name.as_str()));
                if let Some(lists) = tenant.allowlists.clone() {
                    request.extensions_mut().insert(lists);
                }
                request.extensions_mut().insert(principal);
                Ok(())
            }
            Err(Refusal::Other(error)) => Err(error_response(request, error)),
            Err(Refusal::Unauthenticated(error, code)) => {
                let challenge = match code {
                    Some(code) => format!("Bearer realm=\"aicr\", error=\"{code}\""),
                    None => "Bearer realm=\"aicr\"".to_owned(),
                };
                Err(error_response(
                    request,
                    error.header(WWW_AUTHENTICATE, challenge),
                ))
            }
        }
    }
}

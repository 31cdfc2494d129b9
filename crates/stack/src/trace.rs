//! W3C Trace Context and the one access-log line per request, the same on every host.
//!
//! A request's `traceparent` (version `00`, a non-zero trace id and parent span id) is
//! continued: the answer's span gets a new id under the same trace. Anything else (none, a
//! malformed or all-zero one) starts a new trace. Either way the answer echoes
//! `traceparent` with this request's span, so a client or proxy can find it in the logs.
//! Ids come from the host's per-request randomness ([`RequestContext::random`]): a new
//! trace's id is those 16 bytes (the request id is made of them too, so the two name one
//! request), the span id is them folded to 8 by a mixing function. No layer needs a
//! random source of its own, and nothing is hashed per request.
//!
//! [`AccessRecord`] is what a host logs once a request is answered: what the stack knows
//! (request id, trace, tenant, route template, status, bytes) plus the latency only the
//! host can measure. It never holds a key, a body or a query string.

use crate::auth::Principal;
use crate::hook::Hook;
use aicr_api::RequestContext;
use http::header::{HeaderName, HeaderValue};
use http::{Request, Response};
use serde::Serialize;

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// This request's place in a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    /// The caller's span, when the request continued a trace.
    pub parent_id: Option<[u8; 8]>,
    /// This request's span.
    pub span_id: [u8; 8],
    pub sampled: bool,
}

/// `N` bytes from exactly `2 N` lowercase hex digits (W3C trace context allows no others).
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// A span id from the request's 16 random bytes: both halves through SplitMix64's
/// finaliser (a bijection, so distinct halves stay distinct), never all zero.
fn span_id(ctx: &RequestContext) -> [u8; 8] {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (low, high) = ctx.random.split_at(8);
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
    let id = mix(word(low) ^ mix(word(high)));
    (if id == 0 { 1 } else { id }).to_be_bytes()
}

impl TraceContext {
    /// Continues the caller's trace from `traceparent`, or starts one.
    pub fn of<B>(request: &Request<B>) -> TraceContext {
        let ctx = RequestContext::of(request);
        let span_id = span_id(&ctx);
        let parsed = request
            .headers()
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let mut parts = v.trim().split('-');
                let (version, trace, parent, flags) =
                    (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
                if version != "00" || parts.next().is_some() {
                    return None;
                }
                let trace: [u8; 16] = unhex(trace).filter(|t| t != &[0; 16])?;
                let parent: [u8; 8] = unhex(parent).filter(|p| p != &[0; 8])?;
                let flags: [u8; 1] = unhex(flags)?;
                Some((trace, parent, flags[0] & 1 == 1))
            });
        match parsed {
            Some((trace_id, parent, sampled)) => TraceContext {
                trace_id,
                parent_id: Some(parent),
                span_id,
                sampled,
            },
            // Every host records every request (its access line names the trace), so a
            // trace started here is marked sampled.
            None => TraceContext {
                trace_id: if ctx.random == [0; 16] {
                    [1; 16]
                } else {
                    ctx.random
                },
                parent_id: None,
                span_id,
                sampled: true,
            },
        }
    }

    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }

    pub fn span_id_hex(&self) -> String {
        hex::encode(self.span_id)
    }

    /// The `traceparent` naming this request's span (one allocation: it is on every answer).
    pub fn traceparent(&self) -> String {
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        out.push_str(&hex::encode(self.trace_id));
        out.push('-');
        out.push_str(&hex::encode(self.span_id));
        out.push_str(if self.sampled { "-01" } else { "-00" });
        out
    }
}

/// Puts a [`TraceContext`] on every request and echoes `traceparent` on every answer.
#[derive(Clone, Copy, Default)]
pub struct Trace;

impl Hook for Trace {
    type Seen = TraceContext;

    fn before(&self, request: &mut Request<Vec<u8>>) -> TraceContext {
        let trace = TraceContext::of(request);
        request.extensions_mut().insert(trace);
        trace
    }

    fn after(trace: TraceContext, response: &mut Response<Vec<u8>>) {
        if let Ok(value) = HeaderValue::from_str(&trace.traceparent()) {
            response.headers_mut().insert(TRACEPARENT, value);
        }
        response.extensions_mut().insert(trace);
    }
}

/// Copies who the request acted for into the answer's extensions, for the host's log.
#[derive(Clone, Copy, Default)]
pub struct RecordPrincipal;

impl Hook for RecordPrincipal {
    type Seen = Option<Principal>;

    fn before(&self, request: &mut Request<Vec<u8>>) -> Option<Principal> {
        request.extensions().get::<Principal>().cloned()
    }

    fn after(principal: Option<Principal>, response: &mut Response<Vec<u8>>) {
        if let Some(principal) = principal {
            response.extensions_mut().insert(principal);
        }
    }
}

/// One answered request, as every host logs it (one JSON line).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessRecord {
    pub timestamp: String,
    pub request_id: String,
    pub trace_id: String,
    pub span_id: String,
    /// The tenant's name, `anonymous`, or `unknown` (refused before identification).
    pub tenant: String,
    pub method: String,
    /// The route template (`/v1/recipe`), never the raw path or query.
    pub route: &'static str,
    pub status: u16,
    pub latency_ms: f64,
    pub bytes: usize,
}

impl AccessRecord {
    /// The record of `response` to a request for `method` and `path`, answered in
    /// `latency_ms` (measured by the host) at the time in `ctx`.
    pub fn of(
        method: &http::Method,
        path: &str,
        response: &Response<Vec<u8>>,
        ctx: &RequestContext,
        latency_ms: f64,
    ) -> AccessRecord {
        let trace = response.extensions().get::<TraceContext>();
        let tenant = match response.extensions().get::<Principal>() {
            Some(Principal::Tenant(name)) => name.to_string(),
            Some(Principal::Anonymous) => "anonymous".to_owned(),
            None => "unknown".to_owned(),
        };
        AccessRecord {
            timestamp: ctx.timestamp(),
            request_id: response
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            trace_id: trace.map(TraceContext::trace_id_hex).unwrap_or_default(),
            span_id: trace.map(TraceContext::span_id_hex).unwrap_or_default(),
            tenant,
            method: method.as_str().chars().take(16).collect(),
            route: aicr_api::route_template(path),
            status: response.status().as_u16(),
            latency_ms: (latency_ms * 1000.0).round() / 1000.0,
            bytes: response.body().len(),
        }
    }

    /// The JSON line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_ids_differ_from_the_parent_and_between_requests() {
        let ctx = |n| RequestContext {
            unix_nanos: 0,
            random: [n; 16],
        };
        assert_ne!(span_id(&ctx(1)), span_id(&ctx(2)));
        assert_ne!(span_id(&ctx(0)), [0; 8]);
    }

    fn request(traceparent: Option<&str>) -> Request<()> {
        let mut builder = Request::get("/");
        if let Some(t) = traceparent {
            builder = builder.header("traceparent", t);
        }
        let mut r = builder.body(()).unwrap();
        r.extensions_mut().insert(RequestContext {
            unix_nanos: 0,
            random: [4; 16],
        });
        r
    }

    #[test]
    fn a_valid_traceparent_is_continued_with_a_new_span() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let t = TraceContext::of(&request(Some(parent)));
        assert_eq!(t.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            t.parent_id.map(hex::encode).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert!(t.sampled);
        assert_ne!(t.span_id_hex(), "00f067aa0ba902b7");
        assert!(
            t.traceparent()
                .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        );
        assert!(t.traceparent().ends_with("-01"));
    }

    #[test]
    fn anything_else_starts_a_trace() {
        for bad in [
            None,
            Some("garbage"),
            Some("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            Some("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        ] {
            let t = TraceContext::of(&request(bad));
            assert_eq!(t.parent_id, None, "{bad:?}");
            assert_ne!(t.trace_id, [0; 16]);
            assert_eq!(t.traceparent().len(), 55);
        }
    }
}

//! What several in-process test files of the API share: a fixed request context, the API
//! over the embedded catalog, a request sender, and the measure of how much of a client
//! value an answer echoes.

#![allow(dead_code)] // each test file uses its own subset

use aicr_api::{Api, Config, RequestContext};
use http::{Request, Response};
use serde_json::Value;

/// 2026-11-28T12:40:49Z, and fixed randomness: answers are reproducible.
pub const CTX: RequestContext = RequestContext {
    unix_nanos: 1_795_869_649_000_000_000,
    random: [42; 16],
};

pub fn api() -> Api<'static> {
    Api::new(aicr_embedded_catalog::catalog(), Config::default())
}

/// `api`'s answer to one request at [`CTX`].
pub fn send_to(
    api: &Api<'_>,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response<Vec<u8>> {
    let mut b = Request::builder().method(method).uri(target);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    api.handle(&b.body(body.to_vec()).unwrap(), &CTX)
}

/// The longest run of `filler`'s characters in any string (or key) of `value`.
pub fn longest_echo(value: &Value, filler: &str) -> usize {
    let run = |s: &str| {
        let (mut best, mut current) = (0, 0);
        for c in s.chars() {
            current = if filler.contains(c) {
                current + c.len_utf8()
            } else {
                0
            };
            best = best.max(current);
        }
        best
    };
    match value {
        Value::String(s) => run(s),
        Value::Array(items) => items
            .iter()
            .map(|v| longest_echo(v, filler))
            .max()
            .unwrap_or(0),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| run(k).max(longest_echo(v, filler)))
            .max()
            .unwrap_or(0),
        _ => 0,
    }
}

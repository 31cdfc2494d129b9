//! Response compression (br, gzip) chosen by `Accept-Encoding`, for hosts whose platform
//! does not compress (the edge does, so the worker leaves this layer out rather than
//! compress twice). br comes with the `br` feature: brotli's encoder is ~0.95 MB of wasm,
//! more than half the component again, so the component offers gzip alone.
//!
//! Ours rather than tower-http's `CompressionLayer`: that one streams through tokio's
//! `AsyncRead` (pulling tokio into wasm builds that have no use for it), while every body
//! here is already a complete buffer; flate2 is linked anyway for bundles.
//!
//! Only bodies of at least [`MIN_BYTES`] with a textual type (JSON, YAML, text) are
//! compressed; zips and small answers go as they are. A compressed answer's strong ETag
//! becomes weak (the bytes differ per coding, the meaning does not; RFC 9110 §8.8.1), so
//! `If-None-Match` keeps working: it compares weakly.

use crate::hook::Hook;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use std::io::Write;

/// Smallest body worth compressing.
pub const MIN_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    #[cfg(feature = "br")]
    Brotli,
    Gzip,
}

impl Coding {
    fn token(self) -> &'static str {
        match self {
            #[cfg(feature = "br")]
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// The coding to use for `Accept-Encoding`: br over gzip at equal preference, none when
/// neither is acceptable (q=0 refuses; `*` stands for codings not named).
fn choose(accept: &str) -> Option<Coding> {
    let mut br = None;
    let mut gzip = None;
    let mut star = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").map(str::trim))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        match name.as_str() {
            "br" => br = Some(q),
            "gzip" | "x-gzip" => gzip = Some(q),
            "*" => star = Some(q),
            _ => {}
        }
    }
    let gzip = gzip.or(star).unwrap_or(0.0);
    #[cfg(feature = "br")]
    {
        let br = br.or(star).unwrap_or(0.0);
        if br > 0.0 && br >= gzip {
            return Some(Coding::Brotli);
        }
    }
    #[cfg(not(feature = "br"))]
    let _ = br;
    (gzip > 0.0).then_some(Coding::Gzip)
}

fn compressible(response: &Response<Vec<u8>>) -> bool {
    let textual = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t.starts_with("text/") || t.contains("json") || t.contains("yaml")
        });
    textual
        && response.body().len() >= MIN_BYTES
        && !response.headers().contains_key(header::CONTENT_ENCODING)
}

fn encode(coding: Coding, body: &[u8]) -> std::io::Result<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut out = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::new(6),
            );
            out.write_all(body)?;
            out.finish()
        }
        #[cfg(feature = "br")]
        Coding::Brotli => {
            let mut out = Vec::with_capacity(body.len() / 4);
            let params = brotli::enc::BrotliEncoderParams {
                quality: 5,
                lgwin: 20,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &body[..], &mut out, &params)?;
            Ok(out)
        }
    }
}

/// A strong `ETag` made weak; weak ones stay.
fn weaken(response: &mut Response<Vec<u8>>) {
    let weak = response
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.starts_with("W/"))
        .and_then(|t| HeaderValue::from_str(&format!("W/{t}")).ok());
    if let Some(weak) = weak {
        response.headers_mut().insert(header::ETAG, weak);
    }
}

fn add_vary(response: &mut Response<Vec<u8>>) {
    let has = response
        .headers()
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("accept-encoding"))
        });
    if !has {
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// Compresses answers per `Accept-Encoding`.
#[derive(Clone, Copy, Default)]
pub struct Compress;

impl Hook for Compress {
    /// The coding the client accepts, if any.
    type Seen = Option<Coding>;

    fn before(&self, request: &mut Request<Vec<u8>>) -> Option<Coding> {
        request
            .headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .and_then(choose)
    }

    fn after(coding: Option<Coding>, response: &mut Response<Vec<u8>>) {
        let Some(coding) = coding else {
            return;
        };
        if response.status() == StatusCode::NOT_MODIFIED {
            // The client holds the coded representation it was sent: name it so.
            weaken(response);
            add_vary(response);
            return;
        }
        if !compressible(response) {
            return;
        }
        // Encoding into memory cannot fail short of allocation; if it ever does, the
        // identity body is still a correct answer.
        if let Ok(coded) = encode(coding, response.body()) {
            *response.body_mut() = coded;
            response.headers_mut().insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(coding.token()),
            );
            response.headers_mut().remove(header::CONTENT_LENGTH);
            weaken(response);
            add_vary(response);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "br")]
    fn accept_encoding_is_read_with_weights() {
        assert_eq!(choose("gzip, deflate, br"), Some(Coding::Brotli));
        assert_eq!(choose("gzip"), Some(Coding::Gzip));
        assert_eq!(choose("br;q=0, gzip"), Some(Coding::Gzip));
        assert_eq!(choose("br;q=0.5, gzip;q=0.8"), Some(Coding::Gzip));
        assert_eq!(choose("identity"), None);
        assert_eq!(choose("*"), Some(Coding::Brotli));
        assert_eq!(choose("*;q=0, gzip;q=0"), None);
    }
}

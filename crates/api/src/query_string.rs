//! A strict query-string parser. Upstream silently dropped pairs with `;` or a bad percent
//! escape; here each is a 400 that names the offending pair. Repeated keys keep the first
//! value (upstream's rule, which clients rely on).
//!
//! Decoding is `application/x-www-form-urlencoded`'s: `+` is a space, `%XX` a byte, and the
//! bytes must be UTF-8. The `percent-encoding` crate decodes; it passes a `%` that is not
//! followed by two hex digits through unchanged, so every escape is checked first.

use crate::errors::{ApiError, truncate};
use percent_encoding::percent_decode_str;

/// Decoded `key=value` pairs in order.
pub struct QueryParams(Vec<(String, String)>);

/// One raw name or value, decoded; or why it cannot be.
fn decode(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    for (at, _) in raw.match_indices('%') {
        let hex = bytes.get(at + 1..at + 3);
        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
            let found: String = raw[at..].chars().take(3).collect();
            return Err(format!(
                "'%' must be followed by two hex digits, found {found:?}"
            ));
        }
    }
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| "the percent-escapes decode to bytes that are not UTF-8".to_owned())
}

impl QueryParams {
    pub fn parse(query: Option<&str>) -> Result<QueryParams, ApiError> {
        let mut pairs = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let bad = |why: &str| {
                ApiError::bad_request(format!("Malformed query string: {why}"))
                    .detail("pair", truncate(pair))
            };
            if pair.contains(';') {
                return Err(bad("';' is not a separator; use '&' between parameters"));
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(k).map_err(|why| bad(&format!("in a parameter name, {why}")))?;
            let value = decode(v).map_err(|why| bad(&format!("in a parameter value, {why}")))?;
            pairs.push((key, value));
        }
        Ok(QueryParams(pairs))
    }

    /// Every decoded pair, in order (repeated keys included).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_keeps_the_first_value() {
        let q = QueryParams::parse(Some("%73ervice=%20eks+&service=gke&x")).unwrap();
        assert_eq!(q.get("service"), Some(" eks "));
        assert_eq!(q.get("x"), Some(""));
        assert_eq!(q.get("y"), None);
    }

    #[test]
    fn rejects_semicolons_and_bad_escapes() {
        assert!(QueryParams::parse(Some("service=eks;intent=training")).is_err());
        assert!(QueryParams::parse(Some("service=%zz")).is_err());
        assert!(QueryParams::parse(Some("service=%e2%82")).is_err());
    }

    #[test]
    fn every_escape_has_two_hex_digits() {
        // `u8::from_str_radix("+A", 16)` accepts a sign: `%+A` once decoded to a newline.
        for bad in ["%+A", "%-1", "% 1", "%4", "%", "%%41", "%4%41", "%é1"] {
            let Err(e) = QueryParams::parse(Some(&format!("os={bad}"))) else {
                panic!("{bad:?} was accepted");
            };
            assert!(
                e.message.contains("two hex digits"),
                "{bad:?}: {}",
                e.message
            );
            assert_eq!(e.details["pair"], format!("os={bad}"));
        }
        let q = QueryParams::parse(Some("a=%2B%41+%e2%82%ac&%41=1")).unwrap();
        assert_eq!(q.get("a"), Some("+A €"));
        assert_eq!(q.get("A"), Some("1"));
    }
}

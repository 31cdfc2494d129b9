//! A strict query-string parser. Upstream silently dropped pairs with `;` or a bad percent
//! escape; here each is a 400 that names the offending pair. Repeated keys keep the first
//! value (upstream's rule, which clients rely on).

use crate::errors::{ApiError, truncate};

/// Decoded `key=value` pairs in order.
pub struct QueryParams(Vec<(String, String)>);

fn decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
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
            let key = decode(k)
                .ok_or_else(|| bad("bad percent-escape or invalid UTF-8 in a parameter name"))?;
            let value = decode(v)
                .ok_or_else(|| bad("bad percent-escape or invalid UTF-8 in a parameter value"))?;
            pairs.push((key, value));
        }
        Ok(QueryParams(pairs))
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
}

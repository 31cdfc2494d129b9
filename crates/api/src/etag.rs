//! Strong entity tags. A representation is a pure function of (engine crate versions and
//! build identity, catalog digest, route, normalised criteria, selector, format), so
//! hashing those identifies it without rendering the body first; a strong tag must change
//! whenever the bytes can (RFC 9110 §8.8.1), which is why the engine is among the inputs.

use sha2::{Digest, Sha256};

/// `"<32 hex digits>"` over the given parts (length-prefixed, so parts cannot run together).
pub fn strong_etag(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// RFC 9110 `If-None-Match`: `*`, or a list where any tag matches by weak comparison.
pub fn if_none_match_hits(header: &str, etag: &str) -> bool {
    header.split(',').any(|t| t.trim() == "*") || lists_tag(header, etag)
}

/// Whether `If-None-Match` names this very tag (weak comparison), ignoring `*`. Only then
/// may the answer be skipped before knowing that a representation exists.
pub fn lists_tag(header: &str, etag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = opaque(etag);
    header.split(',').any(|t| opaque(t) == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stable_and_distinct() {
        let a = strong_etag(&["d", "recipe", "eks"]);
        assert_eq!(a, strong_etag(&["d", "recipe", "eks"]));
        assert_ne!(a, strong_etag(&["d", "recipeeks", ""]));
        assert!(if_none_match_hits(&format!("\"x\", W/{a}"), &a));
        assert!(if_none_match_hits("*", &a));
        assert!(!if_none_match_hits("\"x\"", &a));
    }
}

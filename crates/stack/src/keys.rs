//! API keys: their format, how a server remembers one (only an HMAC of it), and signed
//! requests.
//!
//! A key reads `aicr_<id>_<secret>`: `id` is 12 lowercase hex digits that name the key in
//! the tenants document (so a lookup is one map probe, not a hash per stored key) and in
//! logs; `secret` is 32 random bytes in unpadded base64url. The server stores
//! `HMAC-SHA256(server secret, whole key)` in hex and nothing else: a leaked tenants
//! document gives no key, and without the server secret not even a way to test guesses.
//! Comparison is constant-time (`subtle`).
//!
//! A signed request carries the key as usual plus `X-AICR-Timestamp` (Unix seconds) and
//! `X-AICR-Signature` (hex `HMAC-SHA256(key, canonical request)`). The canonical request is
//! the method, path, query, timestamp and hex SHA-256 of the body, one per line. It binds
//! the key's use to one request at one time: a copy cannot be altered, is refused once
//! [`SIGNATURE_WINDOW_SECS`] have passed, and is refused as a replay within the window.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// How far a signed request's timestamp may be from the server's clock, either way.
pub const SIGNATURE_WINDOW_SECS: u64 = 300;

/// The header carrying a signed request's Unix time in seconds.
pub const TIMESTAMP_HEADER: &str = "x-aicr-timestamp";
/// The header carrying a signed request's signature.
pub const SIGNATURE_HEADER: &str = "x-aicr-signature";

/// Prefix of every key (so secret scanners and people recognise one).
const PREFIX: &str = "aicr_";
/// Hex digits in a key id.
const ID_LEN: usize = 12;
/// Characters of the base64url secret (32 bytes, unpadded).
const SECRET_LEN: usize = 43;

/// A key as the client presents it, split into id and secret; the whole text is kept
/// for hashing and signature checks.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedKey<'a> {
    pub id: &'a str,
    pub whole: &'a str,
}

/// Never prints the secret.
impl std::fmt::Debug for PresentedKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PresentedKey({})", self.id)
    }
}

/// Splits a presented key, or says what is wrong with its shape (never echoing it).
pub fn parse(key: &str) -> Result<PresentedKey<'_>, &'static str> {
    let rest = key
        .strip_prefix(PREFIX)
        .ok_or("an API key starts with \"aicr_\"")?;
    let (id, secret) = rest
        .split_once('_')
        .ok_or("an API key reads aicr_<id>_<secret>")?;
    let lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if id.len() != ID_LEN || !lower_hex(id) {
        return Err("an API key's id is 12 lowercase hex digits");
    }
    let base64url = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if secret.len() != SECRET_LEN || !base64url(secret) {
        return Err("an API key's secret is 43 base64url characters");
    }
    Ok(PresentedKey { id, whole: key })
}

/// A freshly minted key: show `key` once, store only `id` and `hash`.
pub struct MintedKey {
    pub id: String,
    pub key: String,
    pub hash: String,
}

/// Mints a key from 38 random bytes (6 for the id, 32 for the secret) under `server_secret`.
pub fn mint(random: &[u8; 38], server_secret: &[u8]) -> MintedKey {
    let id = hex::encode(&random[..6]);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&random[6..]);
    let key = format!("{PREFIX}{id}_{secret}");
    let hash = hash(server_secret, &key);
    MintedKey { id, key, hash }
}

/// What the server stores for `key`: hex `HMAC-SHA256(server_secret, key)`.
pub fn hash(server_secret: &[u8], key: &str) -> String {
    hex::encode(mac(server_secret, key.as_bytes()))
}

/// HMAC-SHA256 keyed with the server secret once, cloned per check (the key's padding
/// blocks are hashed at start, not per request).
#[derive(Clone)]
pub struct KeyHasher(HmacSha256);

impl KeyHasher {
    pub fn new(server_secret: &[u8]) -> KeyHasher {
        // HMAC takes a key of any length, so this cannot fail.
        KeyHasher(
            <HmacSha256 as Mac>::new_from_slice(server_secret)
                .expect("HMAC accepts any key length"),
        )
    }

    /// Whether `key` is the one whose stored hash is `stored` (the hash's bytes, see
    /// [`decode_hash`]), in constant time.
    pub fn verify(&self, key: &str, stored: &[u8; 32]) -> bool {
        let mut mac = self.0.clone();
        mac.update(key.as_bytes());
        let ours: [u8; 32] = mac.finalize().into_bytes().into();
        ours.ct_eq(stored).into()
    }
}

/// Never prints the secret.
impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher")
    }
}

/// A stored hash's bytes from its 64 lowercase hex digits.
pub fn decode_hash(hex: &str) -> Option<[u8; 32]> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// The text a signature covers.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    timestamp: &str,
    body: &[u8],
) -> String {
    let body_hash = hex::encode(Sha256::digest(body));
    format!("{method}\n{path}\n{query}\n{timestamp}\n{body_hash}")
}

/// The signature a client sends: hex `HMAC-SHA256(key, canonical request)`.
pub fn sign(key: &str, canonical: &str) -> String {
    hex::encode(mac(key.as_bytes(), canonical.as_bytes()))
}

/// Whether `signature` (hex) signs `canonical` with `key`, in constant time.
pub fn signature_matches(key: &str, canonical: &str, signature: &str) -> bool {
    let ours = sign(key, canonical);
    ours.as_bytes()
        .ct_eq(signature.trim().to_ascii_lowercase().as_bytes())
        .into()
}

fn mac(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_parse_and_verify_against_their_hash_only() {
        let minted = mint(&[7; 38], b"server secret");
        let presented = parse(&minted.key).unwrap();
        assert_eq!(presented.id, minted.id);
        let stored = decode_hash(&minted.hash).unwrap();
        let hasher = KeyHasher::new(b"server secret");
        assert!(hasher.verify(&minted.key, &stored));
        assert!(!KeyHasher::new(b"other secret").verify(&minted.key, &stored));
        let mut tampered = minted.key.clone();
        tampered.pop();
        tampered.push('x');
        assert!(!hasher.verify(&tampered, &stored));
        assert_eq!(decode_hash("ab"), None);
        assert!(!format!("{presented:?}").contains(&minted.key[18..]));
    }

    #[test]
    fn malformed_keys_are_named_without_echo() {
        for (key, why) in [
            ("sk_live_123", "starts with"),
            ("aicr_abc", "reads aicr_"),
            ("aicr_ABCDEF012345_x", "12 lowercase hex"),
            ("aicr_abcdef012345_short", "43 base64url"),
        ] {
            let err = parse(key).unwrap_err();
            assert!(err.contains(why), "{key}: {err}");
        }
    }

    #[test]
    fn signatures_bind_every_part_of_the_request() {
        let key = mint(&[1; 38], b"s").key;
        let canonical = canonical_request("GET", "/v1/recipe", "service=eks", "1700000000", b"");
        let signature = sign(&key, &canonical);
        assert!(signature_matches(&key, &canonical, &signature));
        assert!(signature_matches(
            &key,
            &canonical,
            &signature.to_ascii_uppercase()
        ));
        let other = canonical_request("GET", "/v1/recipe", "service=gke", "1700000000", b"");
        assert!(!signature_matches(&key, &other, &signature));
    }
}

//! Content digest of a catalog: SHA-256 over every file read, in path order.

use sha2::{Digest, Sha256};

/// Hashes `(path, bytes)` pairs; the caller passes them sorted by path.
pub fn digest<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut hasher = Sha256::new();
    for (path, bytes) in files {
        hasher.update((path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hex::encode(hasher.finalize())
}

//! Where tenants' artifacts and active pointers live, behind one small trait.
//!
//! The trait is a key-value store because that is what every backend we have is, or can
//! be made to be without cleverness: Workers KV on the edge is one, a directory on a server
//! maps keys to paths, the tests keep a map. Everything above it (key layout, the pointer
//! document, validation, activation history) is written once, in this crate, so a backend
//! is three methods and no policy.
//!
//! # Keys
//!
//! | key | value |
//! |---|---|
//! | `tenants/{tenant}/catalogs/{digest}` | the artifact's canonical bytes ([`crate::Packed::bytes`]) |
//! | `tenants/{tenant}/active` | the pointer document, JSON: `{"active": digest or null, "history": [digest, …]}` |
//!
//! Keys are ASCII: segments of letters, digits, `-`, `_` and `.`, joined by `/`, none
//! empty or starting with `.`. [`Store::list`] is only ever asked for a prefix that ends in
//! `/`, and only keys one segment below it exist.
//!
//! # What a backend must guarantee
//!
//! - `put` replaces a value whole: a reader sees the old value or the new one, never a mix
//!   (KV does; a directory writes a temporary file and renames it over the key).
//! - `get` of a key never written is `Ok(None)`, not an error.
//! - `list` returns every key under the prefix (a KV backend follows the list cursor
//!   until it is complete), in any order.
//! - Errors are for the store being unreachable, slow or broken. The reader retries them
//!   and counts them towards opening the circuit breaker.
//!
//! # A Workers KV backend (for the worker's owner)
//!
//! One KV namespace bound to the worker; `get` is `kv.get(key).bytes()` (consider a
//! `cacheTtl` no shorter than the reader's pointer TTL), `put` is `kv.put_bytes(key, value)`,
//! `list` pages through `kv.list().prefix(prefix)` following `cursor` until
//! `list_complete`. KV is eventually consistent (up to about a minute between locations)
//! and last-writer-wins: an activation reaches other locations within that time, and two
//! administrators activating at once may lose one history entry; the reader tolerates a
//! pointer that names an artifact not yet visible (it answers stale until it is). The
//! futures are not `Send` (wasm), which [`crate::BoxFuture`] allows there.

use crate::host::{BoxFuture, MaybeSend, MaybeSync};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The store could not do what was asked (unreachable, failing, refusing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "catalog store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// A key-value store for artifacts and pointers (see the module docs for what a backend
/// must guarantee).
pub trait Store: MaybeSend + MaybeSync + 'static {
    /// The value at `key`, or `None` if nothing was ever put there.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
    /// Puts `value` at `key`, replacing any value whole.
    fn put<'a>(&'a self, key: &'a str, value: &'a [u8]) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Every key that starts with `prefix` (which ends in `/`).
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;
}

/// A store in process memory: for tests, and for hosts that want tenant catalogs without
/// persistence (they vanish with the process).
#[derive(Debug, Default)]
pub struct MemoryStore {
    values: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn values(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A panic elsewhere cannot leave the map half-written (every change is one
        // insert), so a poisoned lock is still a consistent map.
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { Ok(self.values().get(key).cloned()) })
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a [u8]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.values().insert(key.to_owned(), value.to_vec());
            Ok(())
        })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .values()
                .range(prefix.to_owned()..)
                .map(|(k, _)| k)
                .take_while(|k| k.starts_with(prefix))
                .cloned()
                .collect())
        })
    }
}

/// A store in a directory: each key is a file below `root` (`tenants/acme/active` is
/// `root/tenants/acme/active`). Writes go to `root/.staging/` first and are renamed into
/// place, so a reader (in this process or another sharing the directory) never sees half
/// a value. Blocking `std::fs` calls: values are small and local; a server that keeps the
/// directory on a slow network filesystem should call these from its blocking pool.
#[derive(Debug)]
pub struct DirStore {
    root: PathBuf,
    staged: AtomicU64,
}

impl DirStore {
    /// A store under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> DirStore {
        DirStore {
            root: root.into(),
            staged: AtomicU64::new(0),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn get_now(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(key)?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError(format!("cannot read {}: {e}", path.display()))),
        }
    }

    fn put_now(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        use std::io::Write;
        let path = self.path(key)?;
        let err = |what: &str, p: &Path, e: std::io::Error| {
            StoreError(format!("cannot {what} {}: {e}", p.display()))
        };
        let staging = self.root.join(".staging");
        std::fs::create_dir_all(&staging).map_err(|e| err("create", &staging, e))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| err("create", parent, e))?;
        }
        let temp = staging.join(format!(
            "{}-{}",
            std::process::id(),
            self.staged.fetch_add(1, Ordering::Relaxed)
        ));
        let written = std::fs::File::create(&temp)
            .and_then(|mut f| f.write_all(value).and_then(|()| f.sync_all()));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(err("write", &temp, e));
        }
        std::fs::rename(&temp, &path).map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            err("rename into", &path, e)
        })
    }

    fn list_now(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let dir = self.path(prefix.trim_end_matches('/'))?;
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError(format!("cannot list {}: {e}", dir.display()))),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| StoreError(format!("cannot list {}: {e}", dir.display())))?;
            if let Some(name) = entry.file_name().to_str()
                && entry.file_type().is_ok_and(|t| t.is_file())
                && !name.starts_with('.')
            {
                keys.push(format!("{prefix}{name}"));
            }
        }
        Ok(keys)
    }
}

impl Store for DirStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move { self.get_now(key) })
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a [u8]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.put_now(key, value) })
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move { self.list_now(prefix) })
    }
}

/// Keys are built by this crate from checked tenant names and digests; a backend that maps
/// keys to paths checks again, so no key can name a file outside its root.
fn check_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.split('/').all(|s| {
            !s.is_empty()
                && !s.starts_with('.')
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError(format!(
            "{:?} is not a store key",
            crate::artifact::truncate(key)
        )))
    }
}

/// Boxes any store for sharing between the serving and admin paths.
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        (**self).get(key)
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a [u8]) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).put(key, value)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        (**self).list(prefix)
    }
}

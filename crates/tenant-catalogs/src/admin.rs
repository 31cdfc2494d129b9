//! The administrative operations hosts expose on their admin API: upload, list, fetch,
//! activate, roll back, deactivate.
//!
//! These talk to the store directly, with the read timeout but without the breaker,
//! retries or stale answers of the serving path: an administrator wants to know that the
//! store failed, not to be told something old. Every change of a tenant's pointer is one
//! write of the whole pointer document, so activation is atomic; within an instance the
//! read-change-write is serialised, across instances the store's last writer wins.
//! Anything activated is validated first against this host's base, so the pointer never
//! names an artifact this host would refuse to serve.

use crate::artifact::{Defect, Digest, Packed, unpack};
use crate::catalogs::{
    Inner, Pointer, TenantCatalogs, TenantId, artifact_key, artifacts_prefix, pointer_key,
};
use crate::guard::ReadFailure;
use crate::store::StoreError;
use serde::Serialize;
use std::fmt;

/// Most earlier activations a pointer remembers for rollback.
pub const MAX_HISTORY: usize = 32;

/// Why an admin operation did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// The artifact is not a valid catalog over this host's base: every defect found.
    Rejected(Vec<Defect>),
    /// The tenant has no artifact of this digest.
    UnknownCatalog(Digest),
    /// Rollback with no earlier activation to return to.
    NothingToRollBack,
    /// The store failed or timed out.
    Store(String),
    /// The tenant's pointer document cannot be read as one.
    CorruptPointer(String),
}

impl AdminError {
    /// The HTTP status an admin API answers this with.
    pub fn status(&self) -> u16 {
        match self {
            AdminError::Rejected(_) => 422,
            AdminError::UnknownCatalog(_) => 404,
            AdminError::NothingToRollBack => 409,
            AdminError::Store(_) => 503,
            AdminError::CorruptPointer(_) => 500,
        }
    }

    /// A stable code for the error body.
    pub fn code(&self) -> &'static str {
        match self {
            AdminError::Rejected(_) => "INVALID_CATALOG",
            AdminError::UnknownCatalog(_) => "NOT_FOUND",
            AdminError::NothingToRollBack => "CONFLICT",
            AdminError::Store(_) => "SERVICE_UNAVAILABLE",
            AdminError::CorruptPointer(_) => "INTERNAL",
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminError::Rejected(defects) => {
                write!(f, "the catalog has {} defect(s)", defects.len())?;
                for d in defects {
                    write!(f, "; {d}")?;
                }
                Ok(())
            }
            AdminError::UnknownCatalog(d) => {
                write!(f, "no catalog {d} was uploaded for this tenant")
            }
            AdminError::NothingToRollBack => {
                f.write_str("nothing to roll back to: no catalog was active before this one")
            }
            AdminError::Store(e) => write!(f, "the catalog store failed: {e}"),
            AdminError::CorruptPointer(e) => {
                write!(f, "the tenant's pointer document is unreadable: {e}")
            }
        }
    }
}

impl std::error::Error for AdminError {}

impl From<ReadFailure> for AdminError {
    fn from(f: ReadFailure) -> AdminError {
        AdminError::Store(f.to_string())
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> AdminError {
        AdminError::Store(e.0)
    }
}

/// An upload's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Uploaded {
    pub digest: Digest,
    /// False when the same artifact was already stored (uploading is idempotent).
    pub created: bool,
    /// The artifact's files, sorted.
    pub files: Vec<String>,
    pub warnings: Vec<Defect>,
}

/// A tenant's catalogs: what is active, what rollback would return to, what is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub active: Option<Digest>,
    /// Earlier activations, most recent last.
    pub history: Vec<Digest>,
    /// Every stored artifact, sorted.
    pub catalogs: Vec<Digest>,
}

impl TenantCatalogs {
    /// Validates `bytes` (an artifact as `cargo xtask catalog pack` writes it) against this
    /// host's base and stores it. A refused upload changes nothing. Uploading does not
    /// activate.
    pub async fn upload(&self, tenant: &TenantId, bytes: &[u8]) -> Result<Uploaded, AdminError> {
        let inner = &self.inner;
        let packed =
            unpack(&inner.base, tenant.as_str(), bytes).map_err(|r| AdminError::Rejected(r.0))?;
        let key = artifact_key(tenant, &packed.digest);
        let existed = inner
            .guard
            .within_timeout(inner.store.get(&key))
            .await?
            .is_some();
        if !existed {
            inner
                .guard
                .within_timeout(inner.store.put(&key, &packed.bytes))
                .await?;
        }
        Ok(Uploaded {
            digest: packed.digest,
            created: !existed,
            files: packed.files,
            warnings: packed.warnings,
        })
    }

    /// The tenant's pointer and stored artifacts.
    pub async fn list(&self, tenant: &TenantId) -> Result<Listing, AdminError> {
        let inner = &self.inner;
        let pointer = inner.pointer(tenant).await?;
        let prefix = artifacts_prefix(tenant);
        let keys = inner
            .guard
            .within_timeout(inner.store.list(&prefix))
            .await?;
        let mut catalogs: Vec<Digest> = keys
            .iter()
            .filter_map(|k| Digest::parse(k.strip_prefix(&prefix)?).ok())
            .collect();
        catalogs.sort();
        Ok(Listing {
            active: pointer.active,
            history: pointer.history,
            catalogs,
        })
    }

    /// The stored artifact's bytes (for download and audit).
    pub async fn artifact(
        &self,
        tenant: &TenantId,
        digest: &Digest,
    ) -> Result<Vec<u8>, AdminError> {
        let inner = &self.inner;
        inner
            .guard
            .within_timeout(inner.store.get(&artifact_key(tenant, digest)))
            .await?
            .ok_or_else(|| AdminError::UnknownCatalog(digest.clone()))
    }

    /// Makes `digest` the tenant's active catalog, after checking it layers over this
    /// host's base. The catalog active until now becomes the one rollback returns to.
    pub async fn activate(
        &self,
        tenant: &TenantId,
        digest: &Digest,
    ) -> Result<Pointer, AdminError> {
        let inner = &self.inner;
        let _serial = inner.admin.lock().await;
        let packed = inner.validated(tenant, digest).await?;
        let mut pointer = inner.pointer(tenant).await?;
        if pointer.active.as_ref() == Some(digest) {
            inner.remember_catalog(tenant, digest, packed.catalog);
            return Ok(pointer);
        }
        if let Some(previous) = pointer.active.take() {
            pointer.history.push(previous);
        }
        pointer.active = Some(digest.clone());
        inner.write_pointer(tenant, pointer, Some(packed)).await
    }

    /// Returns to the catalog active before the current one (each rollback goes one step
    /// further back; the catalog rolled back from is not remembered).
    pub async fn rollback(&self, tenant: &TenantId) -> Result<Pointer, AdminError> {
        let inner = &self.inner;
        let _serial = inner.admin.lock().await;
        let mut pointer = inner.pointer(tenant).await?;
        let Some(previous) = pointer.history.pop() else {
            return Err(AdminError::NothingToRollBack);
        };
        let packed = inner.validated(tenant, &previous).await?;
        pointer.active = Some(previous);
        inner.write_pointer(tenant, pointer, Some(packed)).await
    }

    /// The tenant goes back to the base catalog; rollback reactivates what was active.
    pub async fn deactivate(&self, tenant: &TenantId) -> Result<Pointer, AdminError> {
        let inner = &self.inner;
        let _serial = inner.admin.lock().await;
        let mut pointer = inner.pointer(tenant).await?;
        let Some(previous) = pointer.active.take() else {
            return Ok(pointer);
        };
        pointer.history.push(previous);
        inner.write_pointer(tenant, pointer, None).await
    }
}

impl Inner {
    async fn pointer(&self, tenant: &TenantId) -> Result<Pointer, AdminError> {
        match self
            .guard
            .within_timeout(self.store.get(&pointer_key(tenant)))
            .await?
        {
            None => Ok(Pointer::default()),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| AdminError::CorruptPointer(e.to_string())),
        }
    }

    async fn validated(&self, tenant: &TenantId, digest: &Digest) -> Result<Packed, AdminError> {
        let bytes = self
            .guard
            .within_timeout(self.store.get(&artifact_key(tenant, digest)))
            .await?
            .ok_or_else(|| AdminError::UnknownCatalog(digest.clone()))?;
        match unpack(&self.base, tenant.as_str(), &bytes) {
            Ok(packed) if packed.digest == *digest => Ok(packed),
            Ok(packed) => Err(AdminError::Rejected(vec![Defect::upload(
                crate::artifact::WHOLE_ARTIFACT,
                "",
                format!(
                    "the stored bytes digest to {}, not to {digest}",
                    packed.digest
                ),
            )])),
            Err(rejected) => Err(AdminError::Rejected(rejected.0)),
        }
    }

    /// Writes the pointer whole, and makes this instance see it at once.
    async fn write_pointer(
        &self,
        tenant: &TenantId,
        mut pointer: Pointer,
        activated: Option<Packed>,
    ) -> Result<Pointer, AdminError> {
        let excess = pointer.history.len().saturating_sub(MAX_HISTORY);
        pointer.history.drain(..excess);
        let bytes =
            serde_json::to_vec(&pointer).map_err(|e| AdminError::CorruptPointer(e.to_string()))?;
        self.guard
            .within_timeout(self.store.put(&pointer_key(tenant), &bytes))
            .await?;
        self.remember_pointer(tenant, pointer.active.clone());
        if let (Some(packed), Some(digest)) = (activated, &pointer.active) {
            self.remember_catalog(tenant, digest, packed.catalog);
        }
        Ok(pointer)
    }
}

//! The artifact a tenant publishes: its catalog files in one content-addressed document.
//!
//! A catalog is a tree of small YAML files; a store (Workers KV, a directory) wants one
//! value per key, and an operator wants one name for "what is live". So a tenant's files
//! travel as one JSON document, `{"format": "aicr-catalog/v1", "files": {path: text}}`,
//! encoded canonically (keys sorted, compact), and its name is the SHA-256 of those bytes:
//! the same files always give the same digest, on any machine, and a stored artifact
//! cannot change under its name. JSON rather than a tar or zip because every host already
//! parses it and catalog files are text (the loader refuses anything else).
//!
//! Packing runs the checks upstream's CLI runs on an external `--data` directory (a
//! `registry.yaml` is required; no `..` in a path; no symlinks; no file over 10 MiB), then
//! layers the files over the base catalog and runs every check the build runs on the
//! result (`Base::load`), so an artifact that packs is one the hosts will serve.

use crate::layer::Base;
use aicr_catalog::Role;
use aicr_recipe::Catalog;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// The `format` of the artifact document this crate writes and reads.
pub const FORMAT: &str = "aicr-catalog/v1";
/// File name extension of a packed artifact (`<digest>.aicr-catalog`).
pub const EXTENSION: &str = "aicr-catalog";
/// Largest file a tenant catalog may hold: upstream's limit for `--data` files.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Largest encoded artifact: below Workers KV's 25 MiB value limit, so every store can
/// hold what any host accepts. Hosts should refuse larger upload bodies before reading them.
pub const MAX_ARTIFACT_BYTES: usize = 24 * 1024 * 1024;
/// The file every tenant catalog must contain (upstream requires it of `--data`).
pub const REGISTRY: &str = "registry.yaml";
/// The `file` of a defect about the artifact as a whole.
pub const WHOLE_ARTIFACT: &str = "(artifact)";

/// The SHA-256 of an artifact's canonical bytes: 64 lower-case hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(hex::encode(Sha256::digest(bytes)))
    }

    /// Parses a digest as a client writes it (a path segment, a JSON string). Upper-case
    /// hex is accepted and normalised; anything else is refused with the reason.
    pub fn parse(text: &str) -> Result<Digest, String> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "{:?} is not a catalog digest (64 hex digits, the SHA-256 of the artifact)",
                truncate(text)
            ));
        }
        Ok(Digest(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<digest>.aicr-catalog`, the name `cargo xtask catalog pack` writes.
    pub fn file_name(&self) -> String {
        format!("{}.{EXTENSION}", self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Digest {
    type Error = String;
    fn try_from(text: String) -> Result<Digest, String> {
        Digest::parse(&text)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

/// At most 200 bytes of client text in a message (as the API bounds its echoes).
pub(crate) fn truncate(text: &str) -> &str {
    if text.len() <= 200 {
        return text;
    }
    let mut end = 200;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Which layer a defect is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A file of the tenant's upload (or the upload as a whole).
    Upload,
    /// A file of the base catalog that the upload made wrong (it replaced a file this one
    /// refers to, say); the file itself was not uploaded.
    Base,
    /// No one file: a recipe that fails when overlays combine.
    Catalog,
}

/// One thing wrong with a catalog: which file, which field, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defect {
    /// Catalog-relative path; `(artifact)` for the artifact document, `(catalog)` for a
    /// whole-catalog finding.
    pub file: String,
    /// Dotted path inside the file's document; empty for the whole file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
    pub reason: String,
    pub origin: Origin,
}

impl Defect {
    pub(crate) fn upload(file: &str, field: &str, reason: impl Into<String>) -> Defect {
        Defect {
            file: file.to_owned(),
            field: field.to_owned(),
            reason: reason.into(),
            origin: Origin::Upload,
        }
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.reason)?;
        if self.origin == Origin::Base {
            f.write_str(" (a file of the base catalog, not uploaded: an uploaded file changed what it relies on)")?;
        }
        Ok(())
    }
}

/// A catalog refused, with every defect found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub Vec<Defect>);

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the catalog has {} defect(s):", self.0.len())?;
        for d in &self.0 {
            write!(f, "\n  - {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejected {}

/// A tenant's files (catalog-relative path to YAML text), as uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    files: BTreeMap<String, String>,
}

/// A checked artifact: its digest and canonical bytes, and the catalog it makes layered
/// over the base.
#[derive(Debug, Clone)]
pub struct Packed {
    pub digest: Digest,
    /// The canonical encoding (what stores keep, what the digest is of).
    pub bytes: Vec<u8>,
    /// The uploaded files' paths, sorted.
    pub files: Vec<String>,
    /// The base catalog with these files layered over it, validated.
    pub catalog: Arc<Catalog>,
    /// What validation noticed in the uploaded files but tolerates (as the build does).
    pub warnings: Vec<Defect>,
}

/// Checks a tenant's files, layers them over `base` and runs the build's checks; `label`
/// names the result (`<base name>+<label>`). Files the loader never reads (`checks/`,
/// READMEs, anything not `.yaml`) are left out of the artifact, each with a warning.
pub fn pack_files(
    base: &Base,
    label: &str,
    files: BTreeMap<String, Vec<u8>>,
) -> Result<Packed, Rejected> {
    let mut defects = Vec::new();
    let mut warnings = Vec::new();
    let mut kept = BTreeMap::new();
    for (path, bytes) in files {
        if let Err(reason) = check_path(&path) {
            defects.push(Defect::upload(&path, "", reason));
            continue;
        }
        if bytes.len() > MAX_FILE_BYTES {
            defects.push(Defect::upload(
                &path,
                "",
                format!(
                    "file too large: {} bytes, at most {MAX_FILE_BYTES} (upstream's limit for --data files)",
                    bytes.len()
                ),
            ));
            continue;
        }
        if aicr_catalog::role_of(&path) == Role::Ignored {
            warnings.push(Defect::upload(
                &path,
                "",
                "not a catalog file (the loader reads overlays/*.yaml, registry.yaml, components/<name>/*.yaml, components/<name>/manifests/*.yaml and validators/catalog.yaml); left out of the artifact",
            ));
            continue;
        }
        match String::from_utf8(bytes) {
            Ok(text) => {
                kept.insert(path, text);
            }
            Err(e) => defects.push(Defect::upload(
                &path,
                "",
                format!(
                    "not UTF-8 text (catalog files are YAML): {}",
                    e.utf8_error()
                ),
            )),
        }
    }
    // A file refused above is missing from what the loader would see, and it would
    // report that absence as defects of its own: stop here. A missing registry.yaml takes
    // nothing away, so the loader still runs and its defects come too.
    if !defects.is_empty() {
        return Err(Rejected(defects));
    }
    let registry_missing = !kept.contains_key(REGISTRY);
    let document = Document {
        format: FORMAT.to_owned(),
        files: kept,
    };
    let packed = finish(base, label, document, warnings);
    if !registry_missing {
        return packed;
    }
    let mut defects = vec![Defect::upload(
        REGISTRY,
        "",
        "missing: a tenant catalog must contain registry.yaml (upstream's --data requires it; its components are merged into the base registry by name, and `components: []` changes nothing)",
    )];
    if let Err(Rejected(more)) = packed {
        defects.extend(more);
    }
    Err(Rejected(defects))
}

/// Reads a catalog directory as upstream's CLI reads `--data` (symlinks refused, paths
/// relative to `dir`) and packs it with [`pack_files`].
pub fn pack_dir(base: &Base, label: &str, dir: &Path) -> Result<Packed, Rejected> {
    let meta = std::fs::metadata(dir).map_err(|e| {
        Rejected(vec![Defect::upload(
            &dir.display().to_string(),
            "",
            format!("cannot open the catalog directory: {e}"),
        )])
    })?;
    if !meta.is_dir() {
        return Err(Rejected(vec![Defect::upload(
            &dir.display().to_string(),
            "",
            "not a directory; name the directory that holds registry.yaml and overlays/",
        )]));
    }
    let mut files = BTreeMap::new();
    let mut defects = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(e) => {
                defects.push(Defect::upload(
                    &relative(dir, &current),
                    "",
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    defects.push(Defect::upload(
                        &relative(dir, &current),
                        "",
                        format!("cannot read: {e}"),
                    ));
                    continue;
                }
            };
            let path = entry.path();
            let rel = relative(dir, &path);
            match entry.file_type() {
                Ok(t) if t.is_symlink() => defects.push(Defect::upload(
                    &rel,
                    "",
                    "symlinks are not allowed in a catalog (upstream refuses them in --data)",
                )),
                Ok(t) if t.is_dir() => pending.push(path),
                Ok(_) => match std::fs::read(&path) {
                    Ok(bytes) => {
                        files.insert(rel, bytes);
                    }
                    Err(e) => defects.push(Defect::upload(&rel, "", format!("cannot read: {e}"))),
                },
                Err(e) => defects.push(Defect::upload(&rel, "", format!("cannot read: {e}"))),
            }
        }
    }
    match pack_files(base, label, files) {
        Ok(packed) if defects.is_empty() => Ok(packed),
        Ok(_) => Err(Rejected(defects)),
        Err(Rejected(more)) => {
            defects.extend(more);
            Err(Rejected(defects))
        }
    }
}

/// Checks an uploaded artifact exactly as [`pack_files`] checks a directory's files: the
/// hosts' upload path, and their read path (a stored artifact is layered again over the
/// host's own base, which may be newer than the one it was packed against).
pub fn unpack(base: &Base, label: &str, bytes: &[u8]) -> Result<Packed, Rejected> {
    if bytes.len() > MAX_ARTIFACT_BYTES {
        return Err(Rejected(vec![Defect::upload(
            WHOLE_ARTIFACT,
            "",
            format!(
                "artifact too large: {} bytes, at most {MAX_ARTIFACT_BYTES}",
                bytes.len()
            ),
        )]));
    }
    let document: Document = serde_json::from_slice(bytes).map_err(|e| {
        Rejected(vec![Defect::upload(
            WHOLE_ARTIFACT,
            "",
            format!(
                "not an {FORMAT} artifact (a JSON document {{\"format\": \"{FORMAT}\", \"files\": {{path: text}}}}, as `cargo xtask catalog pack` writes): {e}"
            ),
        )])
    })?;
    if document.format != FORMAT {
        return Err(Rejected(vec![Defect::upload(
            WHOLE_ARTIFACT,
            "format",
            format!(
                "{:?} is not a format this host reads; expected {FORMAT:?}",
                truncate(&document.format)
            ),
        )]));
    }
    let files = document
        .files
        .into_iter()
        .map(|(path, text)| (path, text.into_bytes()))
        .collect();
    pack_files(base, label, files)
}

/// Encodes, checks the size, layers and loads.
fn finish(
    base: &Base,
    label: &str,
    document: Document,
    mut warnings: Vec<Defect>,
) -> Result<Packed, Rejected> {
    let bytes = serde_json::to_vec(&document).map_err(|e| {
        Rejected(vec![Defect::upload(
            WHOLE_ARTIFACT,
            "",
            format!("cannot be encoded: {e}"),
        )])
    })?;
    if bytes.len() > MAX_ARTIFACT_BYTES {
        return Err(Rejected(vec![Defect::upload(
            WHOLE_ARTIFACT,
            "",
            format!(
                "artifact too large: {} bytes encoded, at most {MAX_ARTIFACT_BYTES}",
                bytes.len()
            ),
        )]));
    }
    let layered = base.load(label, &document.files).map_err(Rejected)?;
    warnings.extend(layered.warnings);
    Ok(Packed {
        digest: Digest::of(&bytes),
        bytes,
        files: document.files.into_keys().collect(),
        catalog: layered.catalog,
        warnings,
    })
}

/// A path as the catalog names it: relative, `/`-separated, no empty, `.` or `..`
/// segment. Upstream refuses any path that contains `..` at all, so that is refused too.
fn check_path(path: &str) -> Result<(), String> {
    let shown = truncate(path);
    if path.contains("..") {
        return Err(format!(
            "path {shown:?} contains \"..\" (path traversal; upstream refuses any such path in --data)"
        ));
    }
    if path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.split('/').any(|s| s.is_empty() || s == ".")
        || path.chars().any(char::is_control)
    {
        return Err(format!(
            "path {shown:?} is not a catalog-relative path (segments separated by '/', none empty or '.')"
        ));
    }
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

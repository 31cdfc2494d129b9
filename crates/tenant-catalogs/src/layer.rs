//! A tenant's catalog layered over the base catalog, by upstream's rules for `--data`.
//!
//! Upstream's CLI (v0.11.1, `pkg/recipe/provider.go`) serves an external directory over
//! its embedded catalog through a layered file provider; its server cannot. We give every
//! tenant that provider's semantics, at the same level it works at, files:
//!
//! 1. A file of the upload replaces the base file of the same path, whole; a path the
//!    base does not have is added. Nothing is deleted: base files the upload does not name
//!    stay. So a replaced overlay keeps the overlays that inherit from it, a replaced values
//!    file changes every overlay that names it, and an uploaded overlay may name base
//!    values files.
//! 2. `registry.yaml` is the exception: it is merged, not replaced. Entries are matched by
//!    `name`; an uploaded entry replaces the base entry of that name whole (no field-level
//!    merge: fields it leaves out are gone), in the base entry's place; uploaded entries
//!    with new names follow, in upload order. `components: []` leaves the base registry as
//!    it is. The upload must contain `registry.yaml` (checked when packing).
//! 3. Overlays are then found as the build finds them, by path, and named by
//!    `metadata.name`; `overlays/base.yaml` is the root recipe.
//!
//! Then the whole layered file set goes through the build's loader
//! ([`aicr_catalog::load_files`]), so the tenant gets every check the build runs.
//! Where upstream would silently do something surprising, the loader refuses instead,
//! and the defect says so (see [`crate::artifact::Defect`]):
//!
//! - an uploaded overlay whose `metadata.name` another file already uses (upstream keeps
//!   whichever it walks last, which is the embedded one: the upload is silently ignored);
//! - an uploaded `overlays/base.yaml` not named `base` (upstream takes any name);
//! - a registry `kind` or `apiVersion` other than upstream's (upstream only logs a
//!   warning), an unknown registry key (upstream drops it), or a component listed twice
//!   (upstream keeps the last).

use crate::artifact::{Defect, Origin, REGISTRY};
use aicr_catalog::{Diagnostic, Files};
use aicr_recipe::Catalog;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// A catalog shared between requests: the embedded one lives in static data, a loaded one
/// behind an `Arc`.
#[derive(Debug, Clone)]
pub enum CatalogRef {
    Static(&'static Catalog),
    Shared(Arc<Catalog>),
}

impl Deref for CatalogRef {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        match self {
            CatalogRef::Static(c) => c,
            CatalogRef::Shared(c) => c,
        }
    }
}

/// The catalog tenants layer over: its source files and its own loaded catalog (what
/// answers for a tenant without a catalog of its own, and on fallback).
#[derive(Debug, Clone)]
pub struct Base {
    inner: Arc<BaseInner>,
}

#[derive(Debug)]
struct BaseInner {
    files: Files,
    catalog: CatalogRef,
}

/// The layered catalog and the warnings about the uploaded files.
pub(crate) struct Layered {
    pub catalog: Arc<Catalog>,
    pub warnings: Vec<Defect>,
}

/// Source files of the embedded catalog but its manifests (see `build.rs`).
static SOURCES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/sources.rs"));

impl Base {
    /// The catalog this build embeds: its source files, compiled in, and its manifest
    /// templates, borrowed from the embedded catalog's static text (no copy).
    pub fn embedded() -> Base {
        static EMBEDDED: OnceLock<Base> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| {
                let catalog = aicr_embedded_catalog::catalog();
                let mut files: Files = SOURCES
                    .iter()
                    .map(|(path, bytes)| ((*path).to_owned(), Cow::Borrowed(*bytes)))
                    .collect();
                for (path, text) in &catalog.parts().manifests {
                    let bytes = match text {
                        Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
                        Cow::Owned(text) => Cow::Owned(text.clone().into_bytes()),
                    };
                    files.insert(path.clone(), bytes);
                }
                Base {
                    inner: Arc::new(BaseInner {
                        files,
                        catalog: CatalogRef::Static(catalog),
                    }),
                }
            })
            .clone()
    }

    /// Any catalog as a base (tests; a host embedding another catalog), checked by the
    /// build's loader. `name` labels it.
    pub fn from_files(name: &str, files: Files) -> Result<Base, Vec<Defect>> {
        let loaded = aicr_catalog::load_files(files.clone(), name).map_err(|d| {
            d.into_iter()
                .map(|d| defect(d, Origin::Base))
                .collect::<Vec<_>>()
        })?;
        Ok(Base {
            inner: Arc::new(BaseInner {
                files,
                catalog: CatalogRef::Shared(Arc::new(loaded.catalog)),
            }),
        })
    }

    /// The base's own catalog.
    pub fn catalog(&self) -> &CatalogRef {
        &self.inner.catalog
    }

    /// The base's source files (manifest templates included).
    pub fn files(&self) -> &Files {
        &self.inner.files
    }

    /// The file set a tenant's catalog is: the base's files with `upload` layered over
    /// them (rules 1 and 2 of the module docs).
    pub fn layer(&self, upload: &BTreeMap<String, String>) -> Files {
        let mut files = self.inner.files.clone();
        for (path, text) in upload {
            let bytes = if path == REGISTRY {
                merge_registry(self.inner.files.get(REGISTRY).map(|b| b.as_ref()), text)
            } else {
                text.clone().into_bytes()
            };
            files.insert(path.clone(), Cow::Owned(bytes));
        }
        files
    }

    /// Layers `upload` and runs the build's loader on the result. Defects are named by
    /// file, field and reason, and say whether the file was uploaded; warnings about base
    /// files (reported when the base was built) are left out.
    pub(crate) fn load(
        &self,
        label: &str,
        upload: &BTreeMap<String, String>,
    ) -> Result<Layered, Vec<Defect>> {
        let name = format!("{}+{label}", self.inner.catalog.info().name);
        let origin = |file: &str| {
            if file.starts_with('(') {
                Origin::Catalog
            } else if file.split(" and ").any(|f| upload.contains_key(f)) {
                Origin::Upload
            } else {
                Origin::Base
            }
        };
        match aicr_catalog::load_files(self.layer(upload), &name) {
            Ok(loaded) => Ok(Layered {
                catalog: Arc::new(loaded.catalog),
                warnings: loaded
                    .warnings
                    .into_iter()
                    .filter_map(|w| {
                        let o = origin(&w.file);
                        (o != Origin::Base).then(|| defect(w, o))
                    })
                    .collect(),
            }),
            Err(diagnostics) => Err(diagnostics
                .into_iter()
                .map(|d| {
                    let o = origin(&d.file);
                    defect(d, o)
                })
                .collect()),
        }
    }
}

fn defect(d: Diagnostic, origin: Origin) -> Defect {
    Defect {
        file: d.file,
        field: d.field,
        reason: d.reason,
        origin,
    }
}

/// Rule 2: the base registry with the uploaded one merged in by component name. The
/// upload's `kind` and `apiVersion` win, so the loader checks them as the build would.
///
/// An upload that is not a registry this merge can read (not YAML, not a mapping, a
/// `components` that is not a list of named mappings) is returned as it is: the loader
/// then reports exactly what is wrong with it, in the build's words.
fn merge_registry(base: Option<&[u8]>, upload: &str) -> Vec<u8> {
    let as_is = || upload.as_bytes().to_vec();
    let Ok(Value::Object(uploaded)) = serde_norway::from_str::<Value>(upload) else {
        return as_is();
    };
    let Some(base) = base.and_then(|b| serde_norway::from_slice::<Value>(b).ok()) else {
        return as_is();
    };
    let Value::Object(mut merged) = base else {
        return as_is();
    };
    let name_of = |entry: &Value| entry.get("name").and_then(Value::as_str).map(str::to_owned);
    let new_entries: Vec<Value> = match uploaded.get("components") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) if list.iter().all(|e| name_of(e).is_some()) => list.clone(),
        Some(_) => return as_is(),
    };
    let base_entries = match merged.remove("components") {
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    let base_names: Vec<String> = base_entries.iter().filter_map(name_of).collect();
    let mut components = Vec::with_capacity(base_entries.len() + new_entries.len());
    for entry in base_entries {
        let name = name_of(&entry);
        let replacing: Vec<&Value> = new_entries
            .iter()
            .filter(|e| name.is_some() && name_of(e) == name)
            .collect();
        if replacing.is_empty() {
            components.push(entry);
        } else {
            // Every uploaded entry of that name, so a duplicate reaches the loader (which
            // refuses it) instead of one silently winning.
            components.extend(replacing.into_iter().cloned());
        }
    }
    components.extend(
        new_entries
            .iter()
            .filter(|e| name_of(e).is_none_or(|n| !base_names.contains(&n)))
            .cloned(),
    );
    let mut top: Map<String, Value> = uploaded;
    top.remove("components");
    for (key, value) in top {
        merged.insert(key, value);
    }
    merged.insert("components".to_owned(), Value::Array(components));
    serde_norway::to_string(&Value::Object(merged))
        .map(String::into_bytes)
        .unwrap_or_else(|_| as_is())
}

//! Walks a catalog directory and turns it into a checked [`Catalog`].

use crate::digest::digest;
use crate::documents::{
    API_VERSION, COMPONENT_REGISTRY, CriteriaDoc, Header, OverlayDoc, RECIPE_METADATA,
    REGISTRY_KEYS, RegistryDoc,
};
use aicr_recipe::model::{
    HelmDefaults, KustomizeDefaults, NodeScheduling, PodScheduling, RegistryEntry, Spec,
};
use aicr_recipe::{
    Accelerator, Catalog, CatalogInfo, CatalogParts, Criteria, CriteriaError, Field, Intent, Os,
    Overlay, Platform, Service,
};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// A finding about one file: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Catalog-relative path (or `(catalog)` for a finding about the whole catalog).
    pub file: String,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.field, self.reason)
        }
    }
}

/// A loaded catalog and what validation noticed but tolerated.
#[derive(Debug)]
pub struct Loaded {
    pub catalog: Catalog,
    pub warnings: Vec<Diagnostic>,
}

const WHOLE_CATALOG: &str = "(catalog)";

struct Loader {
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Loader {
    fn error(&mut self, file: &str, field: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(Diagnostic {
            file: file.into(),
            field: field.into(),
            reason: reason.into(),
        });
    }

    fn warn(&mut self, file: &str, field: impl Into<String>, reason: impl Into<String>) {
        self.warnings.push(Diagnostic {
            file: file.into(),
            field: field.into(),
            reason: reason.into(),
        });
    }

    fn parse<T: serde::de::DeserializeOwned>(&mut self, file: &str, bytes: &[u8]) -> Option<T> {
        match serde_norway::from_slice(bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(file, "", format!("not a valid document: {e}"));
                None
            }
        }
    }
}

/// The files of a catalog held in memory: catalog-relative `/`-separated path to bytes.
/// Borrowed bytes stay borrowed where the catalog keeps text (manifest templates), so a
/// catalog assembled from static data does not copy it.
pub type Files = BTreeMap<String, Cow<'static, [u8]>>;

/// Reads every file below `dir` (keyed by relative path, `/`-separated).
fn read_tree(dir: &Path) -> Result<Files, Diagnostic> {
    let io_err = |p: &Path, e: std::io::Error| Diagnostic {
        file: p.display().to_string(),
        field: String::new(),
        reason: format!("cannot read: {e}"),
    };
    let mut out = Files::new();
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| io_err(&current, e))?;
        for entry in entries {
            let path = entry.map_err(|e| io_err(&current, e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                let bytes = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
                out.insert(rel, Cow::Owned(bytes));
            }
        }
    }
    Ok(out)
}

/// What the loader makes of a file, by its catalog-relative path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `overlays/<file>.yaml`: an overlay, or the base recipe (`overlays/base.yaml`).
    Overlay,
    /// `registry.yaml`: the component registry.
    Registry,
    /// `components/<name>/<file>.yaml`: a Helm values document.
    Values,
    /// `components/<name>/manifests/<file>.yaml`: a manifest template.
    Manifest,
    /// `validators/catalog.yaml`: the names of known checks.
    Validators,
    /// Anything else (`checks/`, other folders, files not ending in `.yaml`): not read,
    /// not digested.
    Ignored,
}

/// The role of the file at `path` (catalog-relative, `/`-separated).
pub fn role_of(path: &str) -> Role {
    let parts: Vec<&str> = path.split('/').collect();
    let yaml = path.ends_with(".yaml");
    match parts.as_slice() {
        _ if !yaml => Role::Ignored,
        ["checks", ..] => Role::Ignored,
        ["overlays", _] => Role::Overlay,
        ["registry.yaml"] => Role::Registry,
        ["components", _, _] => Role::Values,
        ["components", _, "manifests", _] => Role::Manifest,
        ["validators", "catalog.yaml"] => Role::Validators,
        _ => Role::Ignored,
    }
}

/// Loads and validates the catalog in `dir`. `name` labels it in [`CatalogInfo`].
pub fn load_dir(dir: &Path, name: &str) -> Result<Loaded, Vec<Diagnostic>> {
    load_files(read_tree(dir).map_err(|d| vec![d])?, name)
}

/// Loads and validates a catalog whose files are in memory, with exactly the checks of
/// [`load_dir`] (which reads a directory into [`Files`] and calls this).
pub fn load_files(files: Files, name: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let mut loader = Loader {
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let mut base: Option<(String, Spec)> = None;
    let mut overlays: Vec<(String, Overlay)> = Vec::new();
    let mut registry: Option<Vec<RegistryEntry>> = None;
    let mut values = BTreeMap::new();
    let mut manifests = BTreeMap::new();
    let mut checks_known: Option<BTreeSet<String>> = None;
    let mut digested: Vec<(&str, &[u8])> = Vec::new();

    for (path, bytes) in &files {
        let role = role_of(path);
        if !matches!(role, Role::Ignored) {
            digested.push((path, bytes.as_ref()));
        }
        match role {
            Role::Overlay => {
                if let Some((overlay, is_base)) = load_overlay(&mut loader, path, bytes) {
                    if is_base {
                        base = Some((path.clone(), overlay.spec));
                    } else if overlay.name == "base" {
                        loader.error(
                            path,
                            "metadata.name",
                            "\"base\" is reserved for the root recipe in overlays/base.yaml; this would be a second base",
                        );
                    } else {
                        overlays.push((path.clone(), overlay));
                    }
                }
            }
            Role::Registry => registry = load_registry(&mut loader, path, bytes),
            Role::Values => {
                if let Some(doc) = loader.parse::<Value>(path, bytes) {
                    match doc {
                        Value::Object(_) => {
                            values.insert(path.clone(), doc);
                        }
                        Value::Null => {
                            values.insert(path.clone(), Value::Object(Default::default()));
                        }
                        other => loader.error(
                            path,
                            "",
                            format!(
                                "a values file must be a mapping of Helm values, found {}",
                                kind_of(&other)
                            ),
                        ),
                    }
                }
            }
            Role::Manifest => match manifest_text(bytes.clone()) {
                Ok(text) => {
                    if let Err(e) = aicr_helm_template::parse(&text) {
                        loader.error(path, "", format!("not a usable manifest template: {e}"));
                    }
                    manifests.insert(path.clone(), text);
                }
                Err(e) => loader.error(path, "", format!("a manifest must be UTF-8 text: {e}")),
            },
            Role::Validators => checks_known = load_validator_names(&mut loader, path, bytes),
            Role::Ignored => {}
        }
    }

    let Some((base_file, base_spec)) = base else {
        loader.error(
            "overlays/base.yaml",
            "",
            "missing: every catalog needs a base recipe named \"base\" in overlays/base.yaml",
        );
        return Err(loader.errors);
    };
    let registry = registry.unwrap_or_else(|| {
        loader.warn(
            "registry.yaml",
            "",
            "missing: no registry defaults will be applied",
        );
        Vec::new()
    });

    let file_of: BTreeMap<String, Vec<String>> =
        overlays.iter().fold(BTreeMap::new(), |mut m, (file, o)| {
            m.entry(o.name.clone()).or_default().push(file.clone());
            m
        });
    let specs =
        std::iter::once((&base_file, &base_spec)).chain(overlays.iter().map(|(f, o)| (f, &o.spec)));
    for (file, spec) in specs {
        for (i, r) in spec.component_refs.iter().enumerate() {
            for (j, m) in r.manifest_files.iter().enumerate() {
                if !manifests.contains_key(m) {
                    loader.error(
                        file,
                        format!("spec.componentRefs[{i}].manifestFiles[{j}]"),
                        format!("manifest file {m:?} does not exist in the catalog"),
                    );
                }
            }
        }
        if let Some(known) = &checks_known {
            check_names(&mut loader, file, spec, known);
        }
    }
    if !loader.errors.is_empty() {
        return Err(loader.errors);
    }

    let info = CatalogInfo {
        name: name.to_owned(),
        version: String::new(),
        digest: digest(digested.iter().copied()),
    };
    let info = CatalogInfo {
        version: info.digest[..12].to_owned(),
        ..info
    };
    let parts = CatalogParts {
        info,
        base: base_spec,
        overlays: overlays.into_iter().map(|(_, o)| o).collect(),
        registry,
        values,
        manifests,
    };
    let catalog = match Catalog::new(parts) {
        Ok(c) => c,
        Err(errors) => {
            return Err(errors
                .into_iter()
                .map(|e| {
                    let file = match &e.overlay {
                        Some(name) if name == "base" => base_file.clone(),
                        Some(name) => file_of
                            .get(name)
                            .map(|f| f.join(" and "))
                            .unwrap_or_else(|| name.clone()),
                        None => "registry.yaml".to_owned(),
                    };
                    Diagnostic {
                        file,
                        field: e.field,
                        reason: e.reason,
                    }
                })
                .collect());
        }
    };
    let recipe_errors = catalog.check_all_recipes();
    if !recipe_errors.is_empty() {
        return Err(recipe_errors
            .into_iter()
            .map(|e| Diagnostic {
                file: WHOLE_CATALOG.into(),
                field: e.field,
                reason: e.reason,
            })
            .collect());
    }
    Ok(Loaded {
        catalog,
        warnings: loader.warnings,
    })
}

/// A manifest's text, borrowed when its bytes are static.
fn manifest_text(bytes: Cow<'static, [u8]>) -> Result<Cow<'static, str>, std::str::Utf8Error> {
    match bytes {
        Cow::Borrowed(b) => std::str::from_utf8(b).map(Cow::Borrowed),
        Cow::Owned(b) => String::from_utf8(b)
            .map(Cow::Owned)
            .map_err(|e| e.utf8_error()),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn load_overlay(loader: &mut Loader, path: &str, bytes: &[u8]) -> Option<(Overlay, bool)> {
    let header: Header = loader.parse(path, bytes)?;
    match header.kind.as_deref() {
        None | Some("") | Some(RECIPE_METADATA) => {}
        Some(other) => {
            loader.error(
                path,
                "kind",
                format!(
                    "unknown kind {other:?}; files in overlays/ must be kind {RECIPE_METADATA}"
                ),
            );
            return None;
        }
    }
    let doc: OverlayDoc = loader.parse(path, bytes)?;
    if let Some(v) = doc
        .api_version
        .as_deref()
        .filter(|v| !v.is_empty() && *v != API_VERSION)
    {
        loader.error(
            path,
            "apiVersion",
            format!("{v:?} is not supported; use {API_VERSION}"),
        );
    }
    let _ = doc.kind;
    let is_base = path == "overlays/base.yaml";
    let name = doc.metadata.name;
    if name.is_empty() {
        loader.error(
            path,
            "metadata.name",
            "is empty; every overlay needs a unique name",
        );
        return None;
    }
    if is_base && name != "base" {
        loader.error(
            path,
            "metadata.name",
            format!("the base recipe must be named \"base\", not {name:?}"),
        );
    }
    if is_base && !doc.spec.base.is_empty() {
        loader.error(
            path,
            "spec.base",
            "the base recipe cannot inherit from another overlay",
        );
    }
    let criteria = match doc.spec.criteria {
        Some(c) if !is_base => Some(overlay_criteria(loader, path, &c)?),
        Some(_) => {
            loader.warn(
                path,
                "spec.criteria",
                "the base recipe always applies; its criteria are ignored",
            );
            None
        }
        None => None,
    };
    let spec = Spec {
        constraints: doc.spec.constraints,
        component_refs: doc.spec.component_refs,
        validation: doc.spec.validation,
    };
    Some((
        Overlay {
            name,
            parent: doc.spec.base,
            criteria,
            spec,
        },
        is_base,
    ))
}

/// Overlay criteria must be canonical: upstream compares them verbatim with normalised
/// queries, so `EKS` or `al2023` in an overlay would silently never match.
fn overlay_criteria(loader: &mut Loader, path: &str, c: &CriteriaDoc) -> Option<Criteria> {
    fn field<T: fmt::Display>(
        loader: &mut Loader,
        path: &str,
        field: Field,
        raw: &str,
        canonical: fn(&str) -> Option<T>,
        lenient: fn(&str) -> Result<T, CriteriaError>,
    ) -> Option<T> {
        let parsed = canonical(raw);
        if parsed.is_none() {
            let reason = match lenient(raw) {
                // A query may say `EKS` or `al2023`; an overlay may not, or it never matches.
                Ok(value) => format!(
                    "{raw:?} is not canonical; write it as \"{value}\" (overlay criteria are matched verbatim against normalised queries)"
                ),
                Err(_) => format!(
                    "{raw:?} is not a canonical {field} value; allowed (lower-case): {}, any",
                    field.allowed_values().join(", ")
                ),
            };
            loader.error(path, format!("spec.criteria.{field}"), reason);
        }
        parsed
    }
    let service = field(
        loader,
        path,
        Field::Service,
        &c.service,
        Service::parse_canonical,
        Service::parse,
    );
    let accelerator = field(
        loader,
        path,
        Field::Accelerator,
        &c.accelerator,
        Accelerator::parse_canonical,
        Accelerator::parse,
    );
    let intent = field(
        loader,
        path,
        Field::Intent,
        &c.intent,
        Intent::parse_canonical,
        Intent::parse,
    );
    let os = field(
        loader,
        path,
        Field::Os,
        &c.os,
        Os::parse_canonical,
        Os::parse,
    );
    let platform = field(
        loader,
        path,
        Field::Platform,
        &c.platform,
        Platform::parse_canonical,
        Platform::parse,
    );
    Some(Criteria {
        service: service?,
        accelerator: accelerator?,
        intent: intent?,
        os: os?,
        platform: platform?,
        nodes: c.nodes,
    })
}

fn load_registry(loader: &mut Loader, path: &str, bytes: &[u8]) -> Option<Vec<RegistryEntry>> {
    let doc: RegistryDoc = loader.parse(path, bytes)?;
    if let Some(kind) = doc.kind.as_deref().filter(|k| *k != COMPONENT_REGISTRY) {
        loader.error(
            path,
            "kind",
            format!("unknown kind {kind:?}; registry.yaml must be kind {COMPONENT_REGISTRY}"),
        );
    }
    if let Some(v) = doc.api_version.as_deref().filter(|v| *v != API_VERSION) {
        loader.error(
            path,
            "apiVersion",
            format!("{v:?} is not supported; use {API_VERSION}"),
        );
    }
    let mut entries = Vec::new();
    for (i, raw) in doc.components.iter().enumerate() {
        let name = raw.get("name").and_then(Value::as_str).unwrap_or_default();
        let at = |field: &str| {
            if name.is_empty() {
                format!("components[{i}].{field}")
            } else {
                format!("components[{name}].{field}")
            }
        };
        if name.is_empty() {
            loader.error(
                path,
                at("name"),
                "is missing; every registry entry needs a name",
            );
            continue;
        }
        for key in raw.keys().filter(|k| !REGISTRY_KEYS.contains(&k.as_str())) {
            if key == "manifest" {
                // Upstream v0.11.1 ships `gke-nccl-tcpxo` with this key; its loader drops it
                // silently. Tolerated (and ignored the same way) so that catalog loads unchanged.
                loader.warn(path, at(key), "unknown key, ignored as upstream ignores it (the entry gets no default namespace)");
            } else {
                loader.error(
                    path,
                    at(key),
                    format!("unknown key; allowed keys are {}", REGISTRY_KEYS.join(", ")),
                );
            }
        }
        let helm = section::<HelmDefaults>(
            loader,
            path,
            &at("helm"),
            raw.get("helm"),
            &[
                "defaultRepository",
                "defaultChart",
                "defaultVersion",
                "defaultNamespace",
            ],
        );
        let kustomize = section::<KustomizeDefaults>(
            loader,
            path,
            &at("kustomize"),
            raw.get("kustomize"),
            &["defaultSource", "defaultPath", "defaultTag"],
        );
        if helm.is_some() && kustomize.is_some() {
            loader.error(
                path,
                at("helm"),
                "an entry has either a helm or a kustomize section, not both",
            );
        }
        let value_override_keys = match raw.get("valueOverrideKeys") {
            None => Vec::new(),
            Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|_| {
                loader.error(
                    path,
                    at("valueOverrideKeys"),
                    format!("must be a list of strings, found {}", kind_of(v)),
                );
                Vec::new()
            }),
        };
        let node_scheduling = section::<NodeScheduling>(
            loader,
            path,
            &at("nodeScheduling"),
            raw.get("nodeScheduling"),
            &["system", "accelerated", "nodeCountPaths"],
        );
        let pod_scheduling = raw
            .get("podScheduling")
            .and_then(|p| {
                section::<Value>(loader, path, &at("podScheduling"), Some(p), &["workload"])
            })
            .and_then(|p| {
                section::<PodScheduling>(
                    loader,
                    path,
                    &at("podScheduling.workload"),
                    p.get("workload"),
                    &["workloadSelectorPaths"],
                )
            });
        entries.push(RegistryEntry {
            name: name.to_owned(),
            display_name: raw
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or(name)
                .to_owned(),
            helm,
            kustomize,
            value_override_keys,
            node_scheduling: node_scheduling.unwrap_or_default(),
            pod_scheduling: pod_scheduling.unwrap_or_default(),
        });
    }
    Some(entries)
}

fn section<T: serde::de::DeserializeOwned>(
    loader: &mut Loader,
    path: &str,
    field: &str,
    raw: Option<&Value>,
    keys: &[&str],
) -> Option<T> {
    let raw = raw?;
    let Value::Object(map) = raw else {
        loader.error(
            path,
            field,
            format!("must be a mapping, found {}", kind_of(raw)),
        );
        return None;
    };
    for key in map.keys().filter(|k| !keys.contains(&k.as_str())) {
        loader.error(
            path,
            format!("{field}.{key}"),
            format!("unknown key; allowed keys are {}", keys.join(", ")),
        );
    }
    match serde_json::from_value(raw.clone()) {
        Ok(v) => Some(v),
        Err(e) => {
            loader.error(path, field, e.to_string());
            None
        }
    }
}

fn load_validator_names(loader: &mut Loader, path: &str, bytes: &[u8]) -> Option<BTreeSet<String>> {
    let doc: Value = loader.parse(path, bytes)?;
    let list = doc.get("validators")?.as_array()?;
    Some(
        list.iter()
            .filter_map(|v| v.get("name")?.as_str().map(str::to_owned))
            .collect(),
    )
}

/// Check names are free text to the recipe path; a name the validator catalog does not
/// know is worth a warning (upstream only finds out when `aicr validate` runs).
fn check_names(loader: &mut Loader, file: &str, spec: &Spec, known: &BTreeSet<String>) {
    let Some(validation) = &spec.validation else {
        return;
    };
    for (phase_name, phase) in validation.phases() {
        let Some(phase) = phase else { continue };
        for (i, check) in phase.checks.iter().enumerate() {
            if !known.contains(check) {
                loader.warn(
                    file,
                    format!("spec.validation.{phase_name}.checks[{i}]"),
                    format!("check {check:?} is not in validators/catalog.yaml"),
                );
            }
        }
    }
}

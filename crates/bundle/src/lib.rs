//! # aicr-bundle — recipe in, deployable bundle out
//!
//! A recipe says what to install; a bundle is what people run. Given a recipe document
//! (upstream's `RecipeResult`, as `/v1/recipe` answers it), the catalog it came from and
//! the bundle options, [`build`] gives the file tree upstream's `aicr bundle` writes:
//!
//! - Helm (default): per component `values.yaml` (catalog values, recipe overrides,
//!   `set` entries, scheduling options), `README.md` and rendered `manifests/`; at the
//!   top `deploy.sh`, `undeploy.sh`, `recipe.yaml`, `README.md`, `checksums.txt`.
//! - Argo CD: per component `application.yaml` and `values.yaml`; `app-of-apps.yaml`,
//!   `README.md`, `checksums.txt`.
//!
//! [`Bundle::zip`] packs it deterministically. Like the engine this crate is pure — no
//! I/O, clock or randomness — so native hosts, the edge worker, the WASI component and the
//! browser produce the same bytes for the same input.
//!
//! The recipe is client input: see [`safety`] for why nothing in it can reach a path, a
//! shell command or YAML structure, and [`options`] for the limits on options.

mod archive;
mod argocd;
pub mod document;
mod helm;
pub mod options;
pub mod safety;
mod values;

pub use document::{DocumentError, RecipeDocument};
pub use options::{BundleOptions, Deployer, OptionError};

use aicr_helm_template::Chart;
use aicr_recipe::Catalog;
use aicr_recipe::model::{ComponentRef, RegistryEntry};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt::Write;

/// This crate's version, printed in generated scripts.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Bundle-relative, `/`-separated.
    pub path: String,
    pub bytes: Vec<u8>,
    /// Scripts are executable (0755 in the zip).
    pub executable: bool,
}

impl File {
    fn text(path: String, text: String) -> File {
        File {
            path,
            bytes: text.into_bytes(),
            executable: false,
        }
    }

    fn script(path: String, text: String) -> File {
        File {
            executable: true,
            ..File::text(path, text)
        }
    }
}

/// A built bundle: its files sorted by path, and notes for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub files: Vec<File>,
    /// Non-fatal findings (a `set` entry that could not be applied, ...).
    pub warnings: Vec<String>,
}

impl Bundle {
    /// The deterministic zip of every file.
    pub fn zip(&self) -> Vec<u8> {
        archive::zip(&self.files)
    }

    /// Total size of the files, unpacked.
    pub fn total_size(&self) -> usize {
        self.files.iter().map(|f| f.bytes.len()).sum()
    }
}

/// Why a bundle cannot be built. Every variant is the client's input; `field` is a JSON
/// path into the recipe document (or the option's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for BundleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for BundleError {}

impl From<DocumentError> for BundleError {
    fn from(e: DocumentError) -> BundleError {
        BundleError {
            field: e.field,
            message: e.message,
        }
    }
}

/// A component as the deployers see it: its recipe entry, final values and rendered
/// manifests.
pub(crate) struct Component<'d> {
    pub r: &'d ComponentRef,
    pub values: Map<String, Value>,
    /// `(file name, rendered text)`, sorted by catalog path; empty renders left out.
    pub manifests: Vec<(String, String)>,
}

/// The chart a component installs: its `chart`, else its name (upstream's rule).
fn chart_name(r: &ComponentRef) -> &str {
    if r.chart.is_empty() {
        &r.name
    } else {
        &r.chart
    }
}

impl Component<'_> {
    pub fn chart_name(&self) -> &str {
        chart_name(self.r)
    }

    pub fn is_kustomize(&self) -> bool {
        self.r.kind == "Kustomize"
    }

    pub fn has_chart(&self) -> bool {
        !self.is_kustomize() && !self.r.source.is_empty()
    }

    pub fn is_oci(&self) -> bool {
        self.r.source.starts_with("oci://")
    }

    pub fn has_manifests(&self) -> bool {
        !self.manifests.is_empty()
    }

    /// `values.yaml`: a comment, then the values (nothing when they are empty).
    pub fn values_yaml(&self) -> String {
        let mut s = format!(
            "# Helm values for {} chosen by the recipe (aicr-edge {VERSION}).\n---\n",
            self.r.name
        );
        if !self.values.is_empty() {
            s.push_str(
                &serde_norway::to_string(&self.values).expect("JSON values serialise as YAML"),
            );
        }
        s
    }
}

/// Everything the deployers need.
pub(crate) struct Plan<'d> {
    pub document: &'d RecipeDocument,
    /// Enabled components in deployment order.
    pub components: Vec<Component<'d>>,
}

/// Chart version for `.Chart.Version`: no leading `v`, `0.1.0` when unset (upstream).
fn chart_version(version: &str) -> &str {
    match version.strip_prefix('v').unwrap_or(version) {
        "" => "0.1.0",
        v => v,
    }
}

/// Renders a component's catalog manifests against its values.
fn render_manifests(
    catalog: &Catalog,
    r: &ComponentRef,
    values: &Map<String, Value>,
) -> Result<Vec<(String, String)>, BundleError> {
    let mut paths: Vec<(usize, &String)> = r.manifest_files.iter().enumerate().collect();
    paths.sort_by_key(|(_, p)| *p);
    let chart = Chart {
        component: &r.name,
        namespace: &r.namespace,
        chart_name: chart_name(r),
        chart_version: chart_version(&r.version),
    };
    let mut out = Vec::new();
    for (j, path) in paths {
        let field = || format!("componentRefs[{}].manifestFiles[{j}]", r.name);
        let source = catalog.manifest(path).ok_or_else(|| BundleError {
            field: field(),
            message: format!("manifest {path:?} is not in this catalog"),
        })?;
        let text = aicr_helm_template::render(source, &chart, values).map_err(|e| BundleError {
            field: field(),
            message: format!("manifest {path:?} does not render with these values: {e}"),
        })?;
        if aicr_helm_template::has_objects(&text) {
            let file_name = path.rsplit('/').next().unwrap_or(path).to_owned();
            out.push((file_name, text));
        }
    }
    Ok(out)
}

fn is_enabled(r: &ComponentRef, set_enabled: Option<bool>) -> bool {
    set_enabled.unwrap_or(r.overrides.get("enabled") != Some(&Value::Bool(false)))
}

/// Builds the bundle of `document` on `catalog` with `options`.
pub fn build(
    catalog: &Catalog,
    document: &RecipeDocument,
    options: &BundleOptions,
) -> Result<Bundle, BundleError> {
    document.check()?;
    let registry = |name: &str| -> Option<&RegistryEntry> { catalog.registry_entry(name) };

    let enabled: BTreeSet<String> = document
        .component_refs
        .iter()
        .filter(|r| {
            let entries = values::set_entries(options, &r.name, registry(&r.name));
            is_enabled(r, values::set_enabled(entries))
        })
        .map(|r| r.name.clone())
        .collect();
    if enabled.is_empty() {
        return Err(BundleError {
            field: "componentRefs".into(),
            message: "every component is disabled (overrides.enabled or set …:enabled=false); nothing to bundle".into(),
        });
    }
    let mut document = document.clone();
    document.retain(&enabled);

    let mut warnings = Vec::new();
    let mut components = Vec::new();
    for r in document.in_deployment_order() {
        let entry = registry(&r.name);
        let mut values = values::from_catalog(catalog, r).map_err(|message| BundleError {
            field: format!("componentRefs[{}].valuesFile", r.name),
            message,
        })?;
        if let Some(entries) = values::set_entries(options, &r.name, entry) {
            let entries = entries
                .iter()
                .filter(|(path, _)| *path != "enabled")
                .map(|(p, v)| (p.clone(), v.clone()));
            warnings.extend(values::apply_text(&mut values, entries, &r.name));
        }
        if let Some(entry) = entry {
            warnings.extend(values::apply_scheduling(&mut values, entry, options));
        }
        let manifests = match options.deployer {
            Deployer::Helm => render_manifests(catalog, r, &values)?,
            Deployer::ArgoCd => Vec::new(),
        };
        components.push(Component {
            r,
            values,
            manifests,
        });
    }

    let plan = Plan {
        document: &document,
        components,
    };
    let mut files = match options.deployer {
        Deployer::Helm => helm::files(&plan),
        Deployer::ArgoCd => argocd::files(&plan, options.repo.as_deref()),
    };
    files.push(File::text("checksums.txt".into(), checksums(&files)));
    if options.deployer == Deployer::Helm {
        // Written after the checksums, as upstream does: checksums.txt does not list it.
        files.push(File::text(
            "recipe.yaml".into(),
            serde_norway::to_string(&document).expect("the document serialises as YAML"),
        ));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Bundle { files, warnings })
}

/// `sha256  path` for every file, in path order (`sha256sum -c` reads it).
fn checksums(files: &[File]) -> String {
    let mut sorted: Vec<&File> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut out = String::new();
    for f in sorted {
        let digest = hex::encode(Sha256::digest(&f.bytes));
        writeln!(out, "{digest}  {}", f.path).unwrap();
    }
    out
}

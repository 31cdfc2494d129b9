//! One tiny catalog per class of catalog defect (under `tests/fixtures/<class>/`), each
//! with exactly that defect. The loader must refuse every one, and the diagnostic must say
//! where (file and field) and what is wrong, because this is the message a catalog author
//! gets when the build stops. `good/` is the same kind of catalog without a defect, so a
//! fixture that fails for an unrelated reason shows up as an unexpected diagnostic.

use aicr_catalog::{Diagnostic, load_dir};
use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(class: &str) -> PathBuf {
    crate_dir().join("tests/fixtures").join(class)
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("  {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Loads a broken fixture and returns its diagnostics; panics if it loads.
fn defects(class: &str) -> Vec<Diagnostic> {
    match load_dir(&fixture(class), class) {
        Ok(_) => panic!("fixture {class} loaded, but it has a defect"),
        Err(diagnostics) => diagnostics,
    }
}

/// Asserts that `class` fails with exactly `count` diagnostics, one of which is about
/// `file` and `field` and whose reason contains every fragment of `reason`.
fn assert_defect(class: &str, count: usize, file: &str, field: &str, reason: &[&str]) {
    let found = defects(class);
    let all = render(&found);
    assert_eq!(
        found.len(),
        count,
        "{class}: unexpected diagnostics:\n{all}"
    );
    let d = found
        .iter()
        .find(|d| d.file == file && d.field == field)
        .unwrap_or_else(|| panic!("{class}: nothing about {file}: {field}:\n{all}"));
    for fragment in reason {
        assert!(
            d.reason.contains(fragment),
            "{class}: the reason should mention {fragment:?}: {d}"
        );
    }
}

#[test]
fn good_fixture_loads_cleanly() {
    let loaded = load_dir(&fixture("good"), "good")
        .unwrap_or_else(|e| panic!("good fixture refused:\n{}", render(&e)));
    assert!(loaded.warnings.is_empty(), "{}", render(&loaded.warnings));
    assert_eq!(loaded.catalog.overlays().len(), 3);
    let recipe = loaded
        .catalog
        .resolve(&aicr_recipe::Criteria {
            service: aicr_recipe::Service::Eks,
            intent: aicr_recipe::Intent::Training,
            ..Default::default()
        })
        .expect("eks training resolves");
    assert_eq!(
        recipe.applied_overlays,
        ["base", "monitoring", "eks", "eks-training"]
    );
}

#[test]
fn malformed_yaml_reports_line_and_column() {
    assert_defect(
        "malformed-yaml",
        1,
        "overlays/eks.yaml",
        "",
        &[
            "did not find expected ',' or '}'",
            "at line 7 column 14",
            "flow mapping at line 6",
        ],
    );
}

#[test]
fn unknown_kind_in_overlays() {
    assert_defect(
        "unknown-kind",
        1,
        "overlays/eks.yaml",
        "kind",
        &["\"RecipeOverlay\"", "RecipeMetadata"],
    );
}

#[test]
fn missing_base() {
    assert_defect(
        "missing-base",
        1,
        "overlays/base.yaml",
        "",
        &["missing", "\"base\""],
    );
}

#[test]
fn second_overlay_named_base() {
    assert_defect(
        "duplicate-base",
        1,
        "overlays/base-eks.yaml",
        "metadata.name",
        &["\"base\"", "overlays/base.yaml"],
    );
}

#[test]
fn dangling_spec_base() {
    assert_defect(
        "dangling-base",
        1,
        "overlays/eks-training.yaml",
        "spec.base",
        &["\"ekss\"", "does not have"],
    );
}

#[test]
fn inheritance_cycle() {
    // Each overlay on the cycle is reported, with the cycle read from that overlay.
    assert_defect(
        "inheritance-cycle",
        2,
        "overlays/eks-training.yaml",
        "spec.base",
        &["inheritance cycle: eks-training -> eks-inference -> eks-training"],
    );
    assert_defect(
        "inheritance-cycle",
        2,
        "overlays/eks-inference.yaml",
        "spec.base",
        &["inheritance cycle: eks-inference -> eks-training -> eks-inference"],
    );
}

#[test]
fn duplicate_overlay_name_names_both_files() {
    assert_defect(
        "duplicate-overlay-name",
        1,
        "overlays/eks-copy.yaml and overlays/eks.yaml",
        "metadata.name",
        &["two overlays are named \"eks\"", "unique"],
    );
}

#[test]
fn criteria_value_outside_the_enum() {
    assert_defect(
        "criteria-unknown-value",
        1,
        "overlays/openshift.yaml",
        "spec.criteria.service",
        &["\"openshift\"", "aks, eks, gke, kind, oke"],
    );
}

#[test]
fn criteria_value_not_lowercase() {
    assert_defect(
        "criteria-not-lowercase",
        1,
        "overlays/eks.yaml",
        "spec.criteria.service",
        &["\"EKS\"", "write it as \"eks\"", "verbatim"],
    );
}

#[test]
fn unknown_component_in_dependency_refs() {
    assert_defect(
        "unknown-dependency",
        1,
        "overlays/eks.yaml",
        "spec.componentRefs[0].dependencyRefs",
        &[
            "\"gpu-operator\"",
            "\"cert-manger\"",
            "no overlay or base defines",
        ],
    );
}

#[test]
fn dependency_cycle_only_when_overlays_combine() {
    // Each overlay is fine alone; the cycle exists only in recipes that select both, so
    // it is found by resolving every reachable recipe, and the reason names the overlays.
    let found = defects("combined-dependency-cycle");
    let all = render(&found);
    assert_eq!(found.len(), 1, "{all}");
    let d = &found[0];
    assert_eq!(d.file, "(catalog)", "{all}");
    assert!(d.field.starts_with("recipe for "), "{all}");
    assert!(d.field.contains("service=eks"), "{all}");
    for fragment in [
        "dependency cycle: gpu-operator -> prometheus-adapter -> gpu-operator",
        "overlays base, monitoring, eks",
    ] {
        assert!(d.reason.contains(fragment), "missing {fragment:?}: {d}");
    }
}

#[test]
fn missing_values_file() {
    assert_defect(
        "missing-values-file",
        1,
        "overlays/eks.yaml",
        "spec.componentRefs[0].valuesFile",
        &[
            "\"components/aws-ebs-csi-driver/values.yaml\"",
            "does not exist",
        ],
    );
}

#[test]
fn missing_manifest_file() {
    assert_defect(
        "missing-manifest-file",
        1,
        "overlays/eks.yaml",
        "spec.componentRefs[0].manifestFiles[0]",
        &[
            "\"components/gpu-operator/manifests/dcgm-exporter.yaml\"",
            "does not exist",
        ],
    );
}

#[test]
fn registry_entry_with_helm_and_kustomize() {
    assert_defect(
        "registry-helm-and-kustomize",
        1,
        "registry.yaml",
        "components[nvsentinel].helm",
        &["helm", "kustomize", "not both"],
    );
}

#[test]
fn unknown_registry_key() {
    assert_defect(
        "registry-unknown-key",
        1,
        "registry.yaml",
        "components[gpu-operator].namespace",
        &["unknown key", "helm"],
    );
}

#[test]
fn upstream_catalog_has_exactly_one_warning() {
    let dir = crate_dir().join("../../../shared/aicr-upstream/recipes");
    if !dir.exists() {
        // Outside CI a checkout on its own may lack ../shared; CI always has it.
        let on_ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
        assert!(
            !on_ci,
            "upstream catalog {} is absent (CI=true)",
            dir.display()
        );
        println!("SKIPPED: upstream catalog {} is absent", dir.display());
        return;
    }
    let loaded = load_dir(&dir, "upstream")
        .unwrap_or_else(|e| panic!("upstream catalog refused:\n{}", render(&e)));
    let all = render(&loaded.warnings);
    assert_eq!(loaded.warnings.len(), 1, "{all}");
    let w = &loaded.warnings[0];
    assert_eq!(
        (w.file.as_str(), w.field.as_str()),
        ("registry.yaml", "components[gke-nccl-tcpxo].manifest"),
        "{all}"
    );
}

/// The same defects stop the real build: `aicr-embedded-catalog`'s build script loads
/// `AICR_CATALOG_DIR` and must fail with the diagnostic in cargo's output. It builds in
/// its own target directory (under `target/tmp/`) so the workspace's normal build is not
/// invalidated; about 35 s the first time (it compiles the build script's dependencies),
/// well under a second after that.
#[test]
fn broken_catalog_fails_the_embedded_build() {
    let workspace = crate_dir().join("../..");
    let output = std::process::Command::new(env!("CARGO"))
        .current_dir(&workspace)
        .args(["build", "--quiet", "-p", "aicr-embedded-catalog"])
        .env("AICR_CATALOG_DIR", fixture("dangling-base"))
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("broken-catalog-test"),
        )
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the build succeeded:\n{stderr}");
    assert!(
        stderr.contains(
            "overlays/eks-training.yaml: spec.base: names overlay \"ekss\", which the catalog does not have"
        ),
        "{stderr}"
    );
}

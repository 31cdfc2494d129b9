//! Upstream's `--data` layering rules (v0.11.1 `pkg/recipe/provider.go`, its tests and
//! `pkg/cli/root.go`), one test each, on a small in-test catalog and on the real embedded
//! one; then the places where we refuse what upstream would silently accept.

mod common;

use aicr_recipe::{Criteria, Intent, Service};
use aicr_tenant_catalogs::{
    Base, Defect, MAX_FILE_BYTES, Origin, Packed, Rejected, pack_dir, pack_files, unpack,
};
use common::{EMPTY_REGISTRY, small_base, upload};
use serde_json::json;

fn pack(base: &Base, files: &[(&str, &str)]) -> Packed {
    pack_files(base, "test", upload(files)).unwrap_or_else(|r| panic!("{r}"))
}

fn refused(base: &Base, files: &[(&str, &str)]) -> Vec<Defect> {
    match pack_files(base, "test", upload(files)) {
        Ok(p) => panic!("packed, files {:?}", p.files),
        Err(Rejected(defects)) => defects,
    }
}

/// Asserts one defect names `file`, `field` and a reason containing `fragment`.
fn assert_has(defects: &[Defect], file: &str, field: &str, fragment: &str) {
    assert!(
        defects
            .iter()
            .any(|d| d.file == file && d.field == field && d.reason.contains(fragment)),
        "no defect {file}: {field}: …{fragment}… among\n{}",
        defects
            .iter()
            .map(|d| format!("  {d}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn eks_training() -> Criteria {
    Criteria {
        service: Service::Eks,
        intent: Intent::Training,
        ..Criteria::default()
    }
}

#[test]
fn the_embedded_base_is_the_embedded_catalog() {
    // build.rs compiles in the source files; they must be exactly the files the embedded
    // catalog was built from, or tenants would layer over a different catalog.
    let base = Base::embedded();
    let loaded = aicr_catalog::load_files(base.files().clone(), "check").unwrap();
    assert_eq!(
        loaded.catalog.info().digest,
        aicr_embedded_catalog::catalog().info().digest
    );
    assert_eq!(
        base.catalog().info(),
        aicr_embedded_catalog::catalog().info()
    );
}

#[test]
fn registry_yaml_is_required() {
    // Upstream: NewLayeredDataProvider fails when the external directory has no registry.yaml.
    let defects = refused(
        &small_base(),
        &[(
            "components/cert-manager/values.yaml",
            "crds: {enabled: false}\n",
        )],
    );
    assert_eq!(defects.len(), 1, "{defects:?}");
    assert_has(&defects, "registry.yaml", "", "must contain registry.yaml");
}

#[test]
fn a_missing_registry_does_not_hide_the_other_defects() {
    let defects = refused(
        &small_base(),
        &[(
            "overlays/mine.yaml",
            "kind: RecipeMetadata\nmetadata: {name: mine}\nspec:\n  criteria: {service: EKS}\n",
        )],
    );
    assert_eq!(defects.len(), 2, "{defects:?}");
    assert_has(&defects, "registry.yaml", "", "must contain registry.yaml");
    assert_has(
        &defects,
        "overlays/mine.yaml",
        "spec.criteria.service",
        "not canonical",
    );
}

#[test]
fn an_empty_registry_changes_nothing() {
    let base = small_base();
    let packed = pack(&base, &[("registry.yaml", EMPTY_REGISTRY)]);
    assert_eq!(packed.catalog.registry(), base.catalog().registry());
    assert_eq!(packed.catalog.overlays(), base.catalog().overlays());
    assert_eq!(packed.catalog.parts().values, base.catalog().parts().values);
    // A different catalog all the same: its name and digest are its own.
    assert_eq!(packed.catalog.info().name, "small+test");
    assert_ne!(packed.catalog.info().digest, base.catalog().info().digest);
}

#[test]
fn a_file_replaces_the_base_file_of_the_same_path_whole() {
    // Upstream: TestLayeredDataProvider_OverrideComponentValues. The whole file is the
    // upload's: the base file's `crds` key is gone, not merged.
    let packed = pack(
        &small_base(),
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "components/cert-manager/values.yaml",
                "installCRDs: false\ncustomField: customValue\n",
            ),
        ],
    );
    let values = packed
        .catalog
        .values_file("components/cert-manager/values.yaml")
        .unwrap();
    assert_eq!(
        values,
        &json!({"installCRDs": false, "customField": "customValue"})
    );
    // Every overlay that names the file now gets the upload's values.
    let recipe = packed.catalog.resolve(&eks_training()).unwrap();
    let cert_manager = recipe.component("cert-manager").unwrap();
    let merged = recipe.values_of(cert_manager).unwrap();
    assert_eq!(merged.get("customField"), Some(&json!("customValue")));
    assert_eq!(merged.get("crds"), None);
}

#[test]
fn a_new_file_is_added_and_may_use_base_files() {
    // Upstream: TestLayeredDataProvider_AddsNewFile. The new overlay inherits from a base
    // overlay and names a base values file.
    let packed = pack(
        &small_base(),
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "overlays/acme-eks-training.yaml",
                "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: acme-eks-training}
spec:
  base: eks-training
  criteria: {service: eks, intent: training, platform: kubeflow}
  componentRefs:
    - name: gpu-operator
      version: v99.0.0
      valuesFile: components/gpu-operator/values.yaml
",
            ),
        ],
    );
    let criteria = Criteria {
        platform: aicr_recipe::Platform::Kubeflow,
        ..eks_training()
    };
    let recipe = packed.catalog.resolve(&criteria).unwrap();
    assert_eq!(
        recipe.applied_overlays,
        ["base", "eks", "eks-training", "acme-eks-training"]
    );
    assert_eq!(recipe.component("gpu-operator").unwrap().version, "v99.0.0");
    // Criteria it does not match resolve as before.
    let before = small_base();
    assert_eq!(
        packed
            .catalog
            .resolve(&eks_training())
            .unwrap()
            .applied_overlays,
        before
            .catalog()
            .resolve(&eks_training())
            .unwrap()
            .applied_overlays
    );
}

#[test]
fn base_files_the_upload_does_not_name_stay() {
    // Upstream: TestLayeredDataProvider_FallsBackToEmbedded; layering never deletes.
    let base = small_base();
    let packed = pack(
        &base,
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "components/gpu-operator/values.yaml",
                "driver: {enabled: false}\n",
            ),
        ],
    );
    assert_eq!(
        packed.catalog.overlays().len(),
        base.catalog().overlays().len()
    );
    assert_eq!(
        packed
            .catalog
            .values_file("components/cert-manager/values.yaml"),
        base.catalog()
            .values_file("components/cert-manager/values.yaml")
    );
}

#[test]
fn a_replaced_overlay_keeps_the_overlays_that_inherit_from_it() {
    let packed = pack(
        &small_base(),
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "overlays/eks.yaml",
                "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: eks}
spec:
  criteria: {service: eks}
  constraints:
    - {name: K8s.server.version, value: \">= 1.31\"}
",
            ),
        ],
    );
    let recipe = packed.catalog.resolve(&eks_training()).unwrap();
    assert_eq!(recipe.applied_overlays, ["base", "eks", "eks-training"]);
    assert_eq!(recipe.constraints[0].constraint.value, ">= 1.31");
}

#[test]
fn the_base_recipe_can_be_replaced() {
    // Upstream: TestLayeredDataProvider_OverridesFile (overlays/base.yaml from the upload).
    let packed = pack(
        &small_base(),
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "overlays/base.yaml",
                "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: base}
spec:
  componentRefs:
    - name: cert-manager
      type: Helm
      version: v1.18.0
    - name: gpu-operator
      type: Helm
      version: v25.10.1
",
            ),
        ],
    );
    let recipe = packed.catalog.resolve(&Criteria::default()).unwrap();
    assert_eq!(recipe.component("cert-manager").unwrap().version, "v1.18.0");
    assert_eq!(recipe.component("cert-manager").unwrap().values_file, "");
}

#[test]
fn a_registry_entry_is_replaced_whole_by_name() {
    // Upstream: mergeRegistries. The uploaded gpu-operator entry has no defaultNamespace:
    // the merged entry has none either (no field-level merge); cert-manager is untouched.
    let base = small_base();
    let packed = pack(
        &base,
        &[(
            "registry.yaml",
            "apiVersion: aicr.nvidia.com/v1alpha1
kind: ComponentRegistry
components:
  - name: gpu-operator
    displayName: GPU Operator (acme mirror)
    helm:
      defaultRepository: https://charts.acme.example/nvidia
      defaultChart: acme/gpu-operator
",
        )],
    );
    let entry = packed.catalog.registry_entry("gpu-operator").unwrap();
    assert_eq!(entry.display_name, "GPU Operator (acme mirror)");
    let helm = entry.helm.as_ref().unwrap();
    assert_eq!(
        helm.default_repository,
        "https://charts.acme.example/nvidia"
    );
    assert_eq!(helm.default_namespace, "");
    assert_eq!(
        packed.catalog.registry_entry("cert-manager"),
        base.catalog().registry_entry("cert-manager")
    );
    let recipe = packed.catalog.resolve(&Criteria::default()).unwrap();
    let gpu = recipe.component("gpu-operator").unwrap();
    assert_eq!(gpu.source, "https://charts.acme.example/nvidia");
    assert_eq!(gpu.chart, "gpu-operator");
}

#[test]
fn new_registry_entries_are_added() {
    // Upstream: TestLayeredDataProvider_MergesRegistry / IntegrationWithRegistry, here
    // with an overlay that uses the new component.
    let packed = pack(
        &small_base(),
        &[
            (
                "registry.yaml",
                "apiVersion: aicr.nvidia.com/v1alpha1
kind: ComponentRegistry
components:
  - name: custom-operator
    displayName: Custom Operator
    helm:
      defaultRepository: https://custom.example.com/charts
      defaultChart: custom/custom-operator
      defaultVersion: v1.0.0
      defaultNamespace: custom
",
            ),
            (
                "overlays/eks-custom.yaml",
                "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: eks-custom}
spec:
  base: eks
  criteria: {service: eks, intent: inference}
  componentRefs:
    - name: custom-operator
      type: Helm
      dependencyRefs: [gpu-operator]
",
            ),
        ],
    );
    let names: Vec<&str> = packed
        .catalog
        .registry()
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["cert-manager", "custom-operator", "gpu-operator"]);
    let criteria = Criteria {
        service: Service::Eks,
        intent: Intent::Inference,
        ..Criteria::default()
    };
    let recipe = packed.catalog.resolve(&criteria).unwrap();
    let custom = recipe.component("custom-operator").unwrap();
    assert_eq!((custom.version, custom.namespace), ("v1.0.0", "custom"));
    assert_eq!(
        recipe.deployment_order_names().collect::<Vec<_>>(),
        ["cert-manager", "gpu-operator", "custom-operator"]
    );
}

#[test]
fn a_path_containing_dot_dot_is_refused_even_inside_a_name() {
    // Upstream refuses any relative path containing "..", not only a ".." segment.
    let defects = refused(
        &small_base(),
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            ("overlays/a..b.yaml", "kind: RecipeMetadata\n"),
            ("../escape.yaml", "x: 1\n"),
        ],
    );
    assert_eq!(defects.len(), 2, "{defects:?}");
    assert_has(&defects, "overlays/a..b.yaml", "", "contains \"..\"");
    assert_has(&defects, "../escape.yaml", "", "path traversal");
}

#[test]
fn a_file_over_ten_mib_is_refused() {
    let big = "x".repeat(MAX_FILE_BYTES + 1);
    let defects = refused(
        &small_base(),
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            ("components/gpu-operator/values.yaml", &big),
        ],
    );
    assert_eq!(defects.len(), 1, "{defects:?}");
    assert_has(
        &defects,
        "components/gpu-operator/values.yaml",
        "",
        "file too large: 10485761 bytes",
    );
}

#[cfg(unix)]
#[test]
fn pack_dir_refuses_symlinks_and_reads_the_rest() {
    // Upstream: TestLayeredDataProvider_SecurityChecks "rejects symlinks".
    let dir = temp_dir("symlink");
    std::fs::write(dir.join("registry.yaml"), EMPTY_REGISTRY).unwrap();
    std::os::unix::fs::symlink(dir.join("registry.yaml"), dir.join("link.yaml")).unwrap();
    let Err(Rejected(defects)) = pack_dir(&small_base(), "test", &dir) else {
        panic!("a catalog with a symlink packed");
    };
    assert_eq!(defects.len(), 1, "{defects:?}");
    assert_has(&defects, "link.yaml", "", "symlinks are not allowed");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn pack_dir_refuses_a_missing_directory_and_a_file() {
    // Upstream: "rejects missing directory", TestLayeredDataProvider_NotDirectory.
    let dir = temp_dir("missing");
    let missing = dir.join("nope");
    let Err(Rejected(defects)) = pack_dir(&small_base(), "test", &missing) else {
        panic!("packed a missing directory");
    };
    assert!(defects[0].reason.contains("cannot open"), "{defects:?}");
    std::fs::write(dir.join("file"), "x").unwrap();
    let Err(Rejected(defects)) = pack_dir(&small_base(), "test", &dir.join("file")) else {
        panic!("packed a file");
    };
    assert!(defects[0].reason.contains("not a directory"), "{defects:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_registry_yaml_is_reported_by_the_loader() {
    // Upstream: TestLayeredDataProvider_InvalidExternalRegistry (it fails on first read).
    let defects = refused(
        &small_base(),
        &[(
            "registry.yaml",
            "components:\n  - name: [invalid yaml structure\n",
        )],
    );
    assert_has(&defects, "registry.yaml", "", "not a valid document");
}

// --- where we refuse what upstream accepts silently -----------------------------------

#[test]
fn an_overlay_name_another_file_uses_is_refused() {
    // Upstream keys overlays by metadata.name and walks the embedded tree after the
    // external one, so an uploaded overlay named like an embedded one in another file is
    // silently dropped. We name both files instead.
    let defects = refused(
        &small_base(),
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "overlays/my-eks.yaml",
                "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: eks}
spec:
  criteria: {service: eks}
",
            ),
        ],
    );
    assert_has(
        &defects,
        "overlays/eks.yaml and overlays/my-eks.yaml",
        "metadata.name",
        "two overlays are named \"eks\"",
    );
    assert!(defects.iter().all(|d| d.origin == Origin::Upload));
}

#[test]
fn an_uploaded_base_must_be_named_base() {
    // Upstream takes overlays/base.yaml as the base whatever it is named.
    let defects = refused(
        &small_base(),
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "overlays/base.yaml",
                "kind: RecipeMetadata\nmetadata: {name: custom-base}\nspec: {}\n",
            ),
        ],
    );
    assert_has(
        &defects,
        "overlays/base.yaml",
        "metadata.name",
        "must be named \"base\"",
    );
}

#[test]
fn a_registry_of_another_api_version_is_refused() {
    // Upstream logs a warning and merges anyway.
    let defects = refused(
        &small_base(),
        &[(
            "registry.yaml",
            "apiVersion: aicr.nvidia.com/v2\nkind: ComponentRegistry\ncomponents: []\n",
        )],
    );
    assert_has(&defects, "registry.yaml", "apiVersion", "is not supported");
}

#[test]
fn a_component_listed_twice_in_the_upload_is_refused() {
    // Upstream keeps the last of the two.
    let entry = "  - name: gpu-operator\n    helm: {defaultChart: nvidia/gpu-operator}\n";
    let registry = format!(
        "apiVersion: aicr.nvidia.com/v1alpha1\nkind: ComponentRegistry\ncomponents:\n{entry}{entry}"
    );
    let defects = refused(&small_base(), &[("registry.yaml", &registry)]);
    assert_has(
        &defects,
        "registry.yaml",
        "registry.components[gpu-operator]",
        "lists this component twice",
    );
}

#[test]
fn an_unknown_registry_key_is_refused() {
    // Upstream's YAML decoder drops unknown keys.
    let defects = refused(
        &small_base(),
        &[(
            "registry.yaml",
            "apiVersion: aicr.nvidia.com/v1alpha1\nkind: ComponentRegistry\ncomponents:\n  - name: extra\n    helm: {defaultChart: x/extra}\n    colour: blue\n",
        )],
    );
    assert_has(
        &defects,
        "registry.yaml",
        "components[extra].colour",
        "unknown key",
    );
}

// --- defects: several at once, named precisely, with their layer ----------------------

#[test]
fn several_defects_are_reported_at_once_with_file_field_and_reason() {
    let defects = refused(
        &small_base(),
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "overlays/a.yaml",
                "kind: RecipeMetadata\nmetadata: {name: a}\nspec:\n  criteria: {service: EKS}\n",
            ),
            (
                "overlays/b.yaml",
                "kind: RecipeMetadata\nmetadata: {name: b}\nspec:\n  criteria: {accelerator: tpu}\n",
            ),
            ("components/x/values.yaml", "- a list\n"),
        ],
    );
    assert_eq!(defects.len(), 3, "{defects:#?}");
    assert_has(
        &defects,
        "overlays/a.yaml",
        "spec.criteria.service",
        "write it as \"eks\"",
    );
    assert_has(
        &defects,
        "overlays/b.yaml",
        "spec.criteria.accelerator",
        "not a canonical accelerator value",
    );
    assert_has(
        &defects,
        "components/x/values.yaml",
        "",
        "must be a mapping",
    );
}

#[test]
fn defects_in_uploaded_files_name_the_file_and_field() {
    // An uploaded overlay naming a values file nobody has, one inheriting from an
    // overlay nobody has, and one depending on a component the uploaded base recipe
    // dropped: each defect names the uploaded file and the field.
    let defects = refused(
        &small_base(),
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "overlays/eks-training.yaml",
                "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: eks-training}
spec:
  base: eks
  criteria: {service: eks, intent: training}
  componentRefs:
    - name: gpu-operator
      valuesFile: components/gpu-operator/values-missing.yaml
",
            ),
        ],
    );
    assert_has(
        &defects,
        "overlays/eks-training.yaml",
        "spec.componentRefs[0].valuesFile",
        "does not exist in the catalog",
    );
    assert!(
        defects.iter().all(|d| d.origin == Origin::Upload),
        "{defects:?}"
    );

    let base = small_base();
    let defects = refused(
        &base,
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "overlays/eks.yaml",
                "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: eks}
spec:
  base: nowhere
  criteria: {service: eks}
",
            ),
        ],
    );
    assert_has(
        &defects,
        "overlays/eks.yaml",
        "spec.base",
        "which the catalog does not have",
    );
    let from_base = refused(
        &base,
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "overlays/base.yaml",
                "kind: RecipeMetadata
metadata: {name: base}
spec:
  componentRefs:
    - name: gpu-operator
      type: Helm
      version: v1
",
            ),
            (
                "overlays/eks-training.yaml",
                "kind: RecipeMetadata
metadata: {name: eks-training}
spec:
  base: eks
  criteria: {service: eks, intent: training}
  componentRefs:
    - name: gpu-operator
      dependencyRefs: [cert-manager]
",
            ),
        ],
    );
    assert_has(
        &from_base,
        "overlays/eks-training.yaml",
        "spec.componentRefs[0].dependencyRefs",
        "which no overlay or base defines",
    );
}

#[test]
fn a_defect_in_an_unuploaded_base_file_says_so() {
    // The upload replaces the base recipe, dropping cert-manager; the base's own
    // eks-training.yaml (not uploaded) now depends on nothing.
    let base = Base::from_files("small", {
        let mut files = common::small_catalog();
        files.insert(
            "overlays/eks-training.yaml".into(),
            std::borrow::Cow::Owned(
                b"kind: RecipeMetadata
metadata: {name: eks-training}
spec:
  base: eks
  criteria: {service: eks, intent: training}
  componentRefs:
    - name: gpu-operator
      dependencyRefs: [cert-manager]
"
                .to_vec(),
            ),
        );
        files
    })
    .unwrap();
    let defects = refused(
        &base,
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            (
                "overlays/base.yaml",
                "kind: RecipeMetadata\nmetadata: {name: base}\nspec:\n  componentRefs:\n    - {name: gpu-operator, type: Helm, version: v1}\n",
            ),
        ],
    );
    let d = defects
        .iter()
        .find(|d| d.file == "overlays/eks-training.yaml")
        .unwrap_or_else(|| panic!("{defects:?}"));
    assert_eq!(d.origin, Origin::Base);
    assert!(d.to_string().contains("not uploaded"), "{d}");
}

#[test]
fn files_the_loader_never_reads_are_left_out_with_a_warning() {
    let packed = pack(
        &small_base(),
        &[
            ("registry.yaml", EMPTY_REGISTRY),
            ("README.md", "# ours\n"),
            ("checks/gpu-operator/assert.yaml", "x: 1\n"),
        ],
    );
    assert_eq!(packed.files, ["registry.yaml"]);
    assert_eq!(packed.warnings.len(), 2, "{:?}", packed.warnings);
    assert!(
        packed
            .warnings
            .iter()
            .all(|w| w.reason.contains("left out"))
    );
}

#[test]
fn packing_is_deterministic_and_unpack_gives_the_same_artifact() {
    let base = small_base();
    let files = [
        ("registry.yaml", EMPTY_REGISTRY),
        (
            "components/gpu-operator/values.yaml",
            "driver: {enabled: false}\n",
        ),
    ];
    let a = pack(&base, &files);
    let b = pack(&base, &files);
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.bytes, b.bytes);
    assert_eq!(a.digest.file_name(), format!("{}.aicr-catalog", a.digest));
    let again = unpack(&base, "test", &a.bytes).unwrap();
    assert_eq!(again.digest, a.digest);
    // A non-canonical encoding of the same files is accepted and named by the canonical.
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(&a.bytes).unwrap())
            .unwrap();
    assert_ne!(pretty, a.bytes);
    assert_eq!(unpack(&base, "test", &pretty).unwrap().digest, a.digest);
}

#[test]
fn unpack_refuses_what_is_not_an_artifact() {
    let base = small_base();
    let Err(Rejected(d)) = unpack(&base, "t", b"registry.yaml: x") else {
        panic!("unpacked YAML");
    };
    assert_eq!(
        (d[0].file.as_str(), d[0].field.as_str()),
        ("(artifact)", "")
    );
    assert!(
        d[0].reason.contains("not an aicr-catalog/v1 artifact"),
        "{d:?}"
    );
    let Err(Rejected(d)) = unpack(&base, "t", br#"{"format":"tar","files":{}}"#) else {
        panic!("unpacked another format");
    };
    assert_eq!(
        (d[0].file.as_str(), d[0].field.as_str()),
        ("(artifact)", "format")
    );
}

// --- over the real embedded catalog ---------------------------------------------------

#[test]
fn over_the_embedded_catalog_a_tenant_pins_its_own_gpu_operator() {
    let base = Base::embedded();
    let criteria = Criteria {
        service: Service::Eks,
        accelerator: aicr_recipe::Accelerator::H100,
        os: aicr_recipe::Os::Ubuntu,
        intent: Intent::Training,
        ..Criteria::default()
    };
    let embedded = base.catalog().resolve(&criteria).unwrap();
    let packed = pack(
        &base,
        &[
            (
                "registry.yaml",
                "apiVersion: aicr.nvidia.com/v1alpha1
kind: ComponentRegistry
components:
  - name: gpu-operator
    displayName: gpu-operator
    valueOverrideKeys: [gpuoperator]
    helm:
      defaultRepository: https://charts.acme.example/nvidia
      defaultChart: nvidia/gpu-operator
      defaultNamespace: gpu-operator
",
            ),
            (
                "overlays/acme-h100-eks-ubuntu-training.yaml",
                "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: acme-h100-eks-ubuntu-training}
spec:
  base: h100-eks-ubuntu-training
  criteria: {service: eks, accelerator: h100, os: ubuntu, intent: training}
  componentRefs:
    - name: gpu-operator
      version: v25.3.4
      overrides:
        driver: {version: 570.158.01}
",
            ),
            (
                "components/cert-manager/values.yaml",
                "crds:\n  enabled: true\nreplicaCount: 2\n",
            ),
        ],
    );
    let ours = packed.catalog.resolve(&criteria).unwrap();
    let mut expected = embedded.applied_overlays.clone();
    expected.push("acme-h100-eks-ubuntu-training");
    assert_eq!(ours.applied_overlays, expected);
    let gpu = ours.component("gpu-operator").unwrap();
    assert_eq!(gpu.version, "v25.3.4");
    // The registry only fills what overlays leave empty; ours name the source, so the
    // replaced entry shows in the registry, not in this recipe.
    assert_eq!(
        gpu.source,
        embedded.component("gpu-operator").unwrap().source
    );
    let entry = packed.catalog.registry_entry("gpu-operator").unwrap();
    assert_eq!(
        entry.helm.as_ref().unwrap().default_repository,
        "https://charts.acme.example/nvidia"
    );
    let values = ours.values_of(gpu).unwrap();
    assert_eq!(values["driver"]["version"], json!("570.158.01"));
    let cert = ours.component("cert-manager").unwrap();
    assert_eq!(ours.values_of(cert).unwrap()["replicaCount"], json!(2));
    // Everything else is the embedded catalog's.
    assert_eq!(ours.components.len(), embedded.components.len());
    assert_eq!(
        packed.catalog.registry_entry("network-operator"),
        base.catalog().registry_entry("network-operator")
    );
    assert_eq!(
        packed.catalog.overlays().len(),
        base.catalog().overlays().len() + 1
    );
    // The manifests are the embedded catalog's static text, not copies.
    let path = "components/gpu-operator/manifests/dcgm-exporter.yaml";
    let ours = packed.catalog.parts().manifests.get(path);
    assert!(
        matches!(ours, Some(std::borrow::Cow::Borrowed(_))),
        "{path} was copied"
    );
}

#[test]
fn over_the_embedded_catalog_an_empty_registry_resolves_every_recipe_as_embedded() {
    let base = Base::embedded();
    let packed = pack(&base, &[("registry.yaml", EMPTY_REGISTRY)]);
    for criteria in base.catalog().reachable_criteria().iter().step_by(97) {
        let a = base
            .catalog()
            .resolve(criteria)
            .unwrap()
            .hydrated(true)
            .unwrap();
        let b = packed
            .catalog
            .resolve(criteria)
            .unwrap()
            .hydrated(true)
            .unwrap();
        assert_eq!(a, b, "{criteria}");
    }
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "aicr-tenant-catalogs-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

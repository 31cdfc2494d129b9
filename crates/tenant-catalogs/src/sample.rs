//! A small tenant catalog the hosts' tests publish (and the README's example mirrors): it
//! pins its own gpu-operator for h100 on EKS, Ubuntu, training, over the built-in catalog.
//! Public for the same reason as [`crate::fault`]: the server's and the worker's tests
//! exercise one catalog rather than copies of it.

use crate::{Base, Packed, pack_files};
use std::collections::BTreeMap;

/// A `registry.yaml` that changes nothing (upstream requires one in every layer).
pub const EMPTY_REGISTRY: &str =
    "apiVersion: aicr.nvidia.com/v1alpha1\nkind: ComponentRegistry\ncomponents: []\n";

/// Tenant `acme`'s catalog pinning gpu-operator at `version` for
/// `service=eks, accelerator=h100, os=ubuntu, intent=training`, packed over the embedded
/// catalog. Panics if it does not pack (it always does over our catalog).
pub fn pinned_gpu_operator(version: &str) -> Packed {
    let overlay = format!(
        "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {{name: acme-h100-eks-ubuntu-training}}
spec:
  base: h100-eks-ubuntu-training
  criteria: {{service: eks, accelerator: h100, os: ubuntu, intent: training}}
  componentRefs:
    - name: gpu-operator
      version: {version}
"
    );
    let files = BTreeMap::from([
        (
            "registry.yaml".to_owned(),
            EMPTY_REGISTRY.as_bytes().to_vec(),
        ),
        (
            "overlays/acme-h100-eks-ubuntu-training.yaml".to_owned(),
            overlay.into_bytes(),
        ),
    ]);
    pack_files(&Base::embedded(), "acme", files).unwrap_or_else(|r| panic!("{r}"))
}

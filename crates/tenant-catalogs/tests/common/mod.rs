//! Shared by the integration tests: a tiny catalog to layer over, upload builders, a host
//! on tokio's clock and an observer that records events with their times.
#![allow(dead_code)] // each test binary uses its own part of this module

use aicr_catalog::Files;
use aicr_tenant_catalogs::{Base, BoxFuture, Event, Host, Observer};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A small valid catalog in upstream's layout: two base components, an `eks` overlay and
/// an `eks-training` overlay that inherits from it, and a registry for both components.
pub fn small_catalog() -> Files {
    let files: &[(&str, &str)] = &[
        (
            "overlays/base.yaml",
            "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: base}
spec:
  componentRefs:
    - name: cert-manager
      type: Helm
      version: v1.17.2
      valuesFile: components/cert-manager/values.yaml
    - name: gpu-operator
      type: Helm
      version: v25.10.1
      valuesFile: components/gpu-operator/values.yaml
      dependencyRefs: [cert-manager]
",
        ),
        (
            "overlays/eks.yaml",
            "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: eks}
spec:
  criteria: {service: eks}
  constraints:
    - {name: K8s.server.version, value: \">= 1.28\"}
",
        ),
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
      overrides:
        cdi: {enabled: true}
",
        ),
        (
            "registry.yaml",
            "apiVersion: aicr.nvidia.com/v1alpha1
kind: ComponentRegistry
components:
  - name: cert-manager
    helm:
      defaultRepository: https://charts.jetstack.io
      defaultChart: jetstack/cert-manager
      defaultNamespace: cert-manager
  - name: gpu-operator
    helm:
      defaultRepository: https://helm.ngc.nvidia.com/nvidia
      defaultChart: nvidia/gpu-operator
      defaultNamespace: gpu-operator
",
        ),
        (
            "components/cert-manager/values.yaml",
            "crds:\n  enabled: true\n",
        ),
        (
            "components/gpu-operator/values.yaml",
            "driver:\n  enabled: true\n",
        ),
    ];
    files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), Cow::Owned(t.as_bytes().to_vec())))
        .collect()
}

pub fn small_base() -> Base {
    Base::from_files("small", small_catalog()).unwrap_or_else(|d| panic!("{d:#?}"))
}

/// An upload's files.
pub fn upload(files: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec()))
        .collect()
}

pub use aicr_tenant_catalogs::sample::EMPTY_REGISTRY;

/// A host on tokio's clock (paused in most tests: sleeps advance it instantly and
/// deterministically), with fixed randomness.
pub struct TokioHost {
    start: tokio::time::Instant,
}

impl TokioHost {
    pub fn new() -> Arc<TokioHost> {
        Arc::new(TokioHost {
            start: tokio::time::Instant::now(),
        })
    }
}

impl Host for TokioHost {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }

    fn random_u64(&self) -> u64 {
        0x2545_f491_4f6c_dd1d
    }
}

/// Records events with the host time they were seen at.
#[derive(Clone)]
pub struct Recorder {
    host: Arc<TokioHost>,
    pub events: Arc<Mutex<Vec<(u64, Event)>>>,
}

impl Recorder {
    pub fn new(host: Arc<TokioHost>) -> Recorder {
        Recorder {
            host,
            events: Arc::default(),
        }
    }

    pub fn observer(&self) -> Option<Box<dyn Observer>> {
        let me = self.clone();
        Some(Box::new(move |e: &Event| {
            let at = me.host.now_ms();
            me.events.lock().unwrap().push((at, e.clone()));
        }))
    }

    pub fn all(&self) -> Vec<(u64, Event)> {
        self.events.lock().unwrap().clone()
    }
}

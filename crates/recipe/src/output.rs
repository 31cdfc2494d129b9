//! The upstream `RecipeResult` document: field order, and which empty fields are left out,
//! exactly as upstream v0.11.1 serialises it. Any serde format works (JSON, YAML).

use crate::criteria::Criteria;
use crate::resolve::{Recipe, ResolvedComponent};
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

/// `kind` of a recipe document.
pub const RECIPE_KIND: &str = "RecipeResult";
/// `apiVersion` of every document the engine reads or writes.
pub const API_VERSION: &str = "aicr.nvidia.com/v1alpha1";
/// `metadata.version` of the documents this engine builds.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Criteria as upstream echoes them: every enum field (`any` included), `nodes` only
/// when non-zero.
pub struct CriteriaDoc<'a>(pub &'a Criteria);

impl Serialize for CriteriaDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("service", c.service.as_str())?;
        m.serialize_entry("accelerator", c.accelerator.as_str())?;
        m.serialize_entry("intent", c.intent.as_str())?;
        m.serialize_entry("os", c.os.as_str())?;
        m.serialize_entry("platform", c.platform.as_str())?;
        if c.nodes != 0 {
            m.serialize_entry("nodes", &c.nodes)?;
        }
        m.end()
    }
}

struct Overrides<'a, 'c>(&'a [(&'c str, &'c serde_json::Value)]);

impl Serialize for Overrides<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for ResolvedComponent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", self.name)?;
        let opt = |m: &mut S::SerializeMap, key: &str, v: &str| {
            if v.is_empty() {
                Ok(())
            } else {
                m.serialize_entry(key, v)
            }
        };
        opt(&mut m, "namespace", self.namespace)?;
        opt(&mut m, "chart", self.chart)?;
        m.serialize_entry("type", self.kind)?;
        m.serialize_entry("source", self.source)?;
        opt(&mut m, "version", self.version)?;
        opt(&mut m, "tag", self.tag)?;
        opt(&mut m, "valuesFile", self.values_file)?;
        if !self.overrides.is_empty() {
            m.serialize_entry("overrides", &Overrides(&self.overrides))?;
        }
        if !self.patches.is_empty() {
            m.serialize_entry("patches", self.patches)?;
        }
        if !self.dependency_refs.is_empty() {
            m.serialize_entry("dependencyRefs", self.dependency_refs)?;
        }
        if !self.manifest_files.is_empty() {
            m.serialize_entry("manifestFiles", &self.manifest_files)?;
        }
        opt(&mut m, "path", self.path)?;
        if self.cleanup {
            m.serialize_entry("cleanup", &true)?;
        }
        if !self.expected_resources.is_empty() {
            m.serialize_entry("expectedResources", self.expected_resources)?;
        }
        opt(&mut m, "healthCheckAsserts", self.health_check_asserts)?;
        m.end()
    }
}

struct Metadata<'a, 'c>(&'a [&'c str]);

impl Serialize for Metadata<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Metadata", 2)?;
        m.serialize_field("version", ENGINE_VERSION)?;
        m.serialize_field("appliedOverlays", self.0)?;
        m.end()
    }
}

struct Order<'a, 'c>(&'a Recipe<'c>);

impl Serialize for Order<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.deployment_order.len()))?;
        for name in self.0.deployment_order_names() {
            seq.serialize_element(name)?;
        }
        seq.end()
    }
}

struct Constraints<'a, 'c>(&'a Recipe<'c>);

impl Serialize for Constraints<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.constraints.iter().map(|c| c.constraint))
    }
}

struct ValidationDoc<'a, 'c>(&'a Recipe<'c>);

impl Serialize for ValidationDoc<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.validation.len()))?;
        for p in &self.0.validation {
            m.serialize_entry(p.name, p.phase)?;
        }
        m.end()
    }
}

impl Recipe<'_> {
    /// The document's members, in upstream's order, into a map being serialised (so a
    /// document that extends this one, such as [`crate::provenance::WithProvenance`],
    /// starts with exactly these bytes' members).
    pub(crate) fn serialize_entries<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        m.serialize_entry("kind", RECIPE_KIND)?;
        m.serialize_entry("apiVersion", API_VERSION)?;
        m.serialize_entry("metadata", &Metadata(&self.applied_overlays))?;
        m.serialize_entry("criteria", &CriteriaDoc(&self.criteria))?;
        if !self.constraints.is_empty() {
            m.serialize_entry("constraints", &Constraints(self))?;
        }
        m.serialize_entry("componentRefs", &self.components)?;
        m.serialize_entry("deploymentOrder", &Order(self))?;
        if !self.validation.is_empty() {
            m.serialize_entry("validation", &ValidationDoc(self))?;
        }
        Ok(())
    }
}

impl Serialize for Recipe<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        self.serialize_entries(&mut m)?;
        m.end()
    }
}

//! Where the upstream reference material sits: `../shared` beside the checkout (as CI lays
//! it out), with upstream's catalog, the recorded cases, and our deviations file. Every
//! host's conformance run starts here, so none of them spells the paths again.

use crate::{EnvCases, Options, load_cases};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The upstream catalog and recorded cases for a workspace.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Upstream's catalog directory (`../shared/aicr-upstream/recipes`).
    pub catalog: PathBuf,
    /// The recorded cases (`../shared/conformance`).
    pub cases: PathBuf,
    /// Our deviations file (`tests/conformance-deviations.tsv`).
    pub deviations: PathBuf,
    /// The recorded bundle cases and their judge (`../shared/bundle-conformance`).
    pub bundle_cases: PathBuf,
}

impl Upstream {
    /// The material beside the workspace at `root`, or `None` when `../shared` is absent.
    pub fn beside(root: &Path) -> Option<Upstream> {
        let shared = root.join("../shared");
        shared.exists().then(|| Upstream {
            catalog: shared.join("aicr-upstream/recipes"),
            cases: shared.join("conformance"),
            deviations: root.join("tests/conformance-deviations.tsv"),
            bundle_cases: shared.join("bundle-conformance"),
        })
    }

    /// Options for a run in-process (`url: None`) or against a live server.
    pub fn options(&self, url: Option<String>, env_cases: EnvCases) -> Options {
        Options {
            catalog: self.catalog.clone(),
            cases: self.cases.clone(),
            deviations: Some(self.deviations.clone()),
            url,
            env_cases,
        }
    }

    /// The distinct server configurations the cases were recorded with (none for most).
    /// A live host starts one server per configuration; more than one is refused, since
    /// each host starts at most one configured server.
    pub fn server_environment(&self) -> Result<Option<BTreeMap<String, String>>, String> {
        let mut envs: Vec<BTreeMap<String, String>> = load_cases(&self.cases)?
            .into_iter()
            .map(|c| c.server_env)
            .filter(|env| !env.is_empty())
            .collect();
        envs.sort();
        envs.dedup();
        if envs.len() > 1 {
            return Err(format!(
                "the configured cases need {} different server environments; one is supported",
                envs.len()
            ));
        }
        Ok(envs.pop())
    }
}

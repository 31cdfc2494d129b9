//! What one server process holds: the API over its catalog, the public stack (swapped
//! whole when an operator changes the anonymous rate limit), and what the admin API reads
//! and changes. Built once at start from the environment snapshot.

use crate::catalogs::Catalogued;
use crate::config::{Settings, Vars, invalid};
use crate::flags::{Flags, FlagsLayer};
use crate::logging::LogControl;
use crate::metrics::Metrics;
use crate::otlp::Exporter;
use crate::ready::Readiness;
use aicr_api::{Api, Config, ConfigError};
use aicr_recipe::Catalog;
use aicr_stack::{Gcra, HostOptions, Policy, Stack};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;
use tower_layer::Layer;

pub struct App {
    pub settings: Settings,
    pub api: Api<'static>,
    /// The public stack's innermost service: `api`, or a tenant's catalog's API.
    pub serving: Catalogued,
    /// `embedded`, or the catalog directory served.
    pub catalog_source: String,
    vars: Vars,
    /// The policy the server started with (the admin listener's).
    pub policy: Arc<Policy>,
    pub flags: Arc<Flags>,
    limiter: Gcra,
    pub options: HostOptions,
    /// Set at the shutdown signal: `/ready` answers 503 from then on.
    pub draining: Arc<AtomicBool>,
    public: RwLock<Stack>,
    /// The anonymous limit in force (`AICR_RATE_LIMIT`'s syntax); its lock also orders
    /// concurrent changes.
    anonymous_limit: Mutex<Option<String>>,
    pub metrics: Arc<Metrics>,
    pub log: LogControl,
    pub otlp: Option<Exporter>,
    /// SHA-256 of the leaf certificate new TLS handshakes present.
    pub tls_fingerprint: Mutex<Option<String>>,
    pub started: SystemTime,
}

/// The catalog to serve: the embedded one, or a directory loaded and checked now.
pub fn catalog(settings: &Settings) -> Result<(&'static Catalog, String), ConfigError> {
    let Some(dir) = &settings.catalog_dir else {
        return Ok((aicr_embedded_catalog::catalog(), "embedded".to_owned()));
    };
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|d| {
            d.parent()?
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "catalog".to_owned());
    let loaded = aicr_catalog::load_dir(dir, &name).map_err(|diagnostics| {
        invalid(
            "AICR_CATALOG_DIR",
            dir.display().to_string(),
            format!(
                "an upstream-format catalog directory without defects; found:\n{}",
                aicr_catalog::describe(&diagnostics)
            ),
        )
    })?;
    for warning in &loaded.warnings {
        tracing::warn!(target: "server", catalog = %dir.display(), %warning, "catalog warning");
    }
    // One catalog for the life of the process, borrowed by every answer.
    let catalog: &'static Catalog = Box::leak(Box::new(loaded.catalog));
    Ok((catalog, dir.display().to_string()))
}

impl App {
    /// Everything from the environment; `log` is the subscriber already installed.
    pub fn new(
        settings: Settings,
        vars: Vars,
        log: LogControl,
        metrics: Arc<Metrics>,
        otlp: Option<Exporter>,
    ) -> Result<App, ConfigError> {
        let get = |name: &str| vars.get(name);
        let config = Config::from_vars(get)?;
        let policy = Arc::new(Policy::from_vars(get)?);
        let flags = Arc::new(Flags::from_vars(&vars, &policy)?);
        let (catalog, catalog_source) = catalog(&settings)?;
        let api = Api::new(catalog, config.clone());
        let catalogs = settings.catalog_store.clone().map(crate::catalogs::open);
        let serving = Catalogued::new(api.clone(), catalog, config, catalogs, metrics.clone());
        let options = HostOptions {
            hsts: settings.hsts,
            compress: true,
        };
        let draining = Arc::new(AtomicBool::new(false));
        let limiter = Gcra::default();
        let anonymous_limit = vars.get("AICR_RATE_LIMIT").filter(|v| !v.trim().is_empty());
        let public = public_stack(
            &serving,
            &flags,
            &draining,
            &limiter,
            options,
            policy.clone(),
        );
        Ok(App {
            settings,
            api,
            serving,
            catalog_source,
            vars,
            policy,
            flags,
            limiter,
            options,
            draining,
            public: RwLock::new(public),
            anonymous_limit: Mutex::new(anonymous_limit.map(|v| v.trim().to_owned())),
            metrics,
            log,
            otlp,
            tls_fingerprint: Mutex::new(None),
            started: SystemTime::now(),
        })
    }

    /// The public stack in force.
    pub fn public(&self) -> Stack {
        self.public
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn anonymous_limit(&self) -> Option<String> {
        self.anonymous_limit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the anonymous rate limit (`None`: none): the public stack is built again
    /// from the start-up environment with `AICR_RATE_LIMIT` replaced, and swapped in whole,
    /// so a request runs entirely under the old stack or entirely under the new one. Counts
    /// are kept per limit, so callers start the new limit with a full allowance. Returns
    /// the previous limit.
    pub fn set_anonymous_limit(&self, limit: Option<&str>) -> Result<Option<String>, ConfigError> {
        let mut current = self
            .anonymous_limit
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let vars = self.vars.with("AICR_RATE_LIMIT", limit);
        let mut policy = Policy::from_vars(|name| vars.get(name))?;
        policy.share_replay_guard(&self.policy);
        let policy = Arc::new(policy);
        let stack = public_stack(
            &self.serving,
            &self.flags,
            &self.draining,
            &self.limiter,
            self.options,
            policy,
        );
        *self.public.write().unwrap_or_else(|p| p.into_inner()) = stack;
        Ok(std::mem::replace(
            &mut *current,
            limit.map(|l| l.trim().to_owned()),
        ))
    }
}

/// The API (per tenant catalog) behind the readiness gate and the flags, inside the
/// stack's layers.
fn public_stack(
    api: &Catalogued,
    flags: &Arc<Flags>,
    draining: &Arc<AtomicBool>,
    limiter: &Gcra,
    options: HostOptions,
    policy: Arc<Policy>,
) -> Stack {
    let inner = FlagsLayer::new(flags.clone(), policy.clone()).layer(Readiness {
        inner: api.clone(),
        draining: draining.clone(),
    });
    Stack::around(inner, policy, Some(limiter.clone()), options)
}

//! The stack's configuration: who may call what, how often, from which origins, behind
//! which proxies. Read once per host from the same variables source as the API's
//! [`aicr_api::Config`] (worker vars and secrets, the component's environment, the
//! server's environment), validated whole: a value that cannot be used names its
//! variable and what it accepts, and the host refuses to serve with it.
//!
//! | variable | what | default |
//! |---|---|---|
//! | `AICR_KEY_SECRET` | server secret keys are hashed under (≥ 32 bytes) | none: no key is accepted |
//! | `AICR_TENANTS` | the tenants document (JSON, see [`Tenant`]) | no tenants |
//! | `AICR_PROTECTED_ROUTES` | comma list of paths that need a key (`*`: every path but `/health`, `/ready`) | none: anonymous |
//! | `AICR_CORS_ORIGINS` | origins any caller's browser may read answers from (`*`: any) | none |
//! | `AICR_TRUSTED_PROXIES` | IPs / CIDRs whose `X-Forwarded-For` names the client | none |
//! | `AICR_RATE_LIMIT` | per-client limit for callers without a key, `N/s`, `N/m`, `N/h` or `N/<k>s` | none |
//!
//! Paths under `/admin/` always need a key of an admin tenant, whatever is configured.

use aicr_api::{Allowlists, Config, ConfigError};
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;

/// A rate: `requests` per `period_secs`, with a burst of `requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit {
    pub requests: u32,
    pub period_secs: u32,
}

impl Limit {
    const EXPECTED: &'static str = "<requests>/<period>: a whole number ≥ 1, then s, m, h or a number of seconds and s (e.g. 600/m, 100/10s)";

    pub fn parse(text: &str) -> Result<Limit, &'static str> {
        let (requests, period) = text.trim().split_once('/').ok_or(Limit::EXPECTED)?;
        let requests: u32 = requests.trim().parse().map_err(|_| Limit::EXPECTED)?;
        let period_secs = match period.trim() {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            p => p
                .strip_suffix('s')
                .and_then(|n| n.parse::<u32>().ok())
                .ok_or(Limit::EXPECTED)?,
        };
        if requests == 0 || period_secs == 0 {
            return Err(Limit::EXPECTED);
        }
        Ok(Limit {
            requests,
            period_secs,
        })
    }
}

/// Which origins a browser may read answers from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Origins {
    /// None (same-origin pages, such as the explorer, need no CORS).
    #[default]
    None,
    /// Any origin (never with credentials).
    Any,
    /// These serialised origins (`https://dash.example`, `http://localhost:3000`).
    List(Vec<String>),
}

impl Origins {
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            Origins::None => false,
            Origins::Any => true,
            Origins::List(list) => list.iter().any(|o| o == origin),
        }
    }

    fn parse(variable: &str, text: &str) -> Result<Origins, ConfigError> {
        let items: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if items == ["*"] {
            return Ok(Origins::Any);
        }
        let mut list = Vec::new();
        for item in items {
            if !is_origin(item) {
                return Err(ConfigError {
                    variable: variable.to_owned(),
                    value: item.to_owned(),
                    expected: "origins as browsers send them: scheme://host[:port], no path or \
                               trailing slash; or * alone for any origin"
                        .into(),
                });
            }
            list.push(item.to_owned());
        }
        Ok(if list.is_empty() {
            Origins::None
        } else {
            Origins::List(list)
        })
    }
}

/// `scheme://host[:port]` with nothing after the authority.
fn is_origin(text: &str) -> bool {
    let Some((scheme, authority)) = text.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme.bytes().all(|b| b.is_ascii_lowercase())
        && !authority.is_empty()
        && !authority.contains(['/', '?', '#', ' ', '@'])
}

/// One tenant: a party holding keys, with its own permissions and limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub name: String,
    /// Paths its keys may call; empty means every non-admin path.
    pub routes: Vec<String>,
    /// Whether its keys may call `/admin/` paths.
    pub admin: bool,
    /// Its rate limit; `None` means unlimited.
    pub limit: Option<Limit>,
    /// Origins whose pages may use its keys (beyond `AICR_CORS_ORIGINS`).
    pub cors_origins: Vec<String>,
    /// Its criteria allowlists (replacing `AICR_ALLOWED_*` for its requests).
    pub allowlists: Option<Allowlists>,
    /// Whether its requests must be signed.
    pub require_signature: bool,
}

impl Tenant {
    /// Whether its keys may call `path` (admin paths need `admin`).
    pub fn may_call(&self, path: &str) -> bool {
        if is_admin_path(path) {
            return self.admin;
        }
        self.routes.is_empty() || self.routes.iter().any(|r| r == path)
    }
}

/// Whether `path` is an admin path (always keyed, admin tenants only).
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// The tenants document, as stored (`AICR_TENANTS`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TenantsDocument {
    tenants: Vec<TenantEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TenantEntry {
    name: String,
    #[serde(default)]
    keys: Vec<KeyEntry>,
    #[serde(default)]
    routes: Vec<String>,
    #[serde(default)]
    admin: bool,
    rate_limit: Option<String>,
    #[serde(default)]
    cors_origins: Vec<String>,
    allowed: Option<AllowedEntry>,
    #[serde(default)]
    require_signature: bool,
}

/// A stored key. Other members (`created`, a note) are the operator's and ignored.
#[derive(Deserialize)]
struct KeyEntry {
    id: String,
    hash: String,
}

/// A tenant's allowlists, written as the `AICR_ALLOWED_*` variables are (comma lists).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowedEntry {
    services: Option<String>,
    accelerators: Option<String>,
    intents: Option<String>,
    os: Option<String>,
}

/// Everything the stack's layers decide by.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub(crate) key_hasher: Option<crate::keys::KeyHasher>,
    pub(crate) tenants: Vec<Tenant>,
    /// Key id → (tenant index, stored hash).
    pub(crate) keys: HashMap<String, (usize, [u8; 32])>,
    pub(crate) protected: Protected,
    pub(crate) cors_origins: Origins,
    pub(crate) trusted_proxies: Vec<IpNet>,
    pub(crate) anonymous_limit: Option<Limit>,
    /// Signatures seen (the replay guard); shared by clones and by
    /// [`Policy::share_replay_guard`], so a stack rebuilt with a changed policy still
    /// refuses replays of requests the old one took.
    pub(crate) replay: std::sync::Arc<std::sync::Mutex<crate::auth::SeenSignatures>>,
}

/// Which paths need a key besides `/admin/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Protected {
    #[default]
    Nothing,
    Everything,
    Paths(Vec<String>),
}

const TENANTS: &str = "AICR_TENANTS";

fn invalid(variable: &str, value: impl Into<String>, expected: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        value: value.into(),
        expected: expected.into(),
    }
}

impl Policy {
    /// Reads the variables in the module docs through `get` (the host's source).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Policy, ConfigError> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let key_hasher = match var("AICR_KEY_SECRET") {
            Some(s) if s.len() < 32 => {
                return Err(invalid(
                    "AICR_KEY_SECRET",
                    format!("({} bytes)", s.len()),
                    "at least 32 bytes of secret (e.g. 64 hex digits from a random source)",
                ));
            }
            s => s.map(|s| crate::keys::KeyHasher::new(s.as_bytes())),
        };
        let mut policy = Policy {
            key_hasher,
            ..Policy::default()
        };
        if let Some(doc) = var(TENANTS) {
            policy.read_tenants(&doc)?;
        }
        if !policy.keys.is_empty() && policy.key_hasher.is_none() {
            return Err(invalid(
                "AICR_KEY_SECRET",
                "(unset)",
                "the server secret the tenants' key hashes were made with; AICR_TENANTS lists keys",
            ));
        }
        policy.protected = match var("AICR_PROTECTED_ROUTES") {
            None => Protected::Nothing,
            Some(v) if v.trim() == "*" => Protected::Everything,
            Some(v) => {
                let mut paths = Vec::new();
                for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    if !p.starts_with('/') {
                        return Err(invalid(
                            "AICR_PROTECTED_ROUTES",
                            p,
                            "a comma list of paths starting with / (e.g. /v1/bundle), or * alone",
                        ));
                    }
                    paths.push(p.to_owned());
                }
                Protected::Paths(paths)
            }
        };
        if let Some(v) = var("AICR_CORS_ORIGINS") {
            policy.cors_origins = Origins::parse("AICR_CORS_ORIGINS", &v)?;
        }
        if let Some(v) = var("AICR_TRUSTED_PROXIES") {
            for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                let net = item
                    .parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        invalid(
                            "AICR_TRUSTED_PROXIES",
                            item,
                            "a comma list of IP addresses or CIDR blocks (10.0.0.0/8, ::1)",
                        )
                    })?;
                policy.trusted_proxies.push(net);
            }
        }
        if let Some(v) = var("AICR_RATE_LIMIT") {
            policy.anonymous_limit =
                Some(Limit::parse(&v).map_err(|e| invalid("AICR_RATE_LIMIT", v.clone(), e))?);
        }
        Ok(policy)
    }

    fn read_tenants(&mut self, doc: &str) -> Result<(), ConfigError> {
        let doc: TenantsDocument = serde_json::from_str(doc).map_err(|e| {
            invalid(
                TENANTS,
                format!("(line {}, column {})", e.line(), e.column()),
                format!(
                    "a JSON tenants document {{\"tenants\": [{{\"name\", \"keys\": [{{\"id\", \"hash\"}}], \
                     \"routes\"?, \"admin\"?, \"rateLimit\"?, \"corsOrigins\"?, \"allowed\"?, \
                     \"requireSignature\"?}}]}} ({})",
                    e.to_string().split(" at line").next().unwrap_or_default()
                ),
            )
        })?;
        for (index, entry) in doc.tenants.into_iter().enumerate() {
            let at = |field: &str| format!("{TENANTS}: tenants[{index}].{field}");
            if entry.name.is_empty()
                || !entry
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(invalid(
                    &at("name"),
                    &entry.name,
                    "a name of letters, digits, - and _",
                ));
            }
            if self.tenants.iter().any(|t| t.name == entry.name) {
                return Err(invalid(
                    &at("name"),
                    &entry.name,
                    "a name no other tenant has",
                ));
            }
            for (k, key) in entry.keys.iter().enumerate() {
                let id_ok = key.id.len() == 12
                    && key
                        .id
                        .bytes()
                        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                let hash = crate::keys::decode_hash(&key.hash).filter(|_| id_ok);
                let Some(hash) = hash else {
                    return Err(invalid(
                        &at(&format!("keys[{k}]")),
                        &key.id,
                        "{\"id\": 12 lowercase hex digits, \"hash\": 64 lowercase hex digits} \
                         as `cargo xtask key new` writes them",
                    ));
                };
                let previous = self.keys.insert(key.id.clone(), (self.tenants.len(), hash));
                if previous.is_some() {
                    return Err(invalid(
                        &at(&format!("keys[{k}].id")),
                        &key.id,
                        "a key id listed once in the whole document",
                    ));
                }
            }
            for route in &entry.routes {
                if !route.starts_with('/') {
                    return Err(invalid(&at("routes"), route, "paths starting with /"));
                }
            }
            let limit = entry
                .rate_limit
                .map(|l| Limit::parse(&l).map_err(|e| invalid(&at("rateLimit"), l.clone(), e)))
                .transpose()?;
            let cors_origins =
                match Origins::parse(&at("corsOrigins"), &entry.cors_origins.join(","))? {
                    Origins::List(list) => list,
                    Origins::None => Vec::new(),
                    Origins::Any => {
                        return Err(invalid(
                            &at("corsOrigins"),
                            "*",
                            "the tenant's own origins (any origin is AICR_CORS_ORIGINS=*)",
                        ));
                    }
                };
            let allowlists = entry
                .allowed
                .map(|a| {
                    Config::from_vars(|name| match name {
                        "AICR_ALLOWED_SERVICES" => a.services.clone(),
                        "AICR_ALLOWED_ACCELERATORS" => a.accelerators.clone(),
                        "AICR_ALLOWED_INTENTS" => a.intents.clone(),
                        "AICR_ALLOWED_OS" => a.os.clone(),
                        _ => None,
                    })
                    .map(|c| c.allowlists)
                    .map_err(|e| {
                        let field = e
                            .variable
                            .trim_start_matches("AICR_ALLOWED_")
                            .to_ascii_lowercase();
                        invalid(&at(&format!("allowed.{field}")), e.value, e.expected)
                    })
                })
                .transpose()?;
            self.tenants.push(Tenant {
                name: entry.name,
                routes: entry.routes,
                admin: entry.admin,
                limit,
                cors_origins,
                allowlists,
                require_signature: entry.require_signature,
            });
        }
        Ok(())
    }

    /// Whether `path` needs a key.
    pub fn needs_key(&self, path: &str) -> bool {
        if is_admin_path(path) {
            return true;
        }
        match &self.protected {
            Protected::Nothing => false,
            Protected::Everything => !matches!(path, "/health" | "/ready"),
            Protected::Paths(paths) => paths.iter().any(|p| p == path),
        }
    }

    /// Whether any configuration could let a browser on another origin read answers.
    pub fn any_cors_origin(&self) -> bool {
        self.cors_origins != Origins::None
            || self.tenants.iter().any(|t| !t.cors_origins.is_empty())
    }

    /// Whether a preflight from `origin` may be answered (before any key is seen): the
    /// global origins and every tenant's.
    pub fn preflight_allows(&self, origin: &str) -> bool {
        self.cors_origins.allows(origin)
            || self
                .tenants
                .iter()
                .any(|t| t.cors_origins.iter().any(|o| o == origin))
    }

    /// Makes this policy remember signatures in `other`'s replay guard (a host replacing
    /// its policy at run time keeps refusing replays across the swap).
    pub fn share_replay_guard(&mut self, other: &Policy) {
        self.replay = other.replay.clone();
    }

    pub fn tenants(&self) -> &[Tenant] {
        &self.tenants
    }

    pub fn anonymous_limit(&self) -> Option<Limit> {
        self.anonymous_limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(vars: &[(&str, &str)]) -> Result<Policy, ConfigError> {
        Policy::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn nothing_configured_is_anonymous_and_unlimited() {
        let p = policy(&[]).unwrap();
        assert!(!p.needs_key("/v1/recipe"));
        assert!(p.needs_key("/admin/flags"));
        assert_eq!(p.anonymous_limit, None);
        assert!(!p.any_cors_origin());
    }

    #[test]
    fn limits_parse_and_refuse_nonsense() {
        assert_eq!(
            Limit::parse("600/m"),
            Ok(Limit {
                requests: 600,
                period_secs: 60
            })
        );
        assert_eq!(Limit::parse("100/10s").unwrap().period_secs, 10);
        for bad in ["0/m", "10", "10/d", "x/s", "10/0s"] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tenants_parse_with_precise_errors() {
        let doc = format!(
            r#"{{"tenants":[{{"name":"acme","keys":[{{"id":"0123456789ab","hash":"{}"}}],
            "rateLimit":"10/s","corsOrigins":["https://dash.acme.example"],
            "allowed":{{"services":"eks"}}}}]}}"#,
            "a".repeat(64)
        );
        let p = policy(&[("AICR_TENANTS", &doc), ("AICR_KEY_SECRET", SECRET)]).unwrap();
        assert_eq!(p.tenants[0].limit.unwrap().requests, 10);
        assert!(p.preflight_allows("https://dash.acme.example"));
        assert!(p.tenants[0].allowlists.is_some());

        let err = policy(&[("AICR_TENANTS", &doc)]).unwrap_err();
        assert_eq!(err.variable, "AICR_KEY_SECRET");

        let bad = doc.replace("\"eks\"", "\"eks,moon\"");
        let err = policy(&[("AICR_TENANTS", &bad), ("AICR_KEY_SECRET", SECRET)]).unwrap_err();
        assert_eq!(err.variable, "AICR_TENANTS: tenants[0].allowed.services");
        assert_eq!(err.value, "moon");

        let err = policy(&[("AICR_TENANTS", "{\"tenants\": [{\"nme\": 1}]}")]).unwrap_err();
        assert!(err.expected.contains("unknown field `nme`"), "{err}");
    }

    #[test]
    fn proxies_origins_and_routes_are_checked() {
        let p = policy(&[
            ("AICR_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
            (
                "AICR_CORS_ORIGINS",
                "https://a.example,http://localhost:3000",
            ),
            ("AICR_PROTECTED_ROUTES", "/v1/bundle"),
        ])
        .unwrap();
        assert_eq!(p.trusted_proxies.len(), 2);
        assert!(p.needs_key("/v1/bundle") && !p.needs_key("/v1/recipe"));
        let err = policy(&[("AICR_CORS_ORIGINS", "https://a.example/")]).unwrap_err();
        assert_eq!(err.value, "https://a.example/");
        let err = policy(&[("AICR_TRUSTED_PROXIES", "10.0.0.0/33")]).unwrap_err();
        assert_eq!(err.variable, "AICR_TRUSTED_PROXIES");
        let err = policy(&[("AICR_KEY_SECRET", "short")]).unwrap_err();
        assert!(!err.value.contains("short"));
        let all = policy(&[("AICR_PROTECTED_ROUTES", "*")]).unwrap();
        assert!(all.needs_key("/v1/recipe") && !all.needs_key("/health"));
    }
}

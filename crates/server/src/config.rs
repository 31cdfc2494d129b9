//! The server's configuration: read once from the environment at start, validated whole.
//! Unlike the edge, which must answer something whatever it was given, a server can refuse
//! to start, and does: a value that cannot be used stops it with exit status 2 and a log
//! line naming the variable, the value and what it accepts, before any port is opened.
//! (Upstream `aicrd` logs a warning for a bad `PORT` and carries on with 8080; a server
//! that silently listens somewhere else than configured is harder to debug than one that
//! does not start.)
//!
//! The API's variables (`AICR_ALLOWED_*`, `AICR_CACHE_MAX_AGE`) and the stack's
//! (`AICR_KEY_SECRET`, `AICR_TENANTS`, …) are read by their own crates from the same
//! snapshot ([`Vars`]); this module reads the ones only a long-lived process has.

use aicr_api::ConfigError;
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use tracing::level_filters::LevelFilter;

/// The environment as it was at start. Every reader gets the same values, and the admin
/// API can rebuild the public stack from it with one variable replaced.
#[derive(Debug, Clone, Default)]
pub struct Vars(HashMap<String, String>);

/// Variable name prefixes and names this server reads; a value of one of them that is not
/// UTF-8 is refused rather than taken as absent.
const READ: [&str; 4] = ["AICR_", "PORT", "LOG_LEVEL", "SHUTDOWN_TIMEOUT_SECONDS"];

impl Vars {
    /// The process environment.
    pub fn from_env() -> Result<Vars, ConfigError> {
        let mut map = HashMap::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().map(str::to_owned) else {
                continue;
            };
            match value.into_string() {
                Ok(value) => {
                    map.insert(name, value);
                }
                Err(_) if READ.iter().any(|p| name.starts_with(p)) => {
                    return Err(invalid(&name, "(not UTF-8)", "UTF-8 text"));
                }
                Err(_) => {}
            }
        }
        Ok(Vars(map))
    }

    #[cfg(test)]
    pub fn of(pairs: &[(&str, &str)]) -> Vars {
        Vars(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }

    /// The value of `name`, if set to something other than blanks.
    fn value(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The same environment with `name` set to `value` (`None`: unset).
    pub fn with(&self, name: &str, value: Option<&str>) -> Vars {
        let mut map = self.0.clone();
        match value {
            Some(v) => map.insert(name.to_owned(), v.to_owned()),
            None => map.remove(name),
        };
        Vars(map)
    }
}

pub fn invalid(
    variable: &str,
    value: impl Into<String>,
    expected: impl Into<String>,
) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        value: value.into(),
        expected: expected.into(),
    }
}

/// The certificate and key files of native TLS, and how often they are checked for change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub reload_every: Duration,
}

/// Where spans go: `http://host:port` and an optional path prefix (`/v1/traces` is added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpEndpoint {
    pub host: String,
    pub port: u16,
    /// The path spans are posted to: the prefix and `/v1/traces`.
    pub path: String,
}

/// Everything the process itself is configured by.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: IpAddr,
    pub port: u16,
    pub admin_bind: IpAddr,
    pub admin_port: u16,
    pub admin_allow: Vec<IpNet>,
    pub drain: Duration,
    pub shutdown_timeout: Duration,
    pub request_timeout: Duration,
    pub header_read_timeout: Duration,
    pub tls: Option<TlsFiles>,
    pub hsts: bool,
    pub log_level: LevelFilter,
    pub otlp: Option<OtlpEndpoint>,
    /// A catalog directory to serve instead of the embedded one.
    pub catalog_dir: Option<PathBuf>,
    /// `AICR_CATALOG_STORE`: the directory of tenants' catalogs (`None`: none).
    pub catalog_store: Option<PathBuf>,
}

/// The log levels `LOG_LEVEL` and the admin API accept, as upstream names them.
pub const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

/// A level by name (`warning` is upstream's alias of `warn`).
pub fn parse_level(text: &str) -> Option<LevelFilter> {
    match text.trim().to_ascii_lowercase().as_str() {
        "error" => Some(LevelFilter::ERROR),
        "warn" | "warning" => Some(LevelFilter::WARN),
        "info" => Some(LevelFilter::INFO),
        "debug" => Some(LevelFilter::DEBUG),
        "trace" => Some(LevelFilter::TRACE),
        "off" => Some(LevelFilter::OFF),
        _ => None,
    }
}

/// The name [`parse_level`] reads back.
pub fn level_name(level: LevelFilter) -> &'static str {
    match level {
        LevelFilter::ERROR => "error",
        LevelFilter::WARN => "warn",
        LevelFilter::INFO => "info",
        LevelFilter::DEBUG => "debug",
        LevelFilter::TRACE => "trace",
        _ => "off",
    }
}

/// A whole number within `range`, or the default when unset.
fn number<T: FromStr + PartialOrd + std::fmt::Display + Copy>(
    vars: &Vars,
    name: &str,
    default: T,
    min: T,
    max: T,
    unit: &str,
) -> Result<T, ConfigError> {
    match vars.value(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<T>()
            .ok()
            .filter(|n| *n >= min && *n <= max)
            .ok_or_else(|| {
                invalid(
                    name,
                    text,
                    format!("a whole number of {unit} from {min} to {max}"),
                )
            }),
    }
}

fn address(vars: &Vars, name: &str, default: IpAddr) -> Result<IpAddr, ConfigError> {
    match vars.value(name) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| {
            invalid(
                name,
                text,
                "an IP address to listen on (127.0.0.1, 0.0.0.0, ::)",
            )
        }),
    }
}

fn switch(vars: &Vars, name: &str) -> Result<bool, ConfigError> {
    match vars.value(name).map(str::to_ascii_lowercase).as_deref() {
        None | Some("off" | "false" | "0") => Ok(false),
        Some("on" | "true" | "1") => Ok(true),
        Some(_) => Err(invalid(
            name,
            vars.value(name).unwrap_or_default(),
            "on or off",
        )),
    }
}

/// IPs and CIDR blocks, comma-separated.
pub fn networks(name: &str, text: &str) -> Result<Vec<IpNet>, ConfigError> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let net = item
            .parse::<IpNet>()
            .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| {
                invalid(
                    name,
                    item,
                    "a comma list of IP addresses or CIDR blocks (127.0.0.1, 10.0.0.0/8, ::1)",
                )
            })?;
        out.push(net);
    }
    if out.is_empty() {
        return Err(invalid(name, text, "at least one IP address or CIDR block"));
    }
    Ok(out)
}

fn otlp(vars: &Vars) -> Result<Option<OtlpEndpoint>, ConfigError> {
    const NAME: &str = "AICR_OTLP_ENDPOINT";
    const EXPECTED: &str = "an OTLP/HTTP collector base URL, http://host:port[/prefix] \
        (spans are posted to {base}/v1/traces as JSON; https is not supported: \
        use a collector beside the server or the mesh's mTLS)";
    let Some(text) = vars.value(NAME) else {
        return Ok(None);
    };
    let bad = || invalid(NAME, text, EXPECTED);
    let rest = text.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if prefix.contains(['?', '#', ' ']) {
        return Err(bad());
    }
    // `[v6]:port`, `[v6]`, `host:port` or `host`.
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']').ok_or_else(bad)?;
            match after.strip_prefix(':') {
                Some(port) => (host, port.parse::<u16>().map_err(|_| bad())?),
                None if after.is_empty() => (host, 80),
                None => return Err(bad()),
            }
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse::<u16>().map_err(|_| bad())?),
            None => (authority, 80),
        },
    };
    if host.is_empty() || host.contains(['@', '/', ' ', '[', ']']) {
        return Err(bad());
    }
    Ok(Some(OtlpEndpoint {
        host: host.to_owned(),
        port,
        path: format!("{prefix}/v1/traces"),
    }))
}

impl Settings {
    pub fn from_vars(vars: &Vars) -> Result<Settings, ConfigError> {
        let loopback = IpAddr::from([127, 0, 0, 1]);
        let log_level = match vars.value("LOG_LEVEL") {
            None => LevelFilter::INFO,
            Some(text) => parse_level(text).ok_or_else(|| {
                invalid(
                    "LOG_LEVEL",
                    text,
                    format!("one of {} (warning = warn)", LEVELS.join(", ")),
                )
            })?,
        };
        // Upstream's name first, ours over it.
        let shutdown_default = number(vars, "SHUTDOWN_TIMEOUT_SECONDS", 30u64, 1, 3600, "seconds")?;
        let tls = match (vars.value("AICR_TLS_CERT"), vars.value("AICR_TLS_KEY")) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
                reload_every: Duration::from_secs(number(
                    vars,
                    "AICR_TLS_RELOAD_SECONDS",
                    10u64,
                    1,
                    86_400,
                    "seconds",
                )?),
            }),
            (Some(_), None) => {
                return Err(invalid(
                    "AICR_TLS_KEY",
                    "(unset)",
                    "the PEM private key of AICR_TLS_CERT's certificate",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "AICR_TLS_CERT",
                    "(unset)",
                    "the PEM certificate chain of AICR_TLS_KEY's key",
                ));
            }
        };
        let settings = Settings {
            bind: address(vars, "AICR_BIND", loopback)?,
            port: number(vars, "PORT", 8080u16, 0, u16::MAX, "port")?,
            admin_bind: address(vars, "AICR_ADMIN_BIND", loopback)?,
            admin_port: number(vars, "AICR_ADMIN_PORT", 9090u16, 0, u16::MAX, "port")?,
            admin_allow: match vars.value("AICR_ADMIN_ALLOW") {
                None => networks("AICR_ADMIN_ALLOW", "127.0.0.0/8, ::1")?,
                Some(text) => networks("AICR_ADMIN_ALLOW", text)?,
            },
            drain: Duration::from_secs(number(
                vars,
                "AICR_DRAIN_SECONDS",
                5u64,
                0,
                3600,
                "seconds",
            )?),
            shutdown_timeout: Duration::from_secs(number(
                vars,
                "AICR_SHUTDOWN_TIMEOUT_SECONDS",
                shutdown_default,
                1,
                3600,
                "seconds",
            )?),
            request_timeout: Duration::from_millis(number(
                vars,
                "AICR_REQUEST_TIMEOUT_MS",
                30_000u64,
                1,
                3_600_000,
                "milliseconds",
            )?),
            header_read_timeout: Duration::from_millis(number(
                vars,
                "AICR_HEADER_READ_TIMEOUT_MS",
                5_000u64,
                1,
                3_600_000,
                "milliseconds",
            )?),
            hsts: tls.is_some() || switch(vars, "AICR_HSTS")?,
            tls,
            log_level,
            otlp: otlp(vars)?,
            catalog_dir: vars.value("AICR_CATALOG_DIR").map(PathBuf::from),
            catalog_store: vars.value("AICR_CATALOG_STORE").map(PathBuf::from),
        };
        if let (Some(_), Some(store)) = (&settings.catalog_dir, &settings.catalog_store) {
            return Err(invalid(
                "AICR_CATALOG_STORE",
                store.display().to_string(),
                "unset when AICR_CATALOG_DIR is set: tenants' catalogs layer over the embedded catalog",
            ));
        }
        if settings.port != 0
            && settings.port == settings.admin_port
            && settings.bind == settings.admin_bind
        {
            return Err(invalid(
                "AICR_ADMIN_PORT",
                settings.admin_port.to_string(),
                "a port other than PORT's: the admin listener is a listener of its own",
            ));
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_vars(&Vars::of(pairs))
    }

    #[test]
    fn defaults_are_local_and_upstreams() {
        let s = settings(&[]).unwrap();
        assert_eq!((s.bind.to_string(), s.port), ("127.0.0.1".into(), 8080));
        assert_eq!(s.admin_port, 9090);
        assert_eq!(s.drain, Duration::from_secs(5));
        assert_eq!(s.shutdown_timeout, Duration::from_secs(30));
        assert!(
            s.admin_allow
                .iter()
                .any(|n| n.contains(&"127.0.0.1".parse::<IpAddr>().unwrap()))
        );
        assert!(
            s.admin_allow
                .iter()
                .any(|n| n.contains(&"::1".parse::<IpAddr>().unwrap()))
        );
        assert!(!s.hsts && s.tls.is_none() && s.otlp.is_none());
        assert_eq!(s.log_level, LevelFilter::INFO);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (pairs, variable) in [
            (&[("PORT", "http")][..], "PORT"),
            (&[("PORT", "70000")], "PORT"),
            (&[("AICR_BIND", "localhost")], "AICR_BIND"),
            (&[("AICR_ADMIN_ALLOW", "10.0.0.0/33")], "AICR_ADMIN_ALLOW"),
            (&[("AICR_ADMIN_ALLOW", ",")], "AICR_ADMIN_ALLOW"),
            (&[("AICR_DRAIN_SECONDS", "-1")], "AICR_DRAIN_SECONDS"),
            (
                &[("AICR_REQUEST_TIMEOUT_MS", "0")],
                "AICR_REQUEST_TIMEOUT_MS",
            ),
            (&[("AICR_TLS_CERT", "/c.pem")], "AICR_TLS_KEY"),
            (&[("AICR_HSTS", "yes")], "AICR_HSTS"),
            (&[("LOG_LEVEL", "loud")], "LOG_LEVEL"),
            (
                &[("AICR_OTLP_ENDPOINT", "https://collector:4318")],
                "AICR_OTLP_ENDPOINT",
            ),
            (
                &[("AICR_OTLP_ENDPOINT", "http://:4318")],
                "AICR_OTLP_ENDPOINT",
            ),
            (&[("PORT", "9090")], "AICR_ADMIN_PORT"),
        ] {
            let err = settings(pairs).unwrap_err();
            assert_eq!(err.variable, variable, "{pairs:?}: {err}");
        }
    }

    #[test]
    fn values_are_read() {
        let s = settings(&[
            ("PORT", "0"),
            ("AICR_BIND", "0.0.0.0"),
            ("SHUTDOWN_TIMEOUT_SECONDS", "7"),
            ("AICR_TLS_CERT", "/c.pem"),
            ("AICR_TLS_KEY", "/k.pem"),
            ("LOG_LEVEL", "WARNING"),
            ("AICR_OTLP_ENDPOINT", "http://otel.monitoring:4318/base/"),
        ])
        .unwrap();
        assert_eq!(s.port, 0);
        assert_eq!(s.shutdown_timeout, Duration::from_secs(7));
        assert!(s.hsts, "TLS implies HSTS");
        assert_eq!(s.log_level, LevelFilter::WARN);
        let otlp = s.otlp.unwrap();
        assert_eq!((otlp.host.as_str(), otlp.port), ("otel.monitoring", 4318));
        assert_eq!(otlp.path, "/base/v1/traces");
        let s = settings(&[("AICR_OTLP_ENDPOINT", "http://[::1]:4318")]).unwrap();
        assert_eq!(s.otlp.unwrap().host, "::1");
    }
}

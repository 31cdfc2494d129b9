//! Server configuration, passed in by the host (worker vars, component env, tests) —
//! never read from a global.

use aicr_recipe::{Accelerator, Criteria, Field, Intent, Os, Service};
use std::fmt;

/// Per-field allowlists with upstream's `AICR_ALLOWED_*` semantics: empty means all
/// allowed, `any` in a request always passes, `any` entries in a list are dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlists {
    pub services: Vec<Service>,
    pub accelerators: Vec<Accelerator>,
    pub intents: Vec<Intent>,
    pub os: Vec<Os>,
}

/// A configuration value that cannot be used; the host should refuse to start, or answer
/// every request with the 500 this converts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: String,
    /// The value (for one list entry, that entry) as configured. For the host's log only:
    /// the 500 sent to clients leaves it out, since configuration may hold what the
    /// operator did not mean to publish.
    pub value: String,
    /// What the variable accepts.
    pub expected: String,
}

/// For the host's log: variable, value and what is accepted.
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {:?} cannot be used; expected {}",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

/// A host that cannot use its configuration answers every request with this 500, which
/// names the variable and what it accepts (not the value), so a bad deployment shows its
/// cause on the first request.
impl From<&ConfigError> for crate::ApiError {
    fn from(e: &ConfigError) -> Self {
        crate::ApiError::new(crate::ErrorCode::Internal, "Invalid server configuration")
            .detail("variable", e.variable.as_str())
            .detail(
                "error",
                format!(
                    "the configured value cannot be used; expected {}",
                    e.expected
                ),
            )
    }
}

/// Everything the API's behaviour can be tuned by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub allowlists: Allowlists,
    /// `max-age` of `Cache-Control` on successful recipe and query answers.
    pub cache_max_age: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            allowlists: Allowlists::default(),
            cache_max_age: 600,
        }
    }
}

/// What a list variable accepts: the field's values, and the aliases its parser knows.
fn list_expectation(e: &aicr_recipe::CriteriaError) -> String {
    let mut text = format!(
        "a comma-separated list of {} values: {}",
        e.field,
        e.allowed().join(", ")
    );
    let aliases: Vec<String> = e
        .field
        .aliases()
        .iter()
        .map(|(alias, canonical)| format!("{alias} (= {canonical})"))
        .collect();
    if !aliases.is_empty() {
        text.push_str(&format!("; also accepted: {}", aliases.join(", ")));
    }
    text
}

fn parse_list<T: PartialEq + Default>(
    variable: &str,
    raw: Option<String>,
    parse: fn(&str) -> Result<T, aicr_recipe::CriteriaError>,
) -> Result<Vec<T>, ConfigError> {
    let mut out = Vec::new();
    for item in raw
        .iter()
        .flat_map(|r| r.split(','))
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        let value = parse(item).map_err(|e| ConfigError {
            variable: variable.to_owned(),
            value: item.to_owned(),
            expected: list_expectation(&e),
        })?;
        if value != T::default() && !out.contains(&value) {
            out.push(value);
        }
    }
    Ok(out)
}

impl Config {
    /// Reads `AICR_ALLOWED_SERVICES`, `AICR_ALLOWED_ACCELERATORS`, `AICR_ALLOWED_INTENTS`,
    /// `AICR_ALLOWED_OS` (comma lists, aliases allowed) and `AICR_CACHE_MAX_AGE` (seconds)
    /// through `get`, which the host maps to its own configuration source.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let cache_max_age = match get("AICR_CACHE_MAX_AGE").filter(|v| !v.trim().is_empty()) {
            None => Config::default().cache_max_age,
            Some(v) => v.trim().parse().map_err(|_| ConfigError {
                variable: "AICR_CACHE_MAX_AGE".into(),
                value: v,
                expected: format!("a whole number of seconds from 0 to {}", u32::MAX),
            })?,
        };
        Ok(Config {
            allowlists: Allowlists {
                services: parse_list(
                    "AICR_ALLOWED_SERVICES",
                    get("AICR_ALLOWED_SERVICES"),
                    Service::parse,
                )?,
                accelerators: parse_list(
                    "AICR_ALLOWED_ACCELERATORS",
                    get("AICR_ALLOWED_ACCELERATORS"),
                    Accelerator::parse,
                )?,
                intents: parse_list(
                    "AICR_ALLOWED_INTENTS",
                    get("AICR_ALLOWED_INTENTS"),
                    Intent::parse,
                )?,
                os: parse_list("AICR_ALLOWED_OS", get("AICR_ALLOWED_OS"), Os::parse)?,
            },
            cache_max_age,
        })
    }
}

/// A criteria value an allowlist refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAllowed {
    pub field: Field,
    pub requested: &'static str,
    pub allowed: Vec<&'static str>,
}

impl Allowlists {
    /// Checks fields in upstream's order (accelerator, service, intent, os); `any` passes.
    pub fn check(&self, c: &Criteria) -> Result<(), NotAllowed> {
        fn one<T: Copy + PartialEq + Default>(
            field: Field,
            list: &[T],
            value: T,
            name: fn(T) -> &'static str,
        ) -> Result<(), NotAllowed> {
            if list.is_empty() || value == T::default() || list.contains(&value) {
                return Ok(());
            }
            Err(NotAllowed {
                field,
                requested: name(value),
                allowed: list.iter().map(|v| name(*v)).collect(),
            })
        }
        one(
            Field::Accelerator,
            &self.accelerators,
            c.accelerator,
            Accelerator::as_str,
        )?;
        one(Field::Service, &self.services, c.service, Service::as_str)?;
        one(Field::Intent, &self.intents, c.intent, Intent::as_str)?;
        one(Field::Os, &self.os, c.os, Os::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_with_aliases_and_drop_any() {
        let vars = |k: &str| match k {
            "AICR_ALLOWED_OS" => Some("ubuntu, al2023,any,".to_owned()),
            "AICR_ALLOWED_SERVICES" => Some("EKS".to_owned()),
            _ => None,
        };
        let c = Config::from_vars(vars).unwrap();
        assert_eq!(c.allowlists.os, [Os::Ubuntu, Os::AmazonLinux]);
        assert_eq!(c.allowlists.services, [Service::Eks]);
        assert!(c.allowlists.accelerators.is_empty());
        assert_eq!(c.cache_max_age, 600);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = Config::from_vars(|k| {
            (k == "AICR_ALLOWED_ACCELERATORS").then(|| "h100,v100".to_owned())
        })
        .unwrap_err();
        assert_eq!(err.variable, "AICR_ALLOWED_ACCELERATORS");
        assert_eq!(err.value, "v100");
        assert!(err.expected.contains("a100, b200, gb200, h100, l40"));
        let err = Config::from_vars(|k| (k == "AICR_CACHE_MAX_AGE").then(|| "-1".to_owned()))
            .unwrap_err();
        assert_eq!(err.variable, "AICR_CACHE_MAX_AGE");
    }

    #[test]
    fn any_always_passes() {
        let lists = Allowlists {
            accelerators: vec![Accelerator::H100],
            ..Default::default()
        };
        assert!(lists.check(&Criteria::default()).is_ok());
        let gb200 = Criteria {
            accelerator: Accelerator::Gb200,
            ..Default::default()
        };
        let err = lists.check(&gb200).unwrap_err();
        assert_eq!(
            (err.field, err.requested, err.allowed),
            (Field::Accelerator, "gb200", vec!["h100"])
        );
    }
}

//! Criteria: the six facts a platform engineer gives about a cluster.
//!
//! Every request path (query string, JSON or YAML body, WIT call, browser call) ends in
//! [`Criteria::set_field`], so aliases, trimming, case folding and error texts are the
//! same everywhere. Name/value lists (query string, WIT list, command line) go through
//! [`Criteria::from_params`], so a repeated name, or both `accelerator` and `gpu`, mean
//! the same everywhere too. The enums are closed: the values an upstream v0.11.1 catalog
//! may use.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The other parameter name for [`Field::Accelerator`] (upstream's API accepts both).
const GPU: &str = "gpu";

/// One criteria field; used to name the field in errors and in allowlists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Service,
    Accelerator,
    Intent,
    Os,
    Platform,
    Nodes,
}

impl Field {
    /// Fields in the order upstream validates them (and reports the first error of).
    pub const ALL: [Field; 6] = [
        Field::Service,
        Field::Accelerator,
        Field::Intent,
        Field::Os,
        Field::Platform,
        Field::Nodes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Service => "service",
            Field::Accelerator => "accelerator",
            Field::Intent => "intent",
            Field::Os => "os",
            Field::Platform => "platform",
            Field::Nodes => "nodes",
        }
    }

    /// Canonical values a field accepts, sorted, without `any` (nodes: none).
    pub fn allowed_values(self) -> &'static [&'static str] {
        match self {
            Field::Service => Service::ALLOWED,
            Field::Accelerator => Accelerator::ALLOWED,
            Field::Intent => Intent::ALLOWED,
            Field::Os => Os::ALLOWED,
            Field::Platform => Platform::ALLOWED,
            Field::Nodes => &[],
        }
    }

    /// Every request parameter name that sets a field, in `ALL` order: each field's own
    /// name, and `gpu`, upstream's second name for `accelerator` (see
    /// [`Criteria::from_params`] for which of the two wins).
    pub const PARAMETERS: [&'static str; 7] = [
        "service",
        "accelerator",
        GPU,
        "intent",
        "os",
        "platform",
        "nodes",
    ];

    /// Extra spellings a field accepts, as `(alias, canonical)` pairs.
    pub fn aliases(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Field::Service => Service::ALIASES,
            Field::Accelerator => Accelerator::ALIASES,
            Field::Intent => Intent::ALIASES,
            Field::Os => Os::ALIASES,
            Field::Platform => Platform::ALIASES,
            Field::Nodes => &[],
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A criteria value that is not allowed: which field, the raw value, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriteriaError {
    pub field: Field,
    /// The value as the caller sent it (not trimmed, not lower-cased).
    pub value: String,
    pub reason: CriteriaErrorReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CriteriaErrorReason {
    /// Not one of the enum values or aliases.
    UnknownValue,
    /// `nodes` that is not a whole number from 0 to `u32::MAX`.
    NotACount,
    /// A value of the wrong type in a body, e.g. a number for `service`.
    WrongType(&'static str),
}

impl CriteriaError {
    /// Values the field accepts, for error bodies: canonical values then `any`.
    pub fn allowed(&self) -> Vec<&'static str> {
        match self.field {
            Field::Nodes => Vec::new(),
            field => {
                let mut all = field.allowed_values().to_vec();
                all.push("any");
                all
            }
        }
    }
}

impl fmt::Display for CriteriaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.field;
        match &self.reason {
            CriteriaErrorReason::UnknownValue => {
                write!(
                    f,
                    "invalid {field} {:?}: allowed values are {}",
                    self.value,
                    self.allowed().join(", ")
                )?;
                let aliases = field.aliases();
                if !aliases.is_empty() {
                    let list: Vec<String> = aliases
                        .iter()
                        .map(|(a, c)| format!("{a} (= {c})"))
                        .collect();
                    write!(f, "; also accepted: {}", list.join(", "))?;
                }
                f.write_str("; case and surrounding spaces are ignored")
            }
            CriteriaErrorReason::NotACount => write!(
                f,
                "invalid nodes {:?}: must be a whole number from 0 to {} (0 means unspecified)",
                self.value,
                u32::MAX
            ),
            CriteriaErrorReason::WrongType(found) => match field {
                Field::Nodes => write!(
                    f,
                    "invalid nodes: expected a whole number from 0 to {}, found {found}",
                    u32::MAX
                ),
                _ => write!(
                    f,
                    "invalid {field}: expected a string, one of {}, found {found}",
                    self.allowed().join(", ")
                ),
            },
        }
    }
}

impl std::error::Error for CriteriaError {}

macro_rules! criteria_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $field:expr,
        values { $($variant:ident => $text:literal),+ $(,)? },
        sorted [$($sorted:literal),+ $(,)?],
        aliases { $($alias:literal => $target:ident),* $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub enum $name {
            /// No preference: matches only overlays that leave this field open.
            #[default]
            Any,
            $($variant,)+
        }

        impl $name {
            /// Canonical values, sorted bytewise, without `any`.
            pub const ALLOWED: &'static [&'static str] = &[$($sorted),+];
            /// Extra accepted spellings and the canonical value they stand for.
            pub const ALIASES: &'static [(&'static str, &'static str)] =
                &[$(($alias, $name::$target.as_str())),*];
            /// Every value including `Any`.
            pub const ALL: &'static [$name] = &[$name::Any, $($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $name::Any => "any",
                    $($name::$variant => $text,)+
                }
            }

            /// Parses a request value: trimmed, case-insensitive, aliases resolved,
            /// empty meaning `any`.
            pub fn parse(raw: &str) -> Result<Self, CriteriaError> {
                let folded = raw.trim().to_ascii_lowercase();
                match folded.as_str() {
                    "" | "any" => Ok($name::Any),
                    $($text => Ok($name::$variant),)+
                    $($alias => Ok($name::$target),)*
                    _ => Err(CriteriaError {
                        field: $field,
                        value: raw.to_owned(),
                        reason: CriteriaErrorReason::UnknownValue,
                    }),
                }
            }

            /// Parses a catalog value, which must already be canonical: lower-case, no
            /// alias, no surrounding spaces (empty and `any` mean open).
            pub fn parse_canonical(raw: &str) -> Option<Self> {
                match raw {
                    "" | "any" => Some($name::Any),
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                $name::parse_canonical(&raw).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "invalid {} {:?}: allowed values are {}, any",
                        $field, raw, $name::ALLOWED.join(", ")
                    ))
                })
            }
        }
    };
}

criteria_enum!(
    /// Where the cluster runs: a managed Kubernetes service, or kind.
    Service, Field::Service,
    values { Eks => "eks", Gke => "gke", Aks => "aks", Oke => "oke", Kind => "kind" },
    sorted ["aks", "eks", "gke", "kind", "oke"],
    aliases { "self-managed" => Any, "self" => Any, "vanilla" => Any }
);

criteria_enum!(
    /// The GPU model of the accelerated nodes.
    Accelerator, Field::Accelerator,
    values { H100 => "h100", Gb200 => "gb200", B200 => "b200", A100 => "a100", L40 => "l40" },
    sorted ["a100", "b200", "gb200", "h100", "l40"],
    aliases {}
);

criteria_enum!(
    /// What the cluster is for.
    Intent, Field::Intent,
    values { Training => "training", Inference => "inference" },
    sorted ["inference", "training"],
    aliases {}
);

criteria_enum!(
    /// The operating system of the worker nodes.
    Os, Field::Os,
    values { Ubuntu => "ubuntu", Rhel => "rhel", Cos => "cos", AmazonLinux => "amazonlinux" },
    sorted ["amazonlinux", "cos", "rhel", "ubuntu"],
    aliases { "al2" => AmazonLinux, "al2023" => AmazonLinux }
);

criteria_enum!(
    /// An optional ML framework platform installed on top.
    Platform, Field::Platform,
    values { Dynamo => "dynamo", Kubeflow => "kubeflow" },
    sorted ["dynamo", "kubeflow"],
    aliases {}
);

/// Parses a `nodes` count: ASCII digits only (surrounding spaces allowed), 0 to `u32::MAX`,
/// empty meaning 0 (unspecified). Stricter than upstream's `Sscanf("%d")`, which accepted
/// `12abc` as 12 and `0x10` as 0.
pub fn parse_nodes(raw: &str) -> Result<u32, CriteriaError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(0);
    }
    let err = || CriteriaError {
        field: Field::Nodes,
        value: raw.to_owned(),
        reason: CriteriaErrorReason::NotACount,
    };
    if !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    trimmed.parse::<u32>().map_err(|_| err())
}

/// A normalised description of a cluster. `Default` is all-`any`, nodes 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Criteria {
    pub service: Service,
    pub accelerator: Accelerator,
    pub intent: Intent,
    pub os: Os,
    pub platform: Platform,
    /// Node count; 0 means unspecified.
    #[serde(default)]
    pub nodes: u32,
}

impl Criteria {
    /// Sets one field from a raw request value (trim, case-fold, aliases).
    pub fn set_field(&mut self, field: Field, raw: &str) -> Result<(), CriteriaError> {
        match field {
            Field::Service => self.service = Service::parse(raw)?,
            Field::Accelerator => self.accelerator = Accelerator::parse(raw)?,
            Field::Intent => self.intent = Intent::parse(raw)?,
            Field::Os => self.os = Os::parse(raw)?,
            Field::Platform => self.platform = Platform::parse(raw)?,
            Field::Nodes => self.nodes = parse_nodes(raw)?,
        }
        Ok(())
    }

    /// Builds criteria from optional raw values, checking fields in upstream's order and
    /// reporting the first bad one.
    pub fn from_raw<'a>(
        mut get: impl FnMut(Field) -> Option<&'a str>,
    ) -> Result<Criteria, CriteriaError> {
        let mut criteria = Criteria::default();
        for field in Field::ALL {
            if let Some(raw) = get(field) {
                criteria.set_field(field, raw)?;
            }
        }
        Ok(criteria)
    }

    /// Builds criteria from request parameters, `(name, value)` in the order the caller
    /// sent them: a query string, the WIT `parse-criteria` list, command-line flags. This
    /// is the one meaning of repeated criteria for every entry point, upstream's HTTP rule
    /// (which clients rely on): a name given more than once keeps its FIRST value (later
    /// ones are not even parsed), and `gpu` sets the accelerator only when `accelerator` is
    /// absent or empty, wherever each stands. A `gpu` that loses to `accelerator` must
    /// still be a valid value (upstream ignored it): a bad value is refused, never silently
    /// dropped, so a parameter means the same whatever stands beside it. Names outside
    /// [`Field::PARAMETERS`] are skipped; whether they are an error is the entry point's
    /// decision.
    pub fn from_params<N: AsRef<str>, V: AsRef<str>>(
        params: &[(N, V)],
    ) -> Result<Criteria, CriteriaError> {
        let first = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.as_ref() == name)
                .map(|(_, v)| v.as_ref())
        };
        let mut criteria = Criteria::default();
        for field in Field::ALL {
            if field == Field::Accelerator {
                let named = first(field.as_str()).filter(|v| !v.is_empty());
                let named = named.map(Accelerator::parse).transpose()?;
                let alias = first(GPU).map(Accelerator::parse).transpose()?;
                if let Some(accelerator) = named.or(alias) {
                    criteria.accelerator = accelerator;
                }
            } else if let Some(raw) = first(field.as_str()) {
                criteria.set_field(field, raw)?;
            }
        }
        Ok(criteria)
    }

    /// The canonical text of a field (`nodes` as a decimal number).
    pub fn field_text(&self, field: Field) -> std::borrow::Cow<'static, str> {
        match field {
            Field::Service => self.service.as_str().into(),
            Field::Accelerator => self.accelerator.as_str().into(),
            Field::Intent => self.intent.as_str().into(),
            Field::Os => self.os.as_str().into(),
            Field::Platform => self.platform.as_str().into(),
            Field::Nodes => self.nodes.to_string().into(),
        }
    }

    /// True when the field holds `any` (nodes: 0).
    pub fn is_open(&self, field: Field) -> bool {
        match field {
            Field::Service => self.service == Service::Any,
            Field::Accelerator => self.accelerator == Accelerator::Any,
            Field::Intent => self.intent == Intent::Any,
            Field::Os => self.os == Os::Any,
            Field::Platform => self.platform == Platform::Any,
            Field::Nodes => self.nodes == 0,
        }
    }

    /// Overlay matching, asymmetric as upstream: an open overlay field matches every
    /// query value; a concrete one matches only the same concrete value (never `any`).
    pub fn admits(&self, query: &Criteria) -> bool {
        fn one<T: PartialEq + Default>(overlay: T, query: T) -> bool {
            overlay == T::default() || overlay == query
        }
        one(self.service, query.service)
            && one(self.accelerator, query.accelerator)
            && one(self.intent, query.intent)
            && one(self.os, query.os)
            && one(self.platform, query.platform)
            && one(self.nodes, query.nodes)
    }

    /// How many fields are concrete (+1 for a node count): the overlay order key.
    pub fn specificity(&self) -> usize {
        Field::ALL.iter().filter(|f| !self.is_open(**f)).count()
    }
}

impl fmt::Display for Criteria {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "service={} accelerator={} intent={} os={} platform={} nodes={}",
            self.service, self.accelerator, self.intent, self.os, self.platform, self.nodes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_case_and_spaces_normalise() {
        assert_eq!(Service::parse(" EKS "), Ok(Service::Eks));
        assert_eq!(Service::parse("self-managed"), Ok(Service::Any));
        assert_eq!(Service::parse(""), Ok(Service::Any));
        assert_eq!(Os::parse("al2023"), Ok(Os::AmazonLinux));
        assert_eq!(Os::parse("AL2"), Ok(Os::AmazonLinux));
        assert_eq!(Accelerator::parse("Any"), Ok(Accelerator::Any));
    }

    #[test]
    fn unknown_values_name_field_value_and_allowed() {
        let err = Service::parse("lke").unwrap_err();
        assert_eq!(err.field, Field::Service);
        let text = err.to_string();
        assert!(text.contains("\"lke\""), "{text}");
        assert!(text.contains("aks, eks, gke, kind, oke, any"), "{text}");
        assert!(Platform::parse("none").is_err());
    }

    #[test]
    fn nodes_are_strict() {
        assert_eq!(parse_nodes(""), Ok(0));
        assert_eq!(parse_nodes("1000"), Ok(1000));
        assert_eq!(parse_nodes("007"), Ok(7));
        for bad in [
            "4abc",
            "-1",
            "1.5",
            "0x10",
            "+5",
            "99999999999999999999",
            "abc",
        ] {
            let err = parse_nodes(bad).unwrap_err();
            assert_eq!(err.field, Field::Nodes, "{bad}");
            assert!(err.to_string().contains(bad), "{bad}");
        }
    }

    #[test]
    fn matching_is_asymmetric() {
        let overlay = Criteria {
            service: Service::Eks,
            ..Criteria::default()
        };
        let eks = Criteria {
            service: Service::Eks,
            ..Criteria::default()
        };
        assert!(overlay.admits(&eks));
        assert!(!overlay.admits(&Criteria::default()));
        assert!(Criteria::default().admits(&eks));
        assert_eq!(overlay.specificity(), 1);
    }

    #[test]
    fn repeated_parameters_keep_their_first_value_and_accelerator_beats_gpu() {
        let parse = |pairs: &[(&str, &str)]| Criteria::from_params(pairs);
        let c = parse(&[
            ("service", "eks"),
            ("service", "gke"),
            ("nodes", "8"),
            ("nodes", "not a number"),
            ("selector", "ignored"),
        ])
        .unwrap();
        assert_eq!((c.service, c.nodes), (Service::Eks, 8));
        let accelerator = |pairs: &[(&str, &str)]| parse(pairs).unwrap().accelerator;
        assert_eq!(
            accelerator(&[("gpu", "h100"), ("accelerator", "l40")]),
            Accelerator::L40
        );
        assert_eq!(
            accelerator(&[("accelerator", ""), ("gpu", "h100"), ("gpu", "l40")]),
            Accelerator::H100
        );
        assert_eq!(
            accelerator(&[("accelerator", ""), ("accelerator", "l40")]),
            Accelerator::Any
        );
        let err = parse(&[("gpu", "h999"), ("service", "eks")]).unwrap_err();
        assert_eq!(
            (err.field, err.value.as_str()),
            (Field::Accelerator, "h999")
        );
        // A losing `gpu` is still checked; `accelerator`'s own error comes first.
        let err = parse(&[("gpu", "h999"), ("accelerator", "l40")]).unwrap_err();
        assert_eq!(err.value, "h999");
        let err = parse(&[("gpu", "h999"), ("accelerator", "v100")]).unwrap_err();
        assert_eq!(err.value, "v100");
    }

    #[test]
    fn allowed_lists_are_sorted() {
        for field in Field::ALL {
            let list = field.allowed_values();
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            assert_eq!(list, sorted.as_slice(), "{field}");
        }
    }
}

//! Bundle options, parsed from `name=value` pairs exactly as upstream's query parameters
//! (`set`, node selectors, tolerations, `workload-gate`, `workload-selector`, `deployer`,
//! `repo`, `nodes`), but with limits: everything a client sends ends up in YAML or a
//! shell script, so sizes and counts are bounded and every rejection names the
//! parameter, the value and what is allowed.

use std::collections::BTreeMap;
use std::fmt;

/// Most entries one repeatable option (`set`, a selector, a toleration) may carry.
pub const MAX_REPEATED: usize = 256;
/// Longest option value accepted.
pub const MAX_VALUE_LEN: usize = 1024;
/// Most dotted segments in a `set` path.
pub const MAX_PATH_SEGMENTS: usize = 32;
/// Largest `nodes` estimate accepted (upstream takes any int; no cluster is this big).
pub const MAX_NODES: u64 = 1_000_000;

/// The names this module understands, in the order the docs list them.
pub const OPTION_NAMES: [&str; 10] = [
    "set",
    "system-node-selector",
    "system-node-toleration",
    "accelerated-node-selector",
    "accelerated-node-toleration",
    "workload-gate",
    "workload-selector",
    "deployer",
    "repo",
    "nodes",
];

/// How the bundle deploys: scripts around `helm`, or Argo CD applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Deployer {
    #[default]
    Helm,
    ArgoCd,
}

impl Deployer {
    pub fn as_str(self) -> &'static str {
        match self {
            Deployer::Helm => "helm",
            Deployer::ArgoCd => "argocd",
        }
    }
}

/// A taint effect Kubernetes knows.
pub const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// `key[=value]:Effect`, as a toleration or a taint is written on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

impl Taint {
    /// Kubernetes' own text form: `key=value:effect`, or `key:effect` without a value.
    pub fn to_text(&self) -> String {
        if self.value.is_empty() {
            format!("{}:{}", self.key, self.effect)
        } else {
            format!("{}={}:{}", self.key, self.value, self.effect)
        }
    }
}

/// A pod toleration; `None` fields are left out of the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toleration {
    pub key: Option<String>,
    pub operator: &'static str,
    pub value: Option<String>,
    pub effect: Option<String>,
}

impl Toleration {
    /// What upstream applies when the user names none: tolerate every taint.
    fn tolerate_all() -> Toleration {
        Toleration {
            key: None,
            operator: "Exists",
            value: None,
            effect: None,
        }
    }
}

/// Why an option was refused: the parameter, and a sentence saying what is wrong and
/// what is allowed. The value itself is quoted (bounded) by the sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub parameter: &'static str,
    pub message: String,
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.parameter, self.message)
    }
}

impl std::error::Error for OptionError {}

/// Everything that shapes a bundle besides the recipe.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BundleOptions {
    /// `set`: component (name or alias) → dotted path → raw value (later entries win).
    pub set: BTreeMap<String, BTreeMap<String, String>>,
    pub system_node_selector: BTreeMap<String, String>,
    system_node_tolerations: Vec<Toleration>,
    pub accelerated_node_selector: BTreeMap<String, String>,
    accelerated_node_tolerations: Vec<Toleration>,
    pub workload_gate: Option<Taint>,
    pub workload_selector: BTreeMap<String, String>,
    pub deployer: Deployer,
    pub repo: Option<String>,
    pub nodes: u64,
    /// Entries taken so far, per repeatable option.
    repeated: BTreeMap<&'static str, usize>,
    seen_single: Vec<&'static str>,
}

/// A value shortened for an error message.
fn shown(value: &str) -> String {
    const LIMIT: usize = 80;
    if value.chars().count() <= LIMIT {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(LIMIT).collect();
        format!("{head:?}… ({} bytes)", value.len())
    }
}

impl BundleOptions {
    /// Parses every pair; a name that is not a bundle option is an error naming the
    /// allowed ones.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<BundleOptions, OptionError> {
        let mut options = BundleOptions::default();
        for (name, value) in pairs {
            if !options.accept(name, value)? {
                return Err(OptionError {
                    parameter: "query",
                    message: format!(
                        "unknown parameter {}; bundle options are {}",
                        shown(name),
                        OPTION_NAMES.join(", ")
                    ),
                });
            }
        }
        Ok(options)
    }

    /// Takes one pair. `Ok(false)` when `name` is not a bundle option (the caller may
    /// know it, e.g. recipe criteria on `GET /v1/bundle`).
    pub fn accept(&mut self, name: &str, value: &str) -> Result<bool, OptionError> {
        let Some(parameter) = OPTION_NAMES.iter().copied().find(|n| *n == name) else {
            return Ok(false);
        };
        let fail = |message: String| OptionError { parameter, message };
        if value.len() > MAX_VALUE_LEN {
            return Err(fail(format!(
                "a value may be at most {MAX_VALUE_LEN} bytes, this one has {}",
                value.len()
            )));
        }
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            return Err(fail(format!(
                "control characters (here {c:?}) are not allowed in {}",
                shown(value)
            )));
        }
        match parameter {
            "set"
            | "system-node-selector"
            | "system-node-toleration"
            | "accelerated-node-selector"
            | "accelerated-node-toleration"
            | "workload-selector" => {
                let taken = self.repeated.entry(parameter).or_default();
                *taken += 1;
                if *taken > MAX_REPEATED {
                    return Err(fail(format!(
                        "at most {MAX_REPEATED} values of {parameter} per bundle"
                    )));
                }
            }
            single => {
                // Upstream reads the first value of a single-valued option; a second one
                // is ignored there, so it is refused here rather than silently dropped.
                if self.seen_single.contains(&single) {
                    return Err(fail("may be given only once".to_owned()));
                }
                self.seen_single.push(single);
            }
        }
        match parameter {
            "set" => {
                let (component, path, value) = parse_set(value).map_err(fail)?;
                self.set
                    .entry(component)
                    .or_default()
                    .insert(path, value.to_owned());
            }
            "system-node-selector" => {
                let (k, v) = parse_selector(value).map_err(fail)?;
                self.system_node_selector.insert(k, v);
            }
            "accelerated-node-selector" => {
                let (k, v) = parse_selector(value).map_err(fail)?;
                self.accelerated_node_selector.insert(k, v);
            }
            "workload-selector" => {
                let (k, v) = parse_selector(value).map_err(fail)?;
                self.workload_selector.insert(k, v);
            }
            "system-node-toleration" => {
                let t = parse_taint(value, false).map_err(fail)?;
                self.system_node_tolerations.push(toleration_of(t));
            }
            "accelerated-node-toleration" => {
                let t = parse_taint(value, false).map_err(fail)?;
                self.accelerated_node_tolerations.push(toleration_of(t));
            }
            "workload-gate" => {
                if !value.is_empty() {
                    self.workload_gate = Some(parse_taint(value, true).map_err(fail)?);
                }
            }
            "deployer" => {
                self.deployer = match value.trim().to_ascii_lowercase().as_str() {
                    "" | "helm" => Deployer::Helm,
                    "argocd" => Deployer::ArgoCd,
                    _ => {
                        return Err(fail(format!(
                            "unknown deployer {}; use helm or argocd",
                            shown(value)
                        )));
                    }
                }
            }
            "repo" => {
                if !value.is_empty() {
                    crate::safety::check_url(value).map_err(fail)?;
                    self.repo = Some(value.to_owned());
                }
            }
            "nodes" => {
                if !value.is_empty() {
                    self.nodes = parse_nodes(value).map_err(fail)?;
                }
            }
            _ => unreachable!("every name in OPTION_NAMES is handled"),
        }
        Ok(true)
    }

    /// System-pool tolerations: the user's, or "tolerate everything" when none were given
    /// (upstream's default).
    pub fn system_node_tolerations(&self) -> Vec<Toleration> {
        or_tolerate_all(&self.system_node_tolerations)
    }

    /// Accelerated-pool tolerations, with the same default.
    pub fn accelerated_node_tolerations(&self) -> Vec<Toleration> {
        or_tolerate_all(&self.accelerated_node_tolerations)
    }
}

fn or_tolerate_all(given: &[Toleration]) -> Vec<Toleration> {
    if given.is_empty() {
        vec![Toleration::tolerate_all()]
    } else {
        given.to_vec()
    }
}

/// `component:dotted.path=value`.
fn parse_set(raw: &str) -> Result<(String, String, &str), String> {
    let expected = || format!("{} is not component:path=value", shown(raw));
    let (component, rest) = raw.split_once(':').ok_or_else(expected)?;
    let (path, value) = rest.split_once('=').ok_or_else(expected)?;
    if component.is_empty() || path.is_empty() || value.is_empty() {
        return Err(format!(
            "{}: the component, the path and the value must all be non-empty",
            shown(raw)
        ));
    }
    let segments = path.split('.').count();
    if segments > MAX_PATH_SEGMENTS {
        return Err(format!(
            "the path {} has {segments} segments; at most {MAX_PATH_SEGMENTS} are allowed",
            shown(path)
        ));
    }
    Ok((component.to_owned(), path.to_owned(), value))
}

/// `key=value` (a label selector entry).
fn parse_selector(raw: &str) -> Result<(String, String), String> {
    let (k, v) = raw
        .split_once('=')
        .ok_or_else(|| format!("{} is not key=value", shown(raw)))?;
    if k.is_empty() {
        return Err(format!("{}: the key must not be empty", shown(raw)));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// `key=value:Effect` or `key:Effect`. A taint needs a key; a toleration may leave it
/// empty (then it matches every key).
fn parse_taint(raw: &str, key_required: bool) -> Result<Taint, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let [head, effect] = parts.as_slice() else {
        return Err(format!(
            "{} is not key=value:Effect or key:Effect",
            shown(raw)
        ));
    };
    let (key, value) = head.split_once('=').unwrap_or((head, ""));
    if key_required && key.is_empty() {
        return Err(format!("{}: the key must not be empty", shown(raw)));
    }
    if !EFFECTS.contains(effect) {
        return Err(format!(
            "unknown effect {}; use one of {}",
            shown(effect),
            EFFECTS.join(", ")
        ));
    }
    Ok(Taint {
        key: key.to_owned(),
        value: value.to_owned(),
        effect: (*effect).to_owned(),
    })
}

fn toleration_of(t: Taint) -> Toleration {
    let has_value = !t.value.is_empty();
    Toleration {
        key: Some(t.key).filter(|k| !k.is_empty()),
        operator: if has_value { "Equal" } else { "Exists" },
        value: Some(t.value).filter(|v| !v.is_empty()),
        effect: Some(t.effect),
    }
}

fn parse_nodes(raw: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "{} is not a node count; use a whole number from 0 (unset) to {MAX_NODES}",
            shown(raw)
        )
    };
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match digits.parse::<u64>() {
        Ok(n) if n <= MAX_NODES => Ok(n),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<BundleOptions, OptionError> {
        BundleOptions::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn set_splits_on_the_first_colon_and_equals() {
        let o = parse(&[("set", "gpuoperator:driver.version=570.1:x=y")]).unwrap();
        assert_eq!(o.set["gpuoperator"]["driver.version"], "570.1:x=y");
    }

    #[test]
    fn set_without_a_component_is_refused_with_the_format() {
        let e = parse(&[("set", "gpu-operator-driver.version")]).unwrap_err();
        assert_eq!(e.parameter, "set");
        assert!(e.message.contains("component:path=value"), "{e}");
        assert!(parse(&[("set", "a:b=")]).is_err());
        assert!(parse(&[("set", ":b=1")]).is_err());
    }

    #[test]
    fn tolerations_default_to_tolerate_all_and_parse_both_forms() {
        let o = parse(&[]).unwrap();
        assert_eq!(
            o.system_node_tolerations(),
            vec![Toleration::tolerate_all()]
        );
        let o = parse(&[
            ("accelerated-node-toleration", "nvidia.com/gpu:NoSchedule"),
            ("accelerated-node-toleration", "dedicated=gpu:NoExecute"),
        ])
        .unwrap();
        let t = o.accelerated_node_tolerations();
        assert_eq!(t[0].operator, "Exists");
        assert_eq!(t[1].operator, "Equal");
        assert_eq!(t[1].value.as_deref(), Some("gpu"));
    }

    #[test]
    fn a_bad_effect_names_the_allowed_ones() {
        let e = parse(&[("system-node-toleration", "dedicated=system:Sometimes")]).unwrap_err();
        assert_eq!(e.parameter, "system-node-toleration");
        assert!(
            e.message
                .contains("NoSchedule, PreferNoSchedule, NoExecute"),
            "{e}"
        );
    }

    #[test]
    fn nodes_must_be_a_bounded_whole_number() {
        assert_eq!(parse(&[("nodes", "8")]).unwrap().nodes, 8);
        for bad in ["-1", "1.5", "x", "99999999999999999999999", "1000001"] {
            let e = parse(&[("nodes", bad)]).unwrap_err();
            assert_eq!(e.parameter, "nodes", "{bad}");
        }
    }

    #[test]
    fn deployer_is_helm_or_argocd() {
        assert_eq!(
            parse(&[("deployer", "ArgoCD")]).unwrap().deployer,
            Deployer::ArgoCd
        );
        let e = parse(&[("deployer", "flux")]).unwrap_err();
        assert!(e.message.contains("helm or argocd"));
    }

    #[test]
    fn unknown_names_repeats_and_sizes_are_refused() {
        assert!(
            parse(&[("colour", "red")])
                .unwrap_err()
                .message
                .contains("set, ")
        );
        assert!(parse(&[("deployer", "helm"), ("deployer", "argocd")]).is_err());
        let many: Vec<(&str, &str)> = (0..=MAX_REPEATED).map(|_| ("set", "a:b=c")).collect();
        assert!(parse(&many).is_err());
        // The bound is per option: a full `set` leaves room for every selector.
        let full: Vec<(&str, &str)> = (0..MAX_REPEATED)
            .flat_map(|_| [("set", "a:b=c"), ("workload-selector", "k=v")])
            .collect();
        assert!(parse(&full).is_ok());
        let long = "a".repeat(MAX_VALUE_LEN + 1);
        assert!(parse(&[("repo", long.as_str())]).is_err());
        assert!(parse(&[("workload-selector", "a=b\nc")]).is_err());
    }

    #[test]
    fn workload_gate_needs_a_key() {
        let o = parse(&[(
            "workload-gate",
            "skyhook.nvidia.com=runtime-required:NoSchedule",
        )])
        .unwrap();
        assert_eq!(
            o.workload_gate.unwrap().to_text(),
            "skyhook.nvidia.com=runtime-required:NoSchedule"
        );
        assert!(parse(&[("workload-gate", "=x:NoSchedule")]).is_err());
    }
}

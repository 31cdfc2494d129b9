//! Feature flags with per-tenant percentage rollout, so an operator can turn a part of the
//! API on for some callers before all (or off for some after a problem) without a new
//! build. They are read at start from `AICR_FLAGS_FILE` (a JSON file, e.g. a mounted
//! ConfigMap) or `AICR_FLAGS` (the same JSON inline), never both, and applied by
//! [`FlagsLayer`] inside the stack, where the caller is known ([`Principal`]).
//!
//! | flag | default | when on | when off |
//! |---|---|---|---|
//! | `v2-api` | 100 | `/v2/…` is served | `/v2/…` answers the 404 problem of a path that is not served |
//! | `bundles` | 100 | `/v1/bundle` and `/v2/bundle` are served | both answer 404 (v1's error body, v2's problem) |
//! | `server-timing` | 0 | answers carry `Server-Timing: app;dur=<ms>` (the time inside the stack) | no such header |
//!
//! The document maps flag names to a rollout, `{"percent": P, "tenants": {"name": P}}`
//! (or just `P`): `percent` (0–100, two decimals) applies to every caller, a tenant's own
//! entry replaces it for that tenant. Whether a caller is in is decided by a stable hash of
//! the flag's name and the caller (the tenant's name, or for callers without a key the
//! client address the rate limits use): the same caller always gets the same answer, and
//! raising a percentage only adds callers. Unknown flags, unknown tenants and percentages
//! out of range are refused at start.

use crate::config::{Vars, invalid};
use aicr_api::{ApiError, ErrorCode};
use aicr_stack::{BoxFuture, Policy, Principal};
use http::header::HeaderValue;
use http::{Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

/// The flags this server knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    V2Api = 0,
    Bundles = 1,
    ServerTiming = 2,
}

impl Flag {
    pub const ALL: [Flag; 3] = [Flag::V2Api, Flag::Bundles, Flag::ServerTiming];

    pub fn name(self) -> &'static str {
        match self {
            Flag::V2Api => "v2-api",
            Flag::Bundles => "bundles",
            Flag::ServerTiming => "server-timing",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Flag::V2Api => "serve /v2/recipe, /v2/query and /v2/bundle (off: 404 problem)",
            Flag::Bundles => "serve /v1/bundle and /v2/bundle (off: 404)",
            Flag::ServerTiming => "add Server-Timing: app;dur=<ms> to answers",
        }
    }

    /// Percent of callers, in hundredths, when the document does not name the flag.
    fn default_basis_points(self) -> u32 {
        match self {
            Flag::V2Api | Flag::Bundles => FULL,
            Flag::ServerTiming => 0,
        }
    }
}

/// 100 % in hundredths of a percent.
const FULL: u32 = 10_000;

/// One flag's rollout: the share of callers in, per tenant where the document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    basis_points: u32,
    tenants: BTreeMap<String, u32>,
}

impl Rollout {
    /// Whether the caller is in; `caller` is only computed when the answer depends on it.
    fn includes(&self, flag: Flag, tenant: Option<&str>, caller: impl FnOnce() -> String) -> bool {
        let share = tenant
            .and_then(|t| self.tenants.get(t))
            .copied()
            .unwrap_or(self.basis_points);
        match share {
            0 => false,
            FULL => true,
            share => bucket(flag, &caller()) < share,
        }
    }
}

/// The caller's place in `[0, 10000)` for `flag`: stable across restarts and hosts.
fn bucket(flag: Flag, caller: &str) -> u32 {
    let digest = Sha256::new()
        .chain_update(b"aicr-flag\0")
        .chain_update(flag.name())
        .chain_update(b"\0")
        .chain_update(caller)
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(FULL)) as u32
}

/// Every flag's rollout, and where it was read from.
#[derive(Debug, Clone)]
pub struct Flags {
    /// By flag, in [`Flag::ALL`]'s order.
    rollouts: [Rollout; 3],
    source: &'static str,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RolloutDoc {
    Percent(f64),
    Full {
        percent: Option<f64>,
        #[serde(default)]
        tenants: BTreeMap<String, f64>,
    },
}

const EXPECTED: &str = "a JSON object of flags (v2-api, bundles, server-timing), each \
    {\"percent\": 0-100, \"tenants\": {\"<tenant>\": 0-100}} or a bare percentage";

fn basis_points(variable: &str, value: f64) -> Result<u32, aicr_api::ConfigError> {
    if !(0.0..=100.0).contains(&value) {
        return Err(invalid(
            variable,
            value.to_string(),
            "a percentage from 0 to 100",
        ));
    }
    Ok((value * 100.0).round() as u32)
}

impl Flags {
    /// Every flag at its default.
    pub fn defaults() -> Flags {
        Flags {
            rollouts: Flag::ALL.map(|f| Rollout {
                basis_points: f.default_basis_points(),
                tenants: BTreeMap::new(),
            }),
            source: "defaults",
        }
    }

    /// Reads `AICR_FLAGS_FILE` or `AICR_FLAGS`; tenant names are checked against `policy`.
    pub fn from_vars(vars: &Vars, policy: &Policy) -> Result<Flags, aicr_api::ConfigError> {
        let file = vars.get("AICR_FLAGS_FILE").filter(|v| !v.trim().is_empty());
        let inline = vars.get("AICR_FLAGS").filter(|v| !v.trim().is_empty());
        let (variable, text) = match (file, inline) {
            (None, None) => return Ok(Flags::defaults()),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "AICR_FLAGS",
                    "(set, as is AICR_FLAGS_FILE)",
                    "one source of flags: AICR_FLAGS_FILE or AICR_FLAGS, not both",
                ));
            }
            (Some(path), None) => {
                let text = std::fs::read_to_string(path.trim()).map_err(|e| {
                    invalid(
                        "AICR_FLAGS_FILE",
                        path.as_str(),
                        format!("a readable JSON file of flags ({e})"),
                    )
                })?;
                ("AICR_FLAGS_FILE", text)
            }
            (None, Some(text)) => ("AICR_FLAGS", text),
        };
        Flags::parse(variable, &text, policy)
    }

    fn parse(
        variable: &'static str,
        text: &str,
        policy: &Policy,
    ) -> Result<Flags, aicr_api::ConfigError> {
        let doc: BTreeMap<String, RolloutDoc> = serde_json::from_str(text).map_err(|e| {
            invalid(
                variable,
                format!("(line {}, column {})", e.line(), e.column()),
                format!("{EXPECTED} ({e})"),
            )
        })?;
        let mut flags = Flags::defaults();
        flags.source = variable;
        for (name, entry) in doc {
            let Some(flag) = Flag::ALL.into_iter().find(|f| f.name() == name) else {
                return Err(invalid(variable, name, EXPECTED));
            };
            let slot = &mut flags.rollouts[flag as usize];
            let at = |field: &str| format!("{variable}: {name}.{field}");
            let (percent, tenants) = match entry {
                RolloutDoc::Percent(p) => (Some(p), BTreeMap::new()),
                RolloutDoc::Full { percent, tenants } => (percent, tenants),
            };
            if let Some(p) = percent {
                slot.basis_points = basis_points(&at("percent"), p)?;
            }
            for (tenant, p) in tenants {
                if !policy.tenants().iter().any(|t| t.name == tenant) {
                    return Err(invalid(
                        &at("tenants"),
                        tenant,
                        "the name of a tenant in AICR_TENANTS",
                    ));
                }
                let share = basis_points(&at(&format!("tenants.{tenant}")), p)?;
                slot.tenants.insert(tenant, share);
            }
        }
        Ok(flags)
    }

    fn rollout(&self, flag: Flag) -> &Rollout {
        &self.rollouts[flag as usize]
    }

    /// What `GET /admin/flags` answers.
    pub fn describe(&self) -> Value {
        let flags: Vec<Value> = Flag::ALL
            .iter()
            .zip(&self.rollouts)
            .map(|(flag, rollout)| {
                json!({
                    "name": flag.name(),
                    "description": flag.description(),
                    "default": f64::from(flag.default_basis_points()) / 100.0,
                    "percent": f64::from(rollout.basis_points) / 100.0,
                    "tenants": rollout.tenants.iter()
                        .map(|(t, p)| (t.clone(), json!(f64::from(*p) / 100.0)))
                        .collect::<serde_json::Map<_, _>>(),
                })
            })
            .collect();
        json!({ "source": self.source, "flags": flags })
    }
}

/// Applies [`Flags`] to every request, inside the stack's authentication.
#[derive(Clone)]
pub struct FlagsLayer {
    flags: Arc<Flags>,
    policy: Arc<Policy>,
}

impl FlagsLayer {
    pub fn new(flags: Arc<Flags>, policy: Arc<Policy>) -> FlagsLayer {
        FlagsLayer { flags, policy }
    }
}

impl<S> Layer<S> for FlagsLayer {
    type Service = Flagged<S>;
    fn layer(&self, inner: S) -> Flagged<S> {
        Flagged {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Flagged<S> {
    inner: S,
    layer: FlagsLayer,
}

impl<S> Flagged<S> {
    fn includes<B>(&self, flag: Flag, request: &Request<B>) -> bool {
        let tenant = match request.extensions().get::<Principal>() {
            Some(Principal::Tenant(name)) => Some(&**name),
            _ => None,
        };
        self.layer
            .flags
            .rollout(flag)
            .includes(flag, tenant, || match tenant {
                Some(name) => format!("tenant:{name}"),
                None => match aicr_stack::client::client_ip(request, &self.layer.policy) {
                    Some(ip) => format!("ip:{ip}"),
                    None => "ip:unknown".to_owned(),
                },
            })
    }
}

/// The 404 of a path that is switched off for this caller: what the API answers for a
/// path it does not serve (a problem under `/v2`).
fn not_served(request: &Request<Vec<u8>>) -> Response<Vec<u8>> {
    let error = ApiError::new(ErrorCode::NotFound, "No such route")
        .detail("path", aicr_api::truncate(request.uri().path()));
    aicr_stack::error_response(request, error)
}

impl<S> Service<Request<Vec<u8>>> for Flagged<S>
where
    S: Service<Request<Vec<u8>>, Response = Response<Vec<u8>>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Vec<u8>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Vec<u8>>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Vec<u8>>) -> Self::Future {
        let path = request.uri().path();
        let gated = if aicr_api::is_v2_path(path) {
            Some(Flag::V2Api)
        } else {
            None
        };
        let bundle = matches!(aicr_api::route_template(path), "/v1/bundle" | "/v2/bundle");
        let hidden = gated.is_some_and(|f| !self.includes(f, &request))
            || (bundle && !self.includes(Flag::Bundles, &request));
        if hidden {
            let response = not_served(&request);
            return Box::pin(async move { Ok(response) });
        }
        let timing = self
            .includes(Flag::ServerTiming, &request)
            .then(Instant::now);
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            if let Some(started) = timing {
                let ms = started.elapsed().as_secs_f64() * 1e3;
                if let Ok(value) = HeaderValue::from_str(&format!("app;dur={ms:.3}")) {
                    response.headers_mut().insert("server-timing", value);
                }
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(tenants: &[&str]) -> Policy {
        let list: Vec<String> = tenants
            .iter()
            .map(|t| format!("{{\"name\":\"{t}\"}}"))
            .collect();
        let doc = format!("{{\"tenants\":[{}]}}", list.join(","));
        Policy::from_vars(|k| (k == "AICR_TENANTS").then(|| doc.clone())).unwrap()
    }

    fn flags(doc: &str, tenants: &[&str]) -> Result<Flags, aicr_api::ConfigError> {
        Flags::parse("AICR_FLAGS", doc, &policy(tenants))
    }

    #[test]
    fn documents_parse_and_refuse_with_the_field_named() {
        let f = flags(
            r#"{"bundles": {"percent": 12.5, "tenants": {"acme": 100}}, "server-timing": 3}"#,
            &["acme"],
        )
        .unwrap();
        assert_eq!(f.rollout(Flag::Bundles).basis_points, 1250);
        assert_eq!(f.rollout(Flag::Bundles).tenants["acme"], FULL);
        assert_eq!(f.rollout(Flag::ServerTiming).basis_points, 300);
        assert_eq!(f.rollout(Flag::V2Api).basis_points, FULL, "default kept");
        assert_eq!(f.describe()["flags"][1]["percent"], 12.5);

        let err = flags(r#"{"bundels": 5}"#, &[]).unwrap_err();
        assert_eq!(
            (err.variable.as_str(), err.value.as_str()),
            ("AICR_FLAGS", "bundels")
        );
        let err = flags(r#"{"bundles": {"percent": 101}}"#, &[]).unwrap_err();
        assert_eq!(err.variable, "AICR_FLAGS: bundles.percent");
        let err = flags(r#"{"bundles": {"tenants": {"nobody": 5}}}"#, &["acme"]).unwrap_err();
        assert_eq!(err.variable, "AICR_FLAGS: bundles.tenants");
        let err = flags("[1]", &[]).unwrap_err();
        assert!(err.value.contains("line 1"), "{err}");
        let both = Vars::of(&[("AICR_FLAGS", "{}"), ("AICR_FLAGS_FILE", "/f.json")]);
        assert_eq!(
            Flags::from_vars(&both, &policy(&[])).unwrap_err().variable,
            "AICR_FLAGS"
        );
        let missing = Vars::of(&[("AICR_FLAGS_FILE", "/nonexistent/flags.json")]);
        assert_eq!(
            Flags::from_vars(&missing, &policy(&[]))
                .unwrap_err()
                .variable,
            "AICR_FLAGS_FILE"
        );
    }

    #[test]
    fn rollout_is_stable_monotonic_and_near_its_share() {
        let half = Rollout {
            basis_points: 5000,
            tenants: BTreeMap::new(),
        };
        let callers: Vec<String> = (0..2000).map(|i| format!("tenant:t{i}")).collect();
        let inside: Vec<bool> = callers
            .iter()
            .map(|c| half.includes(Flag::Bundles, None, || c.clone()))
            .collect();
        let count = inside.iter().filter(|i| **i).count();
        assert!((900..1100).contains(&count), "{count} of 2000 at 50 %");
        let more = Rollout {
            basis_points: 7000,
            ..half.clone()
        };
        for (caller, was_in) in callers.iter().zip(&inside) {
            assert_eq!(
                half.includes(Flag::Bundles, None, || caller.clone()),
                *was_in
            );
            if *was_in {
                assert!(more.includes(Flag::Bundles, None, || caller.clone()));
            }
        }
        // Independent per flag: not the same half for another flag.
        let other = callers
            .iter()
            .zip(&inside)
            .filter(|(c, i)| half.includes(Flag::V2Api, None, || (*c).clone()) != **i)
            .count();
        assert!(other > 500, "{other}");
    }
}

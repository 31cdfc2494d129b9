//! Response formats: JSON (upstream's, compact with a trailing newline) or YAML, chosen by
//! the `format` parameter, else by `Accept` with q-values (RFC 9110 §12.5.1), else JSON;
//! and which parser a request body's `Content-Type` selects. Media types and `Accept`
//! lists are parsed by the `mediatype` crate (quoted parameters, case, whitespace); the
//! choice between our two formats is the only logic here.

use crate::errors::{ApiError, ErrorCode, truncate};
use mediatype::{MediaType, MediaTypeList, ReadParams, names};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

/// What a request body's `Content-Type` says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyType {
    Json,
    Yaml,
    /// Another type, or a header that is not a media type.
    Other,
}

impl BodyType {
    /// JSON when absent; YAML for the YAML types, JSON for JSON types, else `Other`.
    pub fn of(content_type: &str) -> BodyType {
        let content_type = content_type.trim();
        if content_type.is_empty() {
            return BodyType::Json;
        }
        match MediaType::parse(content_type) {
            Ok(media) if Format::Yaml.is_named_by(&media) => BodyType::Yaml,
            Ok(media) if Format::Json.is_named_by(&media) => BodyType::Json,
            _ => BodyType::Other,
        }
    }
}

/// How one format fares against an `Accept` header: the q-value (thousandths) of the most
/// specific member that matches it, that specificity, and that member's position.
#[derive(Debug, Clone, Copy)]
struct Preference {
    q: u16,
    specificity: u8,
    position: usize,
}

/// RFC 9110 §12.4.2 `qvalue` in thousandths (`0` to `0.999`, `1` to `1.000`); `None` when
/// malformed.
fn qvalue(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = (0..3).fold(0u16, |t, i| {
        t * 10 + frac.as_bytes().get(i).map_or(0, |d| u16::from(d - b'0'))
    });
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Yaml => "application/yaml",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Yaml => "yaml",
        }
    }

    /// The media types (type, subtype) that name this format; the first is the one sent.
    fn names(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Format::Json => &[("application", "json")],
            Format::Yaml => &[
                ("application", "yaml"),
                ("application", "x-yaml"),
                ("text", "yaml"),
            ],
        }
    }

    /// Whether a concrete media type names this format. JSON also answers to any `+json`
    /// type (upstream's clients send `application/vnd.nvidia.aicr.v2+json`).
    fn is_named_by(self, media: &MediaType<'_>) -> bool {
        let suffix = media.suffix.map(|s| s.as_str());
        if self == Format::Json && suffix.is_some_and(|s| s.eq_ignore_ascii_case("json")) {
            return true;
        }
        suffix.is_none()
            && self.names().iter().any(|(ty, subty)| {
                media.ty.as_str().eq_ignore_ascii_case(ty)
                    && media.subty.as_str().eq_ignore_ascii_case(subty)
            })
    }

    /// How specifically an `Accept` member names this format: 2 for one of its types, 1 for
    /// its `type/*`, 0 for `*/*`, `None` when it does not match.
    fn specificity(self, range: &MediaType<'_>) -> Option<u8> {
        let ty = range.ty.as_str();
        match (ty == "*", range.subty.as_str() == "*") {
            (true, true) => Some(0),
            // `*/subtype` is not a media range.
            (true, false) => None,
            (false, true) => self
                .names()
                .iter()
                .any(|(t, _)| t.eq_ignore_ascii_case(ty))
                .then_some(1),
            (false, false) => self.is_named_by(range).then_some(2),
        }
    }

    /// How this format fares against `accept`, if any member matches it. The most
    /// specific matching member decides (RFC 9110 §12.5.1: `application/yaml;q=0, */*`
    /// excludes YAML); malformed members, and members with a malformed `q`, are ignored.
    fn preference(self, accept: &str) -> Option<Preference> {
        let mut best: Option<Preference> = None;
        for (position, member) in MediaTypeList::new(accept).enumerate() {
            let Ok(range) = member else { continue };
            let Some(specificity) = self.specificity(&range) else {
                continue;
            };
            let q = match range.get_param(names::Q) {
                None => 1000,
                Some(q) => match qvalue(&q.unquoted_str()) {
                    Some(q) => q,
                    None => continue,
                },
            };
            let better = best.is_none_or(|b| {
                specificity > b.specificity || (specificity == b.specificity && q > b.q)
            });
            if better {
                best = Some(Preference {
                    q,
                    specificity,
                    position,
                });
            }
        }
        best
    }

    /// The format of an answer. `format=json|yaml` wins. Otherwise `Accept` decides: the
    /// format with the higher q-value, then the one named more specifically, then the one
    /// named first; a q-value of 0 excludes a format. JSON is the default, also when
    /// `Accept` excludes both (upstream had no YAML output and never answers 406).
    pub fn negotiate(param: Option<&str>, accept: Option<&str>) -> Result<Format, ApiError> {
        if let Some(p) = param.filter(|p| !p.trim().is_empty()) {
            return match p.trim().to_ascii_lowercase().as_str() {
                "json" => Ok(Format::Json),
                "yaml" | "yml" => Ok(Format::Yaml),
                _ => Err(ApiError::bad_request("Invalid format parameter")
                    .detail("parameter", "format")
                    .detail("value", truncate(p))
                    .detail("allowed", ["json", "yaml"])),
            };
        }
        let accept = accept.unwrap_or("");
        let acceptable = |format: Format| format.preference(accept).filter(|p| p.q > 0);
        let rank = |p: Preference| (p.q, p.specificity, std::cmp::Reverse(p.position));
        Ok(match (acceptable(Format::Json), acceptable(Format::Yaml)) {
            (Some(json), Some(yaml)) if rank(yaml) > rank(json) => Format::Yaml,
            (None, Some(_)) => Format::Yaml,
            _ => Format::Json,
        })
    }

    pub fn render<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, ApiError> {
        let internal = |e: String| {
            ApiError::new(ErrorCode::Internal, "Failed to render the response").detail("error", e)
        };
        match self {
            Format::Json => {
                let mut out = serde_json::to_vec(value).map_err(|e| internal(e.to_string()))?;
                out.push(b'\n');
                Ok(out)
            }
            Format::Yaml => serde_norway::to_string(value)
                .map(String::into_bytes)
                .map_err(|e| internal(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(Format::negotiate(None, None).unwrap(), Format::Json);
        assert_eq!(Format::negotiate(None, Some("*/*")).unwrap(), Format::Json);
        assert_eq!(
            Format::negotiate(None, Some("application/yaml")).unwrap(),
            Format::Yaml
        );
        assert_eq!(
            Format::negotiate(None, Some("application/json, text/yaml")).unwrap(),
            Format::Json
        );
        assert_eq!(
            Format::negotiate(Some("YAML"), Some("application/json")).unwrap(),
            Format::Yaml
        );
        assert!(Format::negotiate(Some("xml"), None).is_err());
        assert_eq!(
            Format::negotiate(None, Some("text/*")).unwrap(),
            Format::Yaml
        );
        assert_eq!(
            Format::negotiate(None, Some("application/*, text/yaml;q=0.5")).unwrap(),
            Format::Json
        );
        assert_eq!(
            Format::negotiate(None, Some("*/json, application/yaml")).unwrap(),
            Format::Yaml
        );
        assert_eq!(
            Format::negotiate(None, Some("text/html; x=\"a,application/json\", text/yaml"))
                .unwrap(),
            Format::Yaml
        );
    }

    #[test]
    fn qvalues_follow_the_grammar() {
        for (text, q) in [
            ("0", 0),
            ("0.", 0),
            ("0.5", 500),
            ("0.125", 125),
            ("1", 1000),
            ("1.000", 1000),
        ] {
            assert_eq!(qvalue(text), Some(q), "{text}");
        }
        for text in [
            "", "1.5", "2", "0.1234", "-0", "+1", ".5", "0.a", "1.001", "01",
        ] {
            assert_eq!(qvalue(text), None, "{text}");
        }
    }

    #[test]
    fn body_types() {
        assert_eq!(BodyType::of(""), BodyType::Json);
        assert_eq!(
            BodyType::of("Application/JSON; charset=utf-8"),
            BodyType::Json
        );
        assert_eq!(BodyType::of("application/merge-patch+json"), BodyType::Json);
        assert_eq!(BodyType::of("text/yaml; charset=utf-8"), BodyType::Yaml);
        assert_eq!(BodyType::of("application/x-yaml"), BodyType::Yaml);
        assert_eq!(BodyType::of("text/plain"), BodyType::Other);
        assert_eq!(BodyType::of("not a type"), BodyType::Other);
    }
}

//! Response formats: JSON (upstream's, compact with a trailing newline) or YAML, chosen by
//! the `format` parameter or else the `Accept` header.

use crate::errors::{ApiError, ErrorCode, truncate};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

const YAML_TYPES: [&str; 3] = ["application/yaml", "application/x-yaml", "text/yaml"];

/// The media type of a header value, lower-cased, parameters dropped.
pub fn media_type(header: &str) -> String {
    header
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub fn is_yaml(media: &str) -> bool {
    YAML_TYPES.contains(&media)
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

    /// `format=json|yaml` wins; otherwise YAML when `Accept` names a YAML type before any
    /// JSON type (upstream had no YAML output, so JSON stays the default).
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
        for item in accept.unwrap_or("").split(',') {
            let media = media_type(item);
            if is_yaml(&media) {
                return Ok(Format::Yaml);
            }
            if media == "application/json" || media.ends_with("+json") {
                return Ok(Format::Json);
            }
        }
        Ok(Format::Json)
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
    }
}

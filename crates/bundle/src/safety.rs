//! Nothing a client sends may escape into a path, a shell command or YAML structure.
//!
//! Two walls, each enough alone: every recipe string that reaches a file name or a script
//! is checked against a narrow character set here (a refusal names the field, the value
//! and what is allowed), and every string that reaches a script is single-quoted by
//! [`sh`] all the same. YAML is only ever written by a serializer, never by pasting text.

/// Single-quotes `s` for POSIX shells: the result is one word whatever `s` contains.
pub fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn shown(value: &str) -> String {
    let head: String = value.chars().take(80).collect();
    if head.len() == value.len() {
        format!("{value:?}")
    } else {
        format!("{head:?}…")
    }
}

/// A Kubernetes-style name (DNS-1123 label): also a safe directory name and release name.
pub fn check_name(value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a valid name: use 1–63 lowercase letters, digits and '-', starting and ending with a letter or digit",
            shown(value)
        ))
    }
}

/// A token such as a chart name, version, tag or repository path.
pub fn check_token(value: &str) -> Result<(), String> {
    let ok = value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-/@".contains(&b))
        && !value.split('/').any(|seg| seg == "..")
        && !value.starts_with(['-', '/']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not allowed: use letters, digits and . _ + - / @ (at most 253, no '..' segment, not starting with '-' or '/')",
            shown(value)
        ))
    }
}

/// A chart repository or Git URL: `https://`, `http://` or `oci://`, and only the
/// characters URLs are made of, without shell or YAML metacharacters.
pub fn check_url(value: &str) -> Result<(), String> {
    let scheme_ok = ["https://", "http://", "oci://"]
        .iter()
        .any(|s| value.starts_with(s) && value.len() > s.len());
    let chars_ok = value.len() <= 512
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#[]@%+,=".contains(&b));
    if scheme_ok && chars_ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a usable URL: use https://, http:// or oci://, at most 512 characters, no spaces, quotes or shell characters",
            shown(value)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_one_word() {
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("it's"), r"'it'\''s'");
        assert_eq!(sh("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn names_tokens_and_urls_refuse_hostile_text() {
        for bad in ["", "../x", "a/b", "A", "a b", "-a", "a;b", "$(x)", "`x`"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name("k8s-ephemeral-storage-metrics").is_ok());
        for bad in [
            "../../etc",
            "/etc/passwd",
            "a b",
            "-rf",
            "$x",
            "a'b",
            "a\nb",
        ] {
            assert!(check_token(bad).is_err(), "{bad}");
        }
        assert!(check_token("v25.10.1").is_ok());
        assert!(check_token("nvidia/nvsentinel").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "https://x y",
            "https://x/$(id)",
            "https://a'b",
            "file:///etc",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_url("oci://ghcr.io/nvidia/kai-scheduler").is_ok());
        assert!(check_url("https://github.com/example/gitops.git").is_ok());
    }
}

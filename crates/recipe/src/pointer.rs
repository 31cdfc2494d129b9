//! RFC 6901 JSON Pointers, and the `/v2/query` selection they drive.
//!
//! v1's selector splits on `.`, so it can neither reach a key that contains a dot
//! (`nvidia.com/gpu`, `node-role.kubernetes.io/control-plane`: everyday Helm values keys)
//! nor index a list (tolerations, constraints, the deployment order). A JSON Pointer names
//! every location of a JSON document with two escapes (`~0` is `~`, `~1` is `/`), and
//! clients have libraries for it. The document it selects in is the `/v2` recipe
//! document (the `RecipeResult`, see [`crate::output`]) with each component reference's
//! merged Helm `values` added, so the pointers [`crate::provenance`] reports are valid
//! selectors too.
//!
//! Parsing is strict (a pointer that is not one is the client's error, and says where);
//! a pointer that parses but names nothing is [`Unresolved`], which says how far it got,
//! which token failed and what was there instead.

use crate::resolve::Recipe;
use crate::values::{LayeredNode, Layers, MissingValuesFile};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// A parsed JSON Pointer: its reference tokens, unescaped. Empty: the whole document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pointer {
    tokens: Vec<String>,
}

/// Why a string is not a JSON Pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PointerError {
    /// Neither empty nor starting with `/`. `fragment`: it starts with `#`, the URI
    /// fragment form of RFC 6901 §6, which is not accepted here.
    NoLeadingSlash { fragment: bool },
    /// A `~` at byte `at` that is not followed by `0` or `1`; `found` is what follows it.
    BadEscape { at: usize, found: String },
}

impl fmt::Display for PointerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointerError::NoLeadingSlash { fragment: true } => f.write_str(
                "the URI fragment form (\"#/...\") is not accepted: send the pointer itself \
                 (\"/...\"), percent-encoded in a query string",
            ),
            PointerError::NoLeadingSlash { fragment: false } => f.write_str(
                "a JSON Pointer (RFC 6901) is empty (the whole document) or starts with \"/\", \
                 e.g. /componentRefs/0/values/driver/version; dotted selectors are /v1/query's",
            ),
            PointerError::BadEscape { at, found } => write!(
                f,
                "\"~\" at byte {at} must be followed by \"0\" (for \"~\") or \"1\" (for \"/\"), \
                 found {found:?}"
            ),
        }
    }
}

impl std::error::Error for PointerError {}

/// One reference token escaped for a pointer: `~` as `~0`, `/` as `~1`.
pub fn escape(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

impl Pointer {
    /// Parses the JSON String form of a pointer (RFC 6901 §5).
    pub fn parse(text: &str) -> Result<Pointer, PointerError> {
        if text.is_empty() {
            return Ok(Pointer::default());
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(PointerError::NoLeadingSlash {
                fragment: text.starts_with('#'),
            });
        };
        for (at, _) in text.match_indices('~') {
            let next = text[at + 1..].chars().next();
            if !matches!(next, Some('0' | '1')) {
                return Err(PointerError::BadEscape {
                    at,
                    found: next.map(String::from).unwrap_or_default(),
                });
            }
        }
        // `~1` first, then `~0`: `~01` is the token `~1`, not `/` (RFC 6901 §4).
        let tokens = rest
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        Ok(Pointer { tokens })
    }

    /// The reference tokens, unescaped.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_text(&self.tokens))
    }
}

/// The pointer text of `tokens`.
fn to_text(tokens: &[String]) -> String {
    tokens.iter().map(|t| format!("/{}", escape(t))).collect()
}

/// What stopped a pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The object there has no such key; `available` are its keys, sorted.
    NoSuchKey { available: Vec<String> },
    /// A list is there, and the token is not an index (`0`, or digits without a leading
    /// zero). `len` is the list's length.
    NotAnIndex { len: usize },
    /// An index at or past the end of a list of `len` elements.
    OutOfRange { len: usize },
    /// `-`, which RFC 6901 reserves for the element after the last one: it never exists
    /// in a document being read.
    PastTheEnd { len: usize },
    /// A string, number, boolean or null is there: nothing to descend into.
    Leaf { kind: &'static str },
}

/// A pointer that parses but names no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The pointer to the deepest location that exists: where the walk stopped.
    pub at: String,
    /// The token that could not be followed from there (unescaped).
    pub token: String,
    pub reason: Reason,
}

fn place(at: &str) -> String {
    if at.is_empty() {
        "the document root".to_owned()
    } else {
        format!("{at:?}")
    }
}

fn indexes(len: usize) -> String {
    match len {
        0 => "it is empty".to_owned(),
        1 => "it has 1 element (index 0)".to_owned(),
        n => format!("it has {n} elements (indexes 0 to {})", n - 1),
    }
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (at, token) = (place(&self.at), &self.token);
        match &self.reason {
            Reason::NoSuchKey { available } if available.is_empty() => {
                write!(f, "no key {token:?} at {at}: the object there is empty")
            }
            Reason::NoSuchKey { available } => write!(
                f,
                "no key {token:?} at {at}; its keys: {}",
                available.join(", ")
            ),
            Reason::NotAnIndex { len } => write!(
                f,
                "{token:?} is not an index into the list at {at} (use 0 or a number without \
                 leading zeros); {}",
                indexes(*len)
            ),
            Reason::OutOfRange { len } => write!(
                f,
                "index {token} is out of range for the list at {at}; {}",
                indexes(*len)
            ),
            Reason::PastTheEnd { len } => write!(
                f,
                "\"-\" names the element after the last one of the list at {at}, which never \
                 exists in a document being read; {}",
                indexes(*len)
            ),
            Reason::Leaf { kind } => write!(
                f,
                "the value at {at} is {kind}, which has no members to select {token:?} from"
            ),
        }
    }
}

/// Why a `/v2/query` selection has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// The pointer names no value.
    Unresolved(Unresolved),
    /// A values file is missing (impossible for a validated catalog).
    Values(MissingValuesFile),
    /// The recipe could not be turned into a JSON document (impossible: every key is a string).
    Encode(String),
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectError::Unresolved(u) => u.fmt(f),
            SelectError::Values(e) => e.fmt(f),
            SelectError::Encode(e) => write!(f, "the recipe cannot be encoded as JSON: {e}"),
        }
    }
}

impl std::error::Error for SelectError {}

impl From<MissingValuesFile> for SelectError {
    fn from(e: MissingValuesFile) -> Self {
        SelectError::Values(e)
    }
}

/// The position `token` names in a list of `len` elements (RFC 6901 §4: `0` or digits
/// without a leading zero).
fn list_index(token: &str, len: usize) -> Result<usize, Reason> {
    if token == "-" {
        return Err(Reason::PastTheEnd { len });
    }
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return Err(Reason::NotAnIndex { len });
    }
    // Too many digits for a usize is out of range too.
    match token.parse::<usize>() {
        Ok(i) if i < len => Ok(i),
        _ => Err(Reason::OutOfRange { len }),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// One step down from `value`.
fn step<'v>(value: &'v Value, token: &str) -> Result<&'v Value, Reason> {
    match value {
        Value::Object(m) => m.get(token).ok_or_else(|| Reason::NoSuchKey {
            available: m.keys().cloned().collect(),
        }),
        Value::Array(list) => list_index(token, list.len()).map(|i| &list[i]),
        leaf => Err(Reason::Leaf {
            kind: kind_of(leaf),
        }),
    }
}

/// The failure at `tokens[depth]`.
fn unresolved(tokens: &[String], depth: usize, reason: Reason) -> SelectError {
    SelectError::Unresolved(Unresolved {
        at: to_text(&tokens[..depth]),
        token: tokens[depth].clone(),
        reason,
    })
}

/// Follows `tokens[from..]` from `value`.
fn walk<'v>(
    mut value: &'v Value,
    tokens: &[String],
    from: usize,
) -> Result<&'v Value, SelectError> {
    for (depth, token) in tokens.iter().enumerate().skip(from) {
        value = step(value, token).map_err(|reason| unresolved(tokens, depth, reason))?;
    }
    Ok(value)
}

/// Follows `tokens[from..]` inside a component's layered values (`tokens[from - 1]` is
/// `values`), merging only what the answer contains.
fn walk_values(layers: &Layers<'_>, tokens: &[String], from: usize) -> Result<Value, SelectError> {
    let Some(first) = tokens.get(from) else {
        return Ok(Value::Object(layers.to_value()));
    };
    let root = layers.root();
    let mut node = root.child(first).ok_or_else(|| {
        let available = root.keys().into_iter().map(str::to_owned).collect();
        unresolved(tokens, from, Reason::NoSuchKey { available })
    })?;
    for depth in from + 1..tokens.len() {
        node = match &node {
            LayeredNode::Leaf(value) => return walk(value, tokens, depth).cloned(),
            LayeredNode::Maps(_) => node.child(&tokens[depth]).ok_or_else(|| {
                let available = node.keys().into_iter().map(str::to_owned).collect();
                unresolved(tokens, depth, Reason::NoSuchKey { available })
            })?,
        };
    }
    Ok(node.to_value())
}

impl<'c> Recipe<'c> {
    /// The value at `pointer` in the `/v2` query document: the `RecipeResult` document
    /// with a `values` member (the merged Helm values, `{}` when there are none) in every
    /// component reference. A pointer into one component's values merges only the layers
    /// on its path; other pointers hydrate only the values the answer contains.
    pub fn select(&self, pointer: &Pointer) -> Result<Value, SelectError> {
        let tokens = pointer.tokens();
        let component = |token: &str| list_index(token, self.components.len()).ok();
        if let [refs, index, values, ..] = tokens
            && refs == "componentRefs"
            && values == "values"
            && let Some(i) = component(index)
        {
            let layers = Layers::of(self.catalog, &self.components[i])?;
            return walk_values(&layers, tokens, 3);
        }
        let hydrate = match tokens {
            [] => 0..self.components.len(),
            [refs] if refs == "componentRefs" => 0..self.components.len(),
            [refs, index] if refs == "componentRefs" => match component(index) {
                Some(i) => i..i + 1,
                None => 0..0,
            },
            _ => 0..0,
        };
        let mut document =
            serde_json::to_value(self).map_err(|e| SelectError::Encode(e.to_string()))?;
        if let Some(refs) = document
            .get_mut("componentRefs")
            .and_then(Value::as_array_mut)
        {
            for i in hydrate {
                let values = self.values_of(&self.components[i])?;
                if let Some(entry) = refs.get_mut(i).and_then(Value::as_object_mut) {
                    entry.insert("values".to_owned(), Value::Object(values));
                }
            }
        }
        if tokens.is_empty() {
            return Ok(document);
        }
        walk(&document, tokens, 0).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        Pointer::parse(text).unwrap().tokens().to_vec()
    }

    #[test]
    fn parses_rfc_6901_examples() {
        assert_eq!(tokens(""), Vec::<String>::new());
        assert_eq!(tokens("/"), [""]);
        assert_eq!(tokens("/foo/0"), ["foo", "0"]);
        assert_eq!(tokens("/a~1b"), ["a/b"]);
        assert_eq!(tokens("/m~0n"), ["m~n"]);
        assert_eq!(tokens("/~01"), ["~1"]);
        assert_eq!(tokens("/a.b/c d"), ["a.b", "c d"]);
        assert_eq!(tokens("//x/"), ["", "x", ""]);
    }

    #[test]
    fn rejects_what_is_not_a_pointer() {
        assert_eq!(
            Pointer::parse("components.x"),
            Err(PointerError::NoLeadingSlash { fragment: false })
        );
        assert_eq!(
            Pointer::parse("#/a"),
            Err(PointerError::NoLeadingSlash { fragment: true })
        );
        assert_eq!(
            Pointer::parse("/a~2"),
            Err(PointerError::BadEscape {
                at: 2,
                found: "2".into()
            })
        );
        assert_eq!(
            Pointer::parse("/a/b~"),
            Err(PointerError::BadEscape {
                at: 4,
                found: String::new()
            })
        );
        assert_eq!(
            Pointer::parse("/~é"),
            Err(PointerError::BadEscape {
                at: 1,
                found: "é".into()
            })
        );
    }

    #[test]
    fn escape_round_trips() {
        for token in ["plain", "a/b", "m~n", "~1", "/~", ""] {
            let text = format!("/{}", escape(token));
            assert_eq!(tokens(&text), [token], "{text}");
            assert_eq!(Pointer::parse(&text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn list_indexes_follow_the_grammar() {
        assert_eq!(list_index("0", 3), Ok(0));
        assert_eq!(list_index("2", 3), Ok(2));
        assert_eq!(list_index("3", 3), Err(Reason::OutOfRange { len: 3 }));
        assert_eq!(
            list_index("99999999999999999999999", 3),
            Err(Reason::OutOfRange { len: 3 })
        );
        for bad in ["01", "00", "", "+1", "-1", "1.0", " 1", "x"] {
            assert_eq!(
                list_index(bad, 3),
                Err(Reason::NotAnIndex { len: 3 }),
                "{bad}"
            );
        }
        assert_eq!(list_index("-", 3), Err(Reason::PastTheEnd { len: 3 }));
    }

    #[test]
    fn walks_objects_lists_and_stops_at_leaves() {
        let doc = serde_json::json!({"a": [{"b.c": 1}], "s": "x", "": {"/": 2}});
        let at = |p: &str| walk(&doc, &tokens(p), 0).cloned();
        assert_eq!(at("/a/0/b.c").unwrap(), 1);
        assert_eq!(at("//~1").unwrap(), 2);
        let Err(SelectError::Unresolved(u)) = at("/s/t") else {
            panic!("a string has no members")
        };
        assert_eq!((u.at.as_str(), u.token.as_str()), ("/s", "t"));
        assert_eq!(u.reason, Reason::Leaf { kind: "a string" });
        let Err(SelectError::Unresolved(u)) = at("/a/1") else {
            panic!("out of range")
        };
        assert_eq!(
            u.to_string(),
            "index 1 is out of range for the list at \"/a\"; it has 1 element (index 0)"
        );
        let Err(SelectError::Unresolved(u)) = at("/nope") else {
            panic!("missing key")
        };
        assert_eq!(
            u.to_string(),
            "no key \"nope\" at the document root; its keys: , a, s"
        );
    }
}

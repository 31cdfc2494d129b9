//! # aicr-helm-template — the catalog's manifest templates, rendered
//!
//! Upstream AICR's bundler runs every `components/<name>/manifests/*.yaml` file of the catalog
//! through Go's `text/template` before writing it into a bundle (`pkg/manifest/render.go` at
//! v0.11.1). This crate does the same, purely: no I/O, clock or randomness, so it runs
//! unchanged natively and on `wasm32-unknown-unknown` / `wasm32-wasip2`.
//!
//! ## Why our own evaluator
//!
//! The manifests use a small part of the language: text and actions, trim markers, comments,
//! field chains, variables, `if`/`else`, pipelines and a handful of functions. The Go-template
//! crates on crates.io either pull in a wider runtime than the wasm size budget wants or do
//! not reproduce the details that decide the output here: `<no value>` for a missing key,
//! `%v` printing of floats (`1e+06`), `and`/`or` returning an operand, Go's error cases. A
//! parser and evaluator written against that subset is a few hundred lines, has one
//! dependency beyond `serde_json` (`serde_norway`, for `toYaml`), and is tested differentially
//! against the bundles upstream produced.
//!
//! ## Data (as upstream)
//!
//! - `.Values` is a map with one key, the component name, whose value is the component's
//!   merged values: templates read `index .Values "gpu-operator"`.
//! - `.Release.Namespace` is the component namespace, `.Release.Service` is `Helm`.
//! - `.Chart.Name` and `.Chart.Version` (the caller strips a leading `v`, defaulting to
//!   `0.1.0`, as upstream's `NormalizeVersionWithDefault` does).
//!
//! ## Language (Go's semantics)
//!
//! Text; `{{ }}` actions with `{{-` / `-}}` trimming; `{{/* comments */}}`; `.a.b`, `$`,
//! `$x.a.b` and `(pipeline).a` chains; `$x := …` (block-scoped) and `$x = …`; `if` / `else
//! if` / `else` / `end`; `with` (and `else with`); `range` over lists and maps (keys sorted)
//! with none, one or two variables, and `else`; pipelines `a | f b`; string (both quotings),
//! number, `true`/`false`/`nil` constants. A missing map key gives `<no value>` (printed
//! as such), and a field of it is again `<no value>`; a field of an explicit `null` is an
//! error, as in Go.
//!
//! Functions are exactly those upstream's renderer offers that the catalog can use: Go's
//! builtins `and`, `or` (short-circuit, returning an operand), `not`, `eq`, `ne`, `index`,
//! and upstream's `helmFuncMap`: `default` (replaces only nil and `""`, unlike Helm's),
//! `toString` (`fmt`'s `%v`), `toYaml` (no trailing newline) and `nindent`. Helm's other
//! functions (`indent`, `quote`, …) are *not* in upstream's map, so a template using them
//! fails upstream; they fail to parse here too, so the catalog cannot drift from what upstream
//! can render. Go builtins the catalog has no use for (`printf`, `len`, `lt`, …) and
//! `define`/`template`/`block`/`break`/`continue` are refused with an error naming them.
//! Integers in values print without a decimal point; floats print as `%v` does.

mod eval;
mod lex;
mod parse;
mod value;

use std::fmt;

use serde_json::{Map, Value as Json};

use crate::value::{Struct, V};

/// A parsed template, reusable for any number of renders.
#[derive(Debug)]
pub struct Template {
    nodes: Vec<parse::Node>,
}

/// The chart data a manifest sees besides its values.
#[derive(Debug, Clone, Copy)]
pub struct Chart<'a> {
    /// The component name: the single key of `.Values`.
    pub component: &'a str,
    /// `.Release.Namespace`.
    pub namespace: &'a str,
    /// `.Chart.Name`.
    pub chart_name: &'a str,
    /// `.Chart.Version`, without a leading `v`.
    pub chart_version: &'a str,
}

/// Why a template did not parse or render: where (1-based line and column of the action or
/// operand at fault) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    line: u32,
    column: u32,
    message: String,
}

impl TemplateError {
    fn new(line: u32, column: u32, message: String) -> Self {
        TemplateError {
            line,
            column,
            message,
        }
    }

    /// 1-based line of the fault.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// 1-based column (in characters) of the fault.
    pub fn column(&self) -> u32 {
        self.column
    }

    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "template line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for TemplateError {}

/// The functions a template may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    And,
    Or,
    Not,
    Eq,
    Ne,
    Index,
    Default,
    ToString,
    ToYaml,
    Nindent,
}

const FUNCS: [(&str, Func); 10] = [
    ("and", Func::And),
    ("or", Func::Or),
    ("not", Func::Not),
    ("eq", Func::Eq),
    ("ne", Func::Ne),
    ("index", Func::Index),
    ("default", Func::Default),
    ("toString", Func::ToString),
    ("toYaml", Func::ToYaml),
    ("nindent", Func::Nindent),
];

/// Go builtins upstream has but this renderer leaves out (the catalog does not use them).
const UNSUPPORTED_BUILTINS: [&str; 13] = [
    "call", "html", "js", "len", "print", "printf", "println", "slice", "urlquery", "lt", "le",
    "gt", "ge",
];

impl Func {
    /// The function called `name`, or why there is none.
    pub(crate) fn lookup(name: &str) -> Result<Func, String> {
        if let Some((_, f)) = FUNCS.iter().find(|(n, _)| *n == name) {
            Ok(*f)
        } else if UNSUPPORTED_BUILTINS.contains(&name) {
            Err(format!(
                "function \"{name}\" is a Go template builtin this renderer does not support"
            ))
        } else {
            Err(format!("function \"{name}\" not defined"))
        }
    }

    pub(crate) fn name(self) -> &'static str {
        FUNCS
            .iter()
            .find_map(|(n, f)| (*f == self).then_some(*n))
            .unwrap_or("?")
    }
}

/// Parses a template.
pub fn parse(source: &str) -> Result<Template, TemplateError> {
    Ok(Template {
        nodes: parse::parse(lex::lex(source)?)?,
    })
}

impl Template {
    /// Renders the template for one component: `values` are its merged values.
    pub fn render(
        &self,
        chart: &Chart<'_>,
        values: &Map<String, Json>,
    ) -> Result<String, TemplateError> {
        let mut top = Map::new();
        top.insert(chart.component.to_owned(), Json::Object(values.clone()));
        let root = V::Struct(Struct::Root {
            values: &top,
            chart,
        });
        let mut exec = eval::Exec::new(root.clone());
        exec.nodes(&self.nodes, &root)?;
        Ok(exec.out)
    }
}

/// Parses and renders in one go.
pub fn render(
    source: &str,
    chart: &Chart<'_>,
    values: &Map<String, Json>,
) -> Result<String, TemplateError> {
    parse(source)?.render(chart, values)
}

/// Whether a rendered manifest holds anything but blank lines, `#` comments and `---`
/// separators; upstream leaves a manifest out of the bundle when it does not.
pub fn has_objects(rendered: &str) -> bool {
    rendered.split('\n').any(|line| {
        let line = line.trim();
        !(line.is_empty() || line.starts_with('#') || line == "---")
    })
}

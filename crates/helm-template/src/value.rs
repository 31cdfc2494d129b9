//! Values as Go's `text/template` sees upstream's data: the component values are
//! `map[string]any` decoded from YAML (so integers are `int`, fractions `float64`), and the
//! root, `.Release` and `.Chart` are structs. Printing follows `fmt`'s `%v`.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Map, Number, Value as Json};

use crate::Chart;

/// One value during evaluation. Borrowed from the render's data wherever possible.
#[derive(Debug, Clone)]
pub(crate) enum V<'a> {
    /// Go's invalid `reflect.Value`: a missing map key, or what `index` finds for one.
    /// Printed as `<no value>`; field access on it gives it again.
    NoValue,
    /// An explicit `null` (a nil `interface{}`); field access on it is an error.
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(Cow<'a, str>),
    List(&'a [Json]),
    Map(&'a Map<String, Json>),
    Struct(Struct<'a>),
}

/// The three Go structs of upstream's template data.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Struct<'a> {
    /// `.` at the top: `Values`, `Release`, `Chart`.
    Root {
        values: &'a Map<String, Json>,
        chart: &'a Chart<'a>,
    },
    /// `.Release`: `Namespace`, `Service`.
    Release(&'a Chart<'a>),
    /// `.Chart`: `Name`, `Version`.
    Chart(&'a Chart<'a>),
}

/// What upstream's `.Release.Service` always is.
const SERVICE: &str = "Helm";

impl<'a> Struct<'a> {
    fn fields(self) -> Vec<(&'static str, V<'a>)> {
        match self {
            Struct::Root { values, chart } => vec![
                ("Values", V::Map(values)),
                ("Release", V::Struct(Struct::Release(chart))),
                ("Chart", V::Struct(Struct::Chart(chart))),
            ],
            Struct::Release(chart) => vec![
                ("Namespace", V::Str(Cow::Borrowed(chart.namespace))),
                ("Service", V::Str(Cow::Borrowed(SERVICE))),
            ],
            Struct::Chart(chart) => vec![
                ("Name", V::Str(Cow::Borrowed(chart.chart_name))),
                ("Version", V::Str(Cow::Borrowed(chart.chart_version))),
            ],
        }
    }

    pub(crate) fn field(self, name: &str) -> Option<V<'a>> {
        self.fields()
            .into_iter()
            .find_map(|(n, v)| (n == name).then_some(v))
    }

    pub(crate) fn go_type(self) -> &'static str {
        match self {
            Struct::Root { .. } => "manifest.templateData",
            Struct::Release(_) => "manifest.releaseData",
            Struct::Chart(_) => "manifest.chartData",
        }
    }
}

impl<'a> V<'a> {
    pub(crate) fn from_json(j: &'a Json) -> V<'a> {
        match j {
            Json::Null => V::Null,
            Json::Bool(b) => V::Bool(*b),
            Json::Number(n) => number(n),
            Json::String(s) => V::Str(Cow::Borrowed(s)),
            Json::Array(a) => V::List(a),
            Json::Object(m) => V::Map(m),
        }
    }

    pub(crate) fn is_nil(&self) -> bool {
        matches!(self, V::NoValue | V::Null)
    }

    /// Go's `template.IsTrue`.
    pub(crate) fn truthy(&self) -> bool {
        match self {
            V::NoValue | V::Null => false,
            V::Bool(b) => *b,
            V::Int(i) => *i != 0,
            V::Uint(u) => *u != 0,
            V::Float(f) => *f != 0.0,
            V::Str(s) => !s.is_empty(),
            V::List(l) => !l.is_empty(),
            V::Map(m) => !m.is_empty(),
            V::Struct(_) => true,
        }
    }

    /// The Go type name, for error messages.
    pub(crate) fn go_type(&self) -> &'static str {
        match self {
            V::NoValue | V::Null => "nil",
            V::Bool(_) => "bool",
            V::Int(_) => "int",
            V::Uint(_) => "uint64",
            V::Float(_) => "float64",
            V::Str(_) => "string",
            V::List(_) => "[]interface {}",
            V::Map(_) => "map[string]interface {}",
            V::Struct(s) => s.go_type(),
        }
    }

    /// What an action prints (`fmt.Fprint` after text/template's nil check).
    pub(crate) fn print(&self) -> Cow<'a, str> {
        match self {
            V::NoValue | V::Null => Cow::Borrowed("<no value>"),
            V::Str(s) => s.clone(),
            other => Cow::Owned(other.to_go_string()),
        }
    }

    /// `fmt.Sprintf("%v", v)`, which is upstream's `toString`.
    pub(crate) fn to_go_string(&self) -> String {
        let mut out = String::new();
        self.write_go(&mut out);
        out
    }

    fn write_go(&self, out: &mut String) {
        match self {
            V::NoValue | V::Null => out.push_str("<nil>"),
            V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            V::Int(i) => {
                let _ = write!(out, "{i}");
            }
            V::Uint(u) => {
                let _ = write!(out, "{u}");
            }
            V::Float(f) => out.push_str(&go_float(*f)),
            V::Str(s) => out.push_str(s),
            V::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    V::from_json(item).write_go(out);
                }
                out.push(']');
            }
            V::Map(map) => {
                out.push_str("map[");
                for (i, (k, v)) in sorted(map).into_iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    V::from_json(v).write_go(out);
                }
                out.push(']');
            }
            V::Struct(s) => {
                out.push('{');
                for (i, (_, v)) in s.fields().into_iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_go(out);
                }
                out.push('}');
            }
        }
    }

    /// The value as data, for `toYaml`. Struct fields are lower-cased, as yaml.v3 names them.
    pub(crate) fn to_json(&self) -> Json {
        match self {
            V::NoValue | V::Null => Json::Null,
            V::Bool(b) => Json::Bool(*b),
            V::Int(i) => Json::from(*i),
            V::Uint(u) => Json::from(*u),
            V::Float(f) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
            V::Str(s) => Json::String(s.to_string()),
            V::List(l) => Json::Array(l.to_vec()),
            V::Map(m) => Json::Object((*m).clone()),
            V::Struct(s) => Json::Object(
                s.fields()
                    .into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// A JSON number as YAML decoding gives it to Go: whole numbers are `int`, others `float64`.
fn number(n: &Number) -> V<'static> {
    if let Some(i) = n.as_i64() {
        V::Int(i)
    } else if let Some(u) = n.as_u64() {
        V::Uint(u)
    } else {
        V::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Map entries in Go's printing and ranging order (sorted keys).
pub(crate) fn sorted(map: &Map<String, Json>) -> Vec<(&String, &Json)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// `%v` of a float64: the shortest digits that round-trip, in exponent form when the decimal
/// exponent is below -4 or at least 6 (`1e+06`, `1.5e-05`), plain otherwise (`123456`, `0.25`).
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let sci = format!("{f:e}"); // e.g. "-1.0000005e6", shortest round-trip digits
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if f != 0.0 && !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        format!("{f}")
    }
}

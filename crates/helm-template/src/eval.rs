//! Executes a parsed template against upstream's data model, with Go's rules: truthiness,
//! short-circuit `and`/`or` returning an operand, `<no value>` for missing keys, block-scoped
//! variables, sorted map iteration, and errors (not panics) for bad arguments.

use std::borrow::Cow;

use crate::lex::Pos;
use crate::parse::{Arg, Cmd, Node, Pipe};
use crate::value::{V, sorted};
use crate::{Func, TemplateError};

/// `nindent` refuses pads wider than this rather than allocate without bound.
const MAX_INDENT: i64 = 1 << 16;

pub(crate) struct Exec<'a> {
    /// Variables in scope, innermost last; the first is `$`, the root.
    vars: Vec<(&'a str, V<'a>)>,
    pub(crate) out: String,
}

impl<'a> Exec<'a> {
    pub(crate) fn new(root: V<'a>) -> Self {
        Exec {
            vars: vec![("", root)],
            out: String::new(),
        }
    }

    pub(crate) fn nodes(&mut self, nodes: &'a [Node], dot: &V<'a>) -> Result<(), TemplateError> {
        for node in nodes {
            let mark = self.vars.len();
            match node {
                Node::Text(text) => self.out.push_str(text),
                Node::Action(pipe) => {
                    let value = self.pipe(pipe, dot)?;
                    if pipe.vars.is_empty() {
                        self.out.push_str(&value.print());
                    }
                    // A declaration stays in scope for the rest of the enclosing list.
                    continue;
                }
                Node::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    if self.pipe(cond, dot)?.truthy() {
                        self.nodes(then, dot)?;
                    } else {
                        self.nodes(otherwise, dot)?;
                    }
                }
                Node::With {
                    value,
                    then,
                    otherwise,
                } => {
                    let value = self.pipe(value, dot)?;
                    if value.truthy() {
                        self.nodes(then, &value)?;
                    } else {
                        self.nodes(otherwise, dot)?;
                    }
                }
                Node::Range {
                    value,
                    body,
                    otherwise,
                } => self.range(value, body, otherwise, dot)?,
            }
            self.vars.truncate(mark);
        }
        Ok(())
    }

    fn range(
        &mut self,
        pipe: &'a Pipe,
        body: &'a [Node],
        otherwise: &'a [Node],
        dot: &V<'a>,
    ) -> Result<(), TemplateError> {
        let value = self.cmds(&pipe.cmds, dot)?;
        let items: Vec<(V<'a>, V<'a>)> = match value {
            V::NoValue | V::Null => Vec::new(),
            V::List(list) => list
                .iter()
                .enumerate()
                .map(|(i, v)| (V::Int(i as i64), V::from_json(v)))
                .collect(),
            V::Map(map) => sorted(map)
                .into_iter()
                .map(|(k, v)| (V::Str(Cow::Borrowed(k.as_str())), V::from_json(v)))
                .collect(),
            other => {
                return Err(pipe
                    .pos
                    .error(format!("range can't iterate over {}", other.to_go_string())));
            }
        };
        if items.is_empty() {
            return self.nodes(otherwise, dot);
        }
        for (key, elem) in items {
            let mark = self.vars.len();
            match pipe.vars.as_slice() {
                [v] => self.vars.push((v, elem.clone())),
                [k, v] => {
                    self.vars.push((k, key));
                    self.vars.push((v, elem.clone()));
                }
                _ => {}
            }
            self.nodes(body, &elem)?;
            self.vars.truncate(mark);
        }
        Ok(())
    }

    /// Evaluates a pipeline and performs its declaration or assignment.
    fn pipe(&mut self, pipe: &'a Pipe, dot: &V<'a>) -> Result<V<'a>, TemplateError> {
        let value = self.cmds(&pipe.cmds, dot)?;
        if let Some(name) = pipe.vars.first() {
            if pipe.assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    slot.1 = value.clone();
                }
            } else {
                self.vars.push((name, value.clone()));
            }
        }
        Ok(value)
    }

    fn cmds(&mut self, cmds: &'a [Cmd], dot: &V<'a>) -> Result<V<'a>, TemplateError> {
        let mut piped = None;
        for cmd in cmds {
            piped = Some(self.cmd(cmd, dot, piped)?);
        }
        Ok(piped.unwrap_or(V::NoValue))
    }

    fn cmd(
        &mut self,
        cmd: &'a Cmd,
        dot: &V<'a>,
        piped: Option<V<'a>>,
    ) -> Result<V<'a>, TemplateError> {
        let Some(((first, pos), rest)) = cmd.args.split_first() else {
            return Err(cmd.pos.error("empty command"));
        };
        match first {
            Arg::Func(f) => self.call(*f, rest, piped, dot, *pos),
            Arg::Nil => Err(pos.error("nil is not a command")),
            _ if !rest.is_empty() || piped.is_some() => {
                Err(pos.error("can't give argument to non-function"))
            }
            _ => self.arg(first, *pos, dot),
        }
    }

    fn arg(&mut self, arg: &'a Arg, pos: Pos, dot: &V<'a>) -> Result<V<'a>, TemplateError> {
        match arg {
            Arg::Field(fields) => walk(dot.clone(), fields, pos),
            Arg::Var(name, fields) => {
                let value = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| pos.error(format!("undefined variable \"${name}\"")))?;
                walk(value, fields, pos)
            }
            Arg::Sub(pipe, fields) => {
                let value = self.cmds(&pipe.cmds, dot)?;
                walk(value, fields, pos)
            }
            Arg::Func(f) => self.call(*f, &[], None, dot, pos),
            Arg::Str(s) => Ok(V::Str(Cow::Borrowed(s))),
            Arg::Int(i) => Ok(V::Int(*i)),
            Arg::Float(f) => Ok(V::Float(*f)),
            Arg::Bool(b) => Ok(V::Bool(*b)),
            Arg::Nil => Ok(V::Null),
        }
    }

    fn call(
        &mut self,
        func: Func,
        args: &'a [(Arg, Pos)],
        piped: Option<V<'a>>,
        dot: &V<'a>,
        pos: Pos,
    ) -> Result<V<'a>, TemplateError> {
        let count = args.len() + usize::from(piped.is_some());
        let arity = |want: usize| {
            if count == want {
                Ok(())
            } else {
                Err(pos.error(format!(
                    "wrong number of args for {}: want {want} got {count}",
                    func.name()
                )))
            }
        };
        if let Func::And | Func::Or = func {
            if count == 0 {
                return Err(pos.error(format!(
                    "wrong number of args for {}: want at least 1 got 0",
                    func.name()
                )));
            }
            // Go evaluates lazily and returns the first deciding operand, else the last.
            let mut last = V::NoValue;
            for (arg, arg_pos) in args {
                last = self.arg(arg, *arg_pos, dot)?;
                if last.truthy() == (func == Func::Or) {
                    return Ok(last);
                }
            }
            return Ok(piped.unwrap_or(last));
        }
        let mut values = Vec::with_capacity(count);
        for (arg, arg_pos) in args {
            values.push(self.arg(arg, *arg_pos, dot)?);
        }
        values.extend(piped);
        let fail = |msg: String| pos.error(format!("error calling {}: {msg}", func.name()));
        match func {
            Func::And | Func::Or => unreachable!("handled above"),
            Func::Not => {
                arity(1)?;
                Ok(V::Bool(!values[0].truthy()))
            }
            Func::Eq => {
                let Some((first, others)) = values.split_first().filter(|(_, o)| !o.is_empty())
                else {
                    return Err(fail("missing argument for comparison".into()));
                };
                for other in others {
                    if eq(first, other).map_err(fail)? {
                        return Ok(V::Bool(true));
                    }
                }
                Ok(V::Bool(false))
            }
            Func::Ne => {
                arity(2)?;
                Ok(V::Bool(!eq(&values[0], &values[1]).map_err(fail)?))
            }
            Func::Index => {
                let mut values = values.into_iter();
                let Some(mut item) = values.next() else {
                    return Err(pos.error(
                        "wrong number of args for index: want at least 1 got 0".to_string(),
                    ));
                };
                for key in values {
                    item = index(item, &key).map_err(fail)?;
                }
                Ok(item)
            }
            Func::Default => {
                arity(2)?;
                let mut values = values.into_iter();
                let (def, val) = (values.next(), values.next());
                let (Some(def), Some(val)) = (def, val) else {
                    return Err(fail("missing arguments".into()));
                };
                let empty = val.is_nil() || matches!(&val, V::Str(s) if s.is_empty());
                Ok(if empty { def } else { val })
            }
            Func::ToString => {
                arity(1)?;
                Ok(V::Str(Cow::Owned(values[0].to_go_string())))
            }
            Func::ToYaml => {
                arity(1)?;
                // yaml.v3 cannot fail on this data; upstream prints "" if it ever did.
                let yaml = serde_norway::to_string(&values[0].to_json()).unwrap_or_default();
                let yaml = yaml.strip_suffix('\n').unwrap_or(&yaml);
                Ok(V::Str(Cow::Owned(yaml.to_owned())))
            }
            Func::Nindent => {
                arity(2)?;
                let width = match values[0] {
                    V::Int(i) => i,
                    V::Uint(u) => i64::try_from(u).unwrap_or(i64::MAX),
                    ref other => return Err(wrong_type(pos, "int", other)),
                };
                if !(0..=MAX_INDENT).contains(&width) {
                    return Err(fail(format!("indent {width} is out of range")));
                }
                let V::Str(text) = &values[1] else {
                    return Err(wrong_type(pos, "string", &values[1]));
                };
                Ok(V::Str(Cow::Owned(nindent(width as usize, text))))
            }
        }
    }
}

fn wrong_type(pos: Pos, want: &str, got: &V<'_>) -> TemplateError {
    if got.is_nil() {
        pos.error(format!("invalid value; expected {want}"))
    } else {
        pos.error(format!(
            "wrong type for value; expected {want}; got {}",
            got.go_type()
        ))
    }
}

/// Upstream's `nindent`: a newline, then every non-empty line prefixed by `width` spaces.
fn nindent(width: usize, text: &str) -> String {
    let pad = " ".repeat(width);
    let mut out = String::with_capacity(text.len() + 1);
    out.push('\n');
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

/// Follows `.a.b` steps from `value`.
fn walk<'a>(mut value: V<'a>, fields: &[String], pos: Pos) -> Result<V<'a>, TemplateError> {
    for field in fields {
        value = match value {
            V::NoValue => V::NoValue,
            V::Null => {
                return Err(pos.error(format!("nil pointer evaluating interface {{}}.{field}")));
            }
            V::Map(map) => map.get(field).map_or(V::NoValue, V::from_json),
            V::Struct(s) => s.field(field).ok_or_else(|| {
                pos.error(format!(
                    "can't evaluate field {field} in type {}",
                    s.go_type()
                ))
            })?,
            _ => {
                return Err(pos.error(format!(
                    "can't evaluate field {field} in type interface {{}}"
                )));
            }
        };
    }
    Ok(value)
}

/// Go's `eq` for two operands.
fn eq(a: &V<'_>, b: &V<'_>) -> Result<bool, String> {
    if a.is_nil() || b.is_nil() {
        return Ok(a.is_nil() && b.is_nil());
    }
    Ok(match (a, b) {
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Int(x), V::Int(y)) => x == y,
        (V::Uint(x), V::Uint(y)) => x == y,
        (V::Int(i), V::Uint(u)) | (V::Uint(u), V::Int(i)) => u64::try_from(*i) == Ok(*u),
        (V::Float(x), V::Float(y)) => x == y,
        (V::Str(x), V::Str(y)) => x == y,
        (V::List(_) | V::Map(_) | V::Struct(_), _) => {
            return Err(format!("non-comparable type {}", a.go_type()));
        }
        (_, V::List(_) | V::Map(_) | V::Struct(_)) => {
            return Err(format!("non-comparable type {}", b.go_type()));
        }
        _ => {
            return Err(format!(
                "incompatible types for comparison: {} and {}",
                a.go_type(),
                b.go_type()
            ));
        }
    })
}

/// Go's `index` for one key.
fn index<'a>(item: V<'a>, key: &V<'_>) -> Result<V<'a>, String> {
    let position = |len: usize| match key {
        V::Int(i) => usize::try_from(*i)
            .ok()
            .filter(|i| *i < len)
            .ok_or(format!("index out of range: {i}")),
        V::Uint(u) => usize::try_from(*u)
            .ok()
            .filter(|i| *i < len)
            .ok_or(format!("index out of range: {u}")),
        other => Err(format!(
            "cannot index slice/array with type {}",
            other.go_type()
        )),
    };
    match item {
        V::NoValue | V::Null => Err("index of untyped nil".into()),
        V::Map(map) => match key {
            V::Str(k) => Ok(map.get(k.as_ref()).map_or(V::NoValue, V::from_json)),
            V::NoValue | V::Null => Err("value is nil; should be string".into()),
            other => Err(format!(
                "value has type {}; should be string",
                other.go_type()
            )),
        },
        V::List(list) => Ok(V::from_json(&list[position(list.len())?])),
        other => Err(format!("can't index item of type {}", other.go_type())),
    }
}

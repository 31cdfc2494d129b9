//! Builds the tree from the lexer's items, and does Go's parse-time checks: every function is
//! known, every variable is declared before use (with Go's block scoping), control actions
//! nest, and only the first command of a pipeline may be a constant.

use crate::lex::{Item, Pos, Tok, Tokens};
use crate::{Func, TemplateError};

/// Blocks and parentheses nested deeper than this are refused, so that no input can exhaust
/// the stack of the recursive parser or evaluator.
const MAX_DEPTH: usize = 100;

#[derive(Debug)]
pub(crate) enum Node {
    Text(String),
    /// `{{ pipeline }}`: prints the value unless the pipeline declares or assigns.
    Action(Pipe),
    If {
        cond: Pipe,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        value: Pipe,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Range {
        value: Pipe,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: Pos,
    /// Variables this pipeline declares (`:=`) or assigns (`=`); two only in `range`.
    pub vars: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug)]
pub(crate) struct Cmd {
    pub pos: Pos,
    pub args: Vec<(Arg, Pos)>,
}

#[derive(Debug)]
pub(crate) enum Arg {
    /// `.a.b` on dot (empty: dot itself).
    Field(Vec<String>),
    /// `$x.a.b` (`$` has the empty name).
    Var(String, Vec<String>),
    /// `(pipeline).a.b`
    Sub(Box<Pipe>, Vec<String>),
    Func(Func),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
}

impl Arg {
    /// Constants and dot cannot take a piped value (Go: "non executable command").
    fn is_constant(&self) -> bool {
        match self {
            Arg::Str(_) | Arg::Int(_) | Arg::Float(_) | Arg::Bool(_) | Arg::Nil => true,
            Arg::Field(fields) => fields.is_empty(),
            Arg::Var(..) | Arg::Sub(..) | Arg::Func(_) => false,
        }
    }
}

/// How a list of nodes ended.
enum Stop {
    Eof,
    End(Pos),
    Else(Pos, Tokens),
}

pub(crate) struct Parser {
    items: std::vec::IntoIter<Item>,
    /// Variables in scope, innermost last; `$` is always there.
    scope: Vec<String>,
    depth: usize,
}

pub(crate) fn parse(items: Vec<Item>) -> Result<Vec<Node>, TemplateError> {
    let mut parser = Parser {
        items: items.into_iter(),
        scope: vec![String::new()],
        depth: 0,
    };
    match parser.list()? {
        (nodes, Stop::Eof) => Ok(nodes),
        (_, Stop::End(pos)) => Err(pos.error("unexpected {{end}}")),
        (_, Stop::Else(pos, _)) => Err(pos.error("unexpected {{else}}")),
    }
}

impl Parser {
    fn list(&mut self) -> Result<(Vec<Node>, Stop), TemplateError> {
        let mut nodes = Vec::new();
        while let Some(item) = self.items.next() {
            let (pos, toks) = match item {
                Item::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Item::Action { pos, toks } => (pos, toks),
            };
            let keyword = match toks.first() {
                Some((Tok::Ident(k), _)) => k.as_str(),
                _ => "",
            };
            match keyword {
                "end" => {
                    if toks.len() > 1 {
                        return Err(toks[1].1.error("unexpected token in {{end}}"));
                    }
                    return Ok((nodes, Stop::End(pos)));
                }
                "else" => return Ok((nodes, Stop::Else(pos, toks))),
                "if" | "with" | "range" => {
                    nodes.push(self.block(keyword, pos, &toks[1..])?);
                }
                "define" | "template" | "block" | "break" | "continue" => {
                    return Err(pos.error(format!(
                        "{{{{{keyword}}}}} is not supported in catalog manifests"
                    )));
                }
                _ => {
                    let pipe = self.pipe(pos, &toks, false)?;
                    if pipe.cmds.is_empty() {
                        return Err(pos.error("missing value for command"));
                    }
                    nodes.push(Node::Action(pipe));
                }
            }
        }
        Ok((nodes, Stop::Eof))
    }

    /// Parses an `if`, `with` or `range` block whose opening action's tokens after the keyword
    /// are `toks`, through its `{{end}}`.
    fn block(
        &mut self,
        keyword: &str,
        pos: Pos,
        toks: &[(Tok, Pos)],
    ) -> Result<Node, TemplateError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(pos.error("blocks nested too deeply"));
        }
        let mark = self.scope.len();
        let value = self.pipe(pos, toks, keyword == "range")?;
        if value.cmds.is_empty() {
            return Err(pos.error(format!("missing value for {keyword}")));
        }
        let (then, end) = self.list()?;
        let otherwise = match end {
            Stop::Eof => {
                return Err(pos.error(format!("unclosed {{{{{keyword}}}}}: no {{{{end}}}}")));
            }
            Stop::End(_) => Vec::new(),
            Stop::Else(else_pos, else_toks) => {
                self.else_branch(keyword, pos, else_pos, &else_toks)?
            }
        };
        self.scope.truncate(mark);
        self.depth -= 1;
        Ok(match keyword {
            "if" => Node::If {
                cond: value,
                then,
                otherwise,
            },
            "with" => Node::With {
                value,
                then,
                otherwise,
            },
            _ => Node::Range {
                value,
                body: then,
                otherwise,
            },
        })
    }

    /// The part after `{{else}}` or `{{else if …}}` / `{{else with …}}` (which, as in Go, is a
    /// nested block sharing the outer `{{end}}`), through that `{{end}}`.
    fn else_branch(
        &mut self,
        keyword: &str,
        open: Pos,
        else_pos: Pos,
        toks: &[(Tok, Pos)],
    ) -> Result<Vec<Node>, TemplateError> {
        match toks.get(1) {
            None => match self.list()? {
                (nodes, Stop::End(_)) => Ok(nodes),
                (_, Stop::Eof) => {
                    Err(open.error(format!("unclosed {{{{{keyword}}}}}: no {{{{end}}}}")))
                }
                (_, Stop::Else(pos, _)) => Err(pos.error("expected {{end}}, found {{else}}")),
            },
            Some((Tok::Ident(k), _)) if k == "if" || k == "with" => {
                // The nested block consumes the shared {{end}}.
                Ok(vec![self.block(k, else_pos, &toks[2..])?])
            }
            Some((_, pos)) => Err(pos.error("unexpected token after else")),
        }
    }

    /// Parses a pipeline with its optional declaration. `range_decl` allows `$i, $v :=`.
    fn pipe(
        &mut self,
        pos: Pos,
        toks: &[(Tok, Pos)],
        range_decl: bool,
    ) -> Result<Pipe, TemplateError> {
        let mut rest = toks;
        let mut vars = Vec::new();
        let mut assign = false;
        let decl = match toks {
            [
                (Tok::Var(a, fa), _),
                (Tok::Comma, _),
                (Tok::Var(b, fb), _),
                (op, op_pos),
                ..,
            ] if fa.is_empty() && fb.is_empty() => {
                if !range_decl || *op != Tok::Declare {
                    return Err(op_pos.error("too many declarations"));
                }
                rest = &toks[4..];
                Some(vec![a.clone(), b.clone()])
            }
            [
                (Tok::Var(a, fa), _),
                (op @ (Tok::Declare | Tok::Assign), _),
                ..,
            ] if fa.is_empty() => {
                assign = *op == Tok::Assign;
                rest = &toks[2..];
                Some(vec![a.clone()])
            }
            _ => None,
        };
        let cmds = self.cmds(rest)?;
        if let Some(names) = decl {
            if cmds.is_empty() {
                return Err(pos.error("missing value for declaration"));
            }
            for name in names {
                if assign {
                    if !self.scope.contains(&name) {
                        return Err(pos.error(format!("undefined variable \"${name}\"")));
                    }
                } else {
                    self.scope.push(name.clone());
                }
                vars.push(name);
            }
        }
        Ok(Pipe {
            pos,
            vars,
            assign,
            cmds,
        })
    }

    /// Commands separated by `|`, until the end of `toks`.
    fn cmds(&mut self, toks: &[(Tok, Pos)]) -> Result<Vec<Cmd>, TemplateError> {
        let mut cmds = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let cmd_pos = toks[i].1;
            let mut args = Vec::new();
            while i < toks.len() && toks[i].0 != Tok::Pipe {
                let (arg, next) = self.arg(toks, i)?;
                args.push((arg, toks[i].1));
                i = next;
            }
            if args.is_empty() {
                return Err(cmd_pos.error("missing command in pipeline"));
            }
            if !cmds.is_empty() && args[0].0.is_constant() {
                return Err(cmd_pos.error(format!(
                    "non executable command in pipeline stage {}",
                    cmds.len() + 1
                )));
            }
            cmds.push(Cmd { pos: cmd_pos, args });
            if i < toks.len() {
                i += 1; // the `|`
                if i == toks.len() {
                    return Err(toks[i - 1].1.error("missing command after |"));
                }
            }
        }
        Ok(cmds)
    }

    /// One operand starting at `toks[i]`; returns it and the index after it.
    fn arg(&mut self, toks: &[(Tok, Pos)], i: usize) -> Result<(Arg, usize), TemplateError> {
        let (tok, pos) = &toks[i];
        let arg = match tok {
            Tok::Field(f) => Arg::Field(f.clone()),
            Tok::Var(name, f) => {
                if !self.scope.contains(name) {
                    return Err(pos.error(format!("undefined variable \"${name}\"")));
                }
                Arg::Var(name.clone(), f.clone())
            }
            Tok::Str(s) => Arg::Str(s.clone()),
            Tok::Number(n) => {
                number(n).ok_or_else(|| pos.error(format!("bad number syntax: {n:?}")))?
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block"
                | "break" | "continue" => {
                    return Err(pos.error(format!("unexpected keyword {name:?} in operand")));
                }
                _ => Arg::Func(Func::lookup(name).map_err(|m| pos.error(m))?),
            },
            Tok::LParen => {
                // Find the matching `)`.
                let mut level = 0usize;
                let mut close = None;
                for (j, (t, _)) in toks.iter().enumerate().skip(i) {
                    match t {
                        Tok::LParen => level += 1,
                        Tok::RParen(fields) => {
                            level -= 1;
                            if level == 0 {
                                close = Some((j, fields));
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let Some((close, fields)) = close else {
                    return Err(pos.error("unclosed left paren"));
                };
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(pos.error("parentheses nested too deeply"));
                }
                let inner = &toks[i + 1..close];
                if matches!(inner.first(), Some((Tok::Var(_, f), _)) if f.is_empty())
                    && matches!(inner.get(1), Some((Tok::Declare | Tok::Assign, _)))
                {
                    return Err(pos.error("declaration inside parentheses"));
                }
                let sub = self.pipe(*pos, inner, false)?;
                self.depth -= 1;
                if sub.cmds.is_empty() {
                    return Err(pos.error("missing value in parentheses"));
                }
                return Ok((Arg::Sub(Box::new(sub), fields.clone()), close + 1));
            }
            Tok::RParen(_) => return Err(pos.error("unexpected right paren")),
            Tok::Comma => return Err(pos.error("unexpected \",\"")),
            Tok::Declare | Tok::Assign => {
                return Err(pos.error("unexpected declaration (:= or =) here"));
            }
            Tok::Pipe => return Err(pos.error("missing command before |")),
        };
        Ok((arg, i + 1))
    }
}

/// A Go numeric constant: integers (decimal, `0x`, `0o`, `0b`, with `_`) become ints, anything
/// with a fraction or exponent a float.
fn number(text: &str) -> Option<Arg> {
    let clean = text.replace('_', "");
    let (neg, digits) = match clean.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let lower = digits.to_ascii_lowercase();
    let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(p, r)| lower.strip_prefix(p).map(|d| (d, r)));
    if let Some((d, r)) = radix {
        let v = i64::from_str_radix(d, r).ok()?;
        return Some(Arg::Int(if neg { v.checked_neg()? } else { v }));
    }
    if lower.bytes().all(|b| b.is_ascii_digit()) && !lower.is_empty() {
        let v: i64 = lower.parse().ok()?;
        return Some(Arg::Int(if neg { -v } else { v }));
    }
    if !lower.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        || lower.contains(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-')))
    {
        return None;
    }
    let v: f64 = lower.parse().ok()?;
    v.is_finite()
        .then_some(Arg::Float(if neg { -v } else { v }))
}

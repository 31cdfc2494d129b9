//! Splits a template into text and actions, and an action into tokens.
//!
//! Trim markers are applied here: `{{- ` removes the whitespace before the action from the
//! preceding text, ` -}}` the whitespace after it from the following text, exactly as Go's
//! lexer does (the marker needs the blank beside the dash, so `{{-3}}` is the number -3).
//! Comments (`{{/* … */}}`, with or without trim markers) produce no item at all.

use crate::TemplateError;

/// A place in the source, 1-based, counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub(crate) fn error(self, message: impl Into<String>) -> TemplateError {
        TemplateError::new(self.line, self.column, message.into())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A function name or keyword (`if`, `end`, `true`, `nil`, …).
    Ident(String),
    /// `.` followed by zero or more `.name` steps written without blanks: `.`, `.a.b`.
    Field(Vec<String>),
    /// `$name` (`$` alone has the empty name) and the `.name` steps that follow it.
    Var(String, Vec<String>),
    Declare,
    Assign,
    Pipe,
    LParen,
    /// `)` and the `.name` steps that follow it: `(index . "a").b`.
    RParen(Vec<String>),
    Comma,
    Str(String),
    Number(String),
}

/// An action's tokens, each with where it starts.
pub(crate) type Tokens = Vec<(Tok, Pos)>;

#[derive(Debug)]
pub(crate) enum Item {
    Text(String),
    Action { pos: Pos, toks: Tokens },
}

struct Cursor<'s> {
    src: &'s str,
    at: usize,
    line: u32,
    column: u32,
}

impl<'s> Cursor<'s> {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn rest(&self) -> &'s str {
        &self.src[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    /// Advances over `n` bytes that are known to be a char boundary away.
    fn skip(&mut self, n: usize) {
        let end = self.at + n;
        while self.at < end {
            self.bump();
        }
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits `src` into items.
pub(crate) fn lex(src: &str) -> Result<Vec<Item>, TemplateError> {
    let mut cur = Cursor {
        src,
        at: 0,
        line: 1,
        column: 1,
    };
    let mut items = Vec::new();
    let mut trim_next = false;
    loop {
        let text_len = cur.rest().find("{{").unwrap_or(cur.rest().len());
        let mut text = &cur.rest()[..text_len];
        cur.skip(text_len);
        if trim_next {
            text = text.trim_start_matches(is_space);
        }
        let at_end = cur.rest().is_empty();
        let pos = cur.pos();
        let left_trim = !at_end && {
            let after = &cur.rest()[2..];
            after.starts_with('-') && after[1..].starts_with(is_space)
        };
        if left_trim {
            text = text.trim_end_matches(is_space);
        }
        if !text.is_empty() {
            items.push(Item::Text(text.to_owned()));
        }
        if at_end {
            return Ok(items);
        }
        cur.skip(if left_trim { 3 } else { 2 });
        let (toks, right_trim) = if left_trim {
            // `{{- ` must be followed by blanks; a comment may start after them.
            let blanks = cur.rest().len() - cur.rest().trim_start_matches(is_space).len();
            if cur.rest()[blanks..].starts_with("/*") {
                cur.skip(blanks);
            }
            lex_action_or_comment(&mut cur, pos)?
        } else {
            lex_action_or_comment(&mut cur, pos)?
        };
        if let Some(toks) = toks {
            items.push(Item::Action { pos, toks });
        }
        trim_next = right_trim;
    }
}

/// Right after the opening delimiter: lexes a comment (`None`) or an action's tokens, up to and
/// including the closing delimiter. Also says whether that delimiter asked to trim.
fn lex_action_or_comment(
    cur: &mut Cursor<'_>,
    open: Pos,
) -> Result<(Option<Tokens>, bool), TemplateError> {
    if cur.rest().starts_with("/*") {
        let Some(end) = cur.rest().find("*/") else {
            return Err(open.error("unclosed comment"));
        };
        cur.skip(end + 2);
        return if cur.rest().starts_with("}}") {
            cur.skip(2);
            Ok((None, false))
        } else if cur.rest().starts_with(" -}}") {
            cur.skip(4);
            Ok((None, true))
        } else {
            Err(open.error("comment ends before closing delimiter"))
        };
    }
    let mut toks = Vec::new();
    loop {
        let blank_before = cur.peek().is_some_and(is_space);
        while cur.peek().is_some_and(is_space) {
            cur.bump();
        }
        let rest = cur.rest();
        if rest.starts_with("}}") {
            cur.skip(2);
            return Ok((Some(toks), false));
        }
        if blank_before && rest.starts_with("-}}") {
            cur.skip(3);
            return Ok((Some(toks), true));
        }
        let pos = cur.pos();
        let Some(c) = cur.peek() else {
            return Err(open.error("unclosed action"));
        };
        let tok = match c {
            '|' => {
                cur.bump();
                Tok::Pipe
            }
            '(' => {
                cur.bump();
                Tok::LParen
            }
            ')' => {
                cur.bump();
                Tok::RParen(field_chain(cur)?)
            }
            ',' => {
                cur.bump();
                Tok::Comma
            }
            '=' => {
                cur.bump();
                Tok::Assign
            }
            ':' => {
                cur.bump();
                if cur.peek() != Some('=') {
                    return Err(pos.error("expected :="));
                }
                cur.bump();
                Tok::Declare
            }
            '.' if !cur.rest()[1..].starts_with(|d: char| d.is_ascii_digit()) => {
                Tok::Field(field_chain(cur)?)
            }
            '$' => {
                cur.bump();
                let name = ident(cur);
                Tok::Var(name, field_chain(cur)?)
            }
            '"' => Tok::Str(quoted(cur, pos)?),
            '`' => {
                cur.bump();
                let Some(end) = cur.rest().find('`') else {
                    return Err(pos.error("unterminated raw quoted string"));
                };
                let s = cur.rest()[..end].to_owned();
                cur.skip(end + 1);
                Tok::Str(s)
            }
            '\'' => return Err(pos.error("character constants are not supported")),
            c if c.is_ascii_digit() || c == '.' || c == '-' || c == '+' => {
                let start = cur.at;
                cur.bump();
                while cur
                    .peek()
                    .is_some_and(|d| d.is_ascii_alphanumeric() || d == '.' || d == '_')
                    || (matches!(cur.peek(), Some('-' | '+'))
                        && cur.src[..cur.at].ends_with(['e', 'E', 'p', 'P']))
                {
                    cur.bump();
                }
                Tok::Number(cur.src[start..cur.at].to_owned())
            }
            c if is_ident_char(c) => Tok::Ident(ident(cur)),
            c => return Err(pos.error(format!("unexpected {c:?} in action"))),
        };
        toks.push((tok, pos));
    }
}

fn ident(cur: &mut Cursor<'_>) -> String {
    let len = cur.rest().len() - cur.rest().trim_start_matches(is_ident_char).len();
    let name = cur.rest()[..len].to_owned();
    cur.skip(len);
    name
}

/// Lexes `.name.name…` right at the cursor (nothing if no dot follows). A lone `.` is the
/// empty chain.
fn field_chain(cur: &mut Cursor<'_>) -> Result<Vec<String>, TemplateError> {
    let mut fields = Vec::new();
    while cur.peek() == Some('.') {
        let pos = cur.pos();
        cur.bump();
        let name = ident(cur);
        if name.is_empty() {
            if fields.is_empty() && cur.peek() != Some('.') {
                break; // the dot itself
            }
            return Err(pos.error("bad field name after '.'"));
        }
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(pos.error(format!("bad field name {name:?}")));
        }
        fields.push(name);
    }
    Ok(fields)
}

/// A Go interpreted string literal, escapes decoded.
fn quoted(cur: &mut Cursor<'_>, pos: Pos) -> Result<String, TemplateError> {
    cur.bump();
    let mut out = String::new();
    loop {
        match cur.bump() {
            None | Some('\n') => return Err(pos.error("unterminated quoted string")),
            Some('"') => return Ok(out),
            Some('\\') => {
                let esc_pos = cur.pos();
                let c = match cur.bump() {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some('\\') => '\\',
                    Some('"') => '"',
                    Some('\'') => '\'',
                    Some('a') => '\u{7}',
                    Some('b') => '\u{8}',
                    Some('f') => '\u{c}',
                    Some('v') => '\u{b}',
                    Some(k @ ('x' | 'u' | 'U')) => {
                        let n = match k {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let digits: String = (0..n).filter_map(|_| cur.bump()).collect();
                        u32::from_str_radix(&digits, 16)
                            .ok()
                            .filter(|_| digits.len() == n)
                            .and_then(char::from_u32)
                            .ok_or_else(|| esc_pos.error("bad escape in quoted string"))?
                    }
                    _ => return Err(esc_pos.error("unknown escape in quoted string")),
                };
                out.push(c);
            }
            Some(c) => out.push(c),
        }
    }
}

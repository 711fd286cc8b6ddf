//! The parser of intrinsic calls: function names, arguments (literals, paths, nested calls)
//! and `States.Format` templates.

use super::*;

pub(super) struct Parser<'s> {
    pub(super) src: &'s str,
    pub(super) pos: usize,
    pub(super) depth: usize,
}

impl<'s> Parser<'s> {
    pub(super) fn error(&self, reason: impl Into<String>) -> IntrinsicSyntaxError {
        IntrinsicSyntaxError {
            src: self.src.to_string(),
            offset: self.pos,
            reason: reason.into(),
        }
    }

    pub(super) fn rest(&self) -> &'s str {
        &self.src[self.pos..]
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(super) fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// `States.Name(arg, ...)`, with `pos` at the `S`.
    pub(super) fn call(&mut self) -> Result<Call, IntrinsicSyntaxError> {
        let Some(after) = self.rest().strip_prefix("States.") else {
            return Err(self.error("expected a call of a 'States.' function"));
        };
        let name_len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let Some(func) = Func::from_short_name(name) else {
            return Err(self.error(format!("unknown intrinsic function 'States.{name}'")));
        };
        self.pos += "States.".len() + name_len;
        if self.peek() != Some('(') {
            return Err(self.error(format!("expected '(' after {}", func.name())));
        }
        self.pos += 1;
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(format!(
                "intrinsic functions are nested more than {MAX_NESTING} deep"
            )));
        }

        let mut args = Vec::new();
        let mut template = None;
        self.skip_whitespace();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_whitespace();
                let (arg, raw) = self.arg()?;
                if func == Func::Format && args.is_empty() {
                    template = raw.map(parse_template);
                }
                args.push(arg);
                self.skip_whitespace();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    Some(c) => {
                        return Err(self.error(format!("expected ',' or ')' but found {c:?}")))
                    }
                    None => return Err(self.error("missing ')'")),
                }
            }
        }
        self.depth -= 1;
        Ok(Call {
            func,
            args,
            template,
        })
    }

    /// One argument; for a string literal also its raw text between the quotes.
    pub(super) fn arg(&mut self) -> Result<(Arg, Option<&'s str>), IntrinsicSyntaxError> {
        match self.peek() {
            Some('\'') => {
                let (value, raw) = self.string()?;
                Ok((Arg::Literal(Value::String(value)), Some(raw)))
            }
            Some('$') => {
                let token = self.path_token();
                let path = Path::parse(token).map_err(|e| {
                    self.pos -= token.len();
                    self.error(e.to_string())
                })?;
                Ok((Arg::Path(path), None))
            }
            Some(c) if c == '-' || c.is_ascii_digit() => Ok((Arg::Literal(self.number()?), None)),
            Some(_) if self.rest().starts_with("States.") => Ok((Arg::Call(self.call()?), None)),
            Some(c) if c.is_ascii_alphabetic() => {
                let rest = self.rest();
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let value = match &rest[..len] {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    word => return Err(self.error(format!("unexpected {word:?}"))),
                };
                self.pos += len;
                Ok((Arg::Literal(value), None))
            }
            Some(c) => Err(self.error(format!("expected an argument but found {c:?}"))),
            None => Err(self.error("missing argument")),
        }
    }

    /// A single-quoted literal: its value and its raw text.
    pub(super) fn string(&mut self) -> Result<(String, &'s str), IntrinsicSyntaxError> {
        let start = self.pos + 1;
        let body = &self.src[start..];
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => {
                    self.pos = start + i + 1;
                    return Ok((value, &body[..i]));
                }
                // Spec: reserved characters are escaped as \' \{ \} and \\; any other open
                // escape is an error.
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '{' | '}' | '\\'))) => value.push(e),
                    Some((_, e)) => {
                        self.pos = start + i;
                        return Err(self.error(format!(
                            "invalid escape '\\{e}' in a string literal (only \\' \\{{ \\}} \\\\ are allowed)"
                        )));
                    }
                    None => break,
                },
                c => value.push(c),
            }
        }
        Err(self.error("unterminated string literal"))
    }

    /// A JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    pub(super) fn number(&mut self) -> Result<Value, IntrinsicSyntaxError> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let digits_from = |mut i: usize| {
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut end = usize::from(bytes.first() == Some(&b'-'));
        let int_start = end;
        end = digits_from(end);
        let valid_int = end > int_start && (end - int_start == 1 || bytes[int_start] != b'0');
        let mut valid = valid_int;
        if bytes.get(end) == Some(&b'.') {
            let frac_start = end + 1;
            end = digits_from(frac_start);
            valid &= end > frac_start;
        }
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            end += 1;
            if matches!(bytes.get(end), Some(b'+' | b'-')) {
                end += 1;
            }
            let exp_start = end;
            end = digits_from(exp_start);
            valid &= end > exp_start;
        }
        let text = &rest[..end];
        if !valid {
            return Err(self.error(format!("invalid number {text:?}")));
        }
        let mut value: Value = serde_json::from_str(text)
            .map_err(|_| self.error(format!("number {text} is out of range")))?;
        normalize_zero(&mut value);
        self.pos += end;
        Ok(value)
    }

    /// The text of a path argument: up to a `,`, `)` or whitespace outside brackets and quotes.
    pub(super) fn path_token(&mut self) -> &'s str {
        let rest = self.rest();
        let mut brackets = 0usize;
        let mut quote: Option<char> = None;
        let mut escaped = false;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            if let Some(q) = quote {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                continue;
            }
            match c {
                '[' => brackets += 1,
                ']' => brackets = brackets.saturating_sub(1),
                '\'' | '"' if brackets > 0 => quote = Some(c),
                ',' | ')' if brackets == 0 => {
                    end = i;
                    break;
                }
                c if c.is_whitespace() && brackets == 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        self.pos += end;
        &rest[..end]
    }
}

/// Splits a Format template into text and `{}` holes. `\{`, `\}`, `\\` and `\'` stand for the
/// character itself; any other brace is an error, reported at evaluation as AWS does.
pub(super) fn parse_template(raw: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&e @ ('{' | '}' | '\\' | '\'')) => {
                    text.push(e);
                    chars.next();
                }
                _ => text.push('\\'),
            },
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Hole);
            }
            '{' => return Err("matching '}' not found for '{'.".to_string()),
            '}' => return Err("matching '{' not found for '}'.".to_string()),
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

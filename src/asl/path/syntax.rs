//! The path compiler: JSONPath text to segments, with the rules of Jayway JsonPath, the
//! dialect Step Functions evaluates.
//!
//! What Jayway takes and RFC 9535 does not: a dot before a bracket (`$.[0]`, `$.a.['b c']`),
//! property names with any character but space, `.`, `[` and `(` (`$.a-b`, `$.a:b`), quoted
//! unions that merge into one object when they end the path (`$['a','b']`), filters with
//! Jayway's operators (`in`, `nin`, `subsetof`, `=~`, ...), and functions at the tail
//! (`$.items.length()`). Step Functions adds two forms on top: a script index counting from
//! the end (`[(@.length-1)]`) and bare words compared as strings in filters
//! (`[?(@.category==home)]`).

use super::filter::{self, Expr};

/// One step of a compiled path.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Segment {
    /// `.name`, `['name']` or a union `['a','b']`.
    Names(Vec<Box<str>>),
    /// `[n]` or a union `[0,2]`; negative counts from the end.
    Indexes(Vec<i64>),
    /// `[from:to]`; Jayway ignores a step.
    Slice { from: Option<i64>, to: Option<i64> },
    /// `.*` or `[*]`.
    Wildcard,
    /// `..`: the next segment applied at every depth.
    Scan,
    /// `[?(...)]`.
    Filter(Box<Expr>),
    /// `[(@.length-n)]`: the index `length - n`.
    FromEnd(i64),
    /// `.name()` at the tail.
    Function(Function),
}

/// The functions a path may end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Function {
    Length,
    Min,
    Max,
    Avg,
    Stddev,
    Sum,
    Keys,
    First,
    Last,
}

impl Function {
    fn named(name: &str) -> Option<Function> {
        Some(match name {
            "length" | "size" => Function::Length,
            "min" => Function::Min,
            "max" => Function::Max,
            "avg" => Function::Avg,
            "stddev" => Function::Stddev,
            "sum" => Function::Sum,
            "keys" => Function::Keys,
            "first" => Function::First,
            "last" => Function::Last,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Function::Length => "length",
            Function::Min => "min",
            Function::Max => "max",
            Function::Avg => "avg",
            Function::Stddev => "stddev",
            Function::Sum => "sum",
            Function::Keys => "keys",
            Function::First => "first",
            Function::Last => "last",
        }
    }
}

/// Compiles the part of a path after its root (`$`, `$$`, `@` or `$name`).
///
/// # Errors
/// Jayway's reason when `rest` is not a path.
pub(super) fn compile(rest: &str) -> Result<Vec<Segment>, String> {
    let mut c = Compiler {
        src: rest,
        pos: 0,
        out: Vec::new(),
    };
    if rest.ends_with('.') {
        return Err("Path must not end with a '.' or '..'".into());
    }
    if !rest.is_empty() && !rest.starts_with(['.', '[']) {
        return Err("Illegal character at position 1 expected '.' or '['".into());
    }
    while c.pos < c.src.len() {
        c.token()?;
    }
    if let Some(i) = c.out.iter().position(|s| matches!(s, Segment::Function(_))) {
        if i + 1 != c.out.len() {
            return Err("a function must end the path".into());
        }
    }
    if matches!(c.out.last(), Some(Segment::Scan)) {
        return Err("Path must not end with a '.' or '..'".into());
    }
    Ok(c.out)
}

struct Compiler<'s> {
    src: &'s str,
    pos: usize,
    out: Vec<Segment>,
}

impl<'s> Compiler<'s> {
    fn rest(&self) -> &'s str {
        &self.src[self.pos..]
    }

    fn at(&self) -> usize {
        self.pos + 1
    }

    fn token(&mut self) -> Result<(), String> {
        let rest = self.rest();
        if rest.starts_with("..") {
            self.out.push(Segment::Scan);
            self.pos += 2;
            if self.rest().starts_with('.') {
                return Err(format!(
                    "Character '.' on position {} is not valid.",
                    self.at()
                ));
            }
            return self.after_dot();
        }
        if rest.starts_with('.') {
            self.pos += 1;
            if self.rest().starts_with('.') {
                return Err(format!(
                    "Character '.' on position {} is not valid.",
                    self.at()
                ));
            }
            return self.after_dot();
        }
        if rest.starts_with('[') {
            return self.bracket();
        }
        Err(format!(
            "Could not parse token starting at position {}",
            self.at()
        ))
    }

    /// What follows a `.` or `..`: a bracket, a wildcard, a name or a function.
    fn after_dot(&mut self) -> Result<(), String> {
        let rest = self.rest();
        if rest.starts_with('[') {
            return self.bracket();
        }
        if let Some(after) = rest.strip_prefix('*') {
            self.out.push(Segment::Wildcard);
            self.pos += 1;
            if !after.is_empty() && !after.starts_with(['.', '[']) {
                return Err(format!(
                    "Could not parse token starting at position {}",
                    self.at()
                ));
            }
            return Ok(());
        }
        if rest.starts_with(' ') || rest.is_empty() {
            return Err(format!(
                "Could not parse token starting at position {}",
                self.at()
            ));
        }
        let end = rest.find(['.', '[', '(', ' ']).unwrap_or(rest.len());
        if rest[end..].starts_with(' ') {
            return Err(format!(
                "Use bracket notion ['my prop'] if your property contains blank characters. position: {}",
                self.pos
            ));
        }
        let name = &rest[..end];
        if rest[end..].starts_with('(') {
            let args = &rest[end + 1..];
            if !args.trim_start().starts_with(')') {
                return Err(format!(
                    "Arguments to function: '{name}' are not closed properly."
                ));
            }
            let close = end + 1 + args.find(')').unwrap_or(0) + 1;
            let function = Function::named(name)
                .ok_or_else(|| format!("Function with name: {name} does not exist."))?;
            self.out.push(Segment::Function(function));
            self.pos += close;
            return Ok(());
        }
        self.out.push(Segment::Names(vec![name.into()]));
        self.pos += end;
        Ok(())
    }

    /// A bracket segment: quoted names, indexes or a slice, a wildcard, a filter or a script
    /// index.
    fn bracket(&mut self) -> Result<(), String> {
        let inner = &self.rest()[1..];
        let first = inner.trim_start().chars().next();
        match first {
            Some('\'' | '"') => self.quoted_names(),
            Some('*') => {
                let after = inner.trim_start()[1..].trim_start();
                if !after.starts_with(']') {
                    return Err(format!(
                        "Expected wildcard token to end with ']' on position {}",
                        self.at() + 1
                    ));
                }
                let consumed = 1 + (inner.len() - after.len()) + 1;
                self.out.push(Segment::Wildcard);
                self.pos += consumed;
                Ok(())
            }
            Some('?') => self.filter(),
            Some('(') => self.script(),
            Some(c) if c.is_ascii_digit() || c == '-' || c == ':' => self.indexes(),
            _ => Err(format!(
                "Could not parse token starting at position {}. Expected ?, ', 0-9, * ",
                self.pos
            )),
        }
    }

    fn quoted_names(&mut self) -> Result<(), String> {
        let src = self.rest();
        let bytes = src.as_bytes();
        let mut i = 1;
        let mut names = Vec::new();
        loop {
            while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
                i += 1;
            }
            let Some(&quote) = bytes.get(i) else {
                return Err("Property has not been closed - missing closing ]".into());
            };
            if quote != b'\'' && quote != b'"' {
                return Err(format!(
                    "Could not parse token starting at position {}. Expected ?, ', 0-9, * ",
                    self.pos
                ));
            }
            let (name, len) = unquote(&src[i..], quote as char).ok_or_else(|| {
                format!(
                    "Property has not been closed - missing closing {}",
                    quote as char
                )
            })?;
            names.push(name.into_boxed_str());
            i += len;
            while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
                i += 1;
            }
            match bytes.get(i) {
                Some(b',') => i += 1,
                Some(b']') => {
                    i += 1;
                    break;
                }
                _ => {
                    return Err(format!(
                        "Property must be separated by comma or Property must be terminated close square bracket at index {}",
                        self.pos + i
                    ))
                }
            }
        }
        self.out.push(Segment::Names(names));
        self.pos += i;
        Ok(())
    }

    fn indexes(&mut self) -> Result<(), String> {
        let src = self.rest();
        let close = src
            .find(']')
            .ok_or_else(|| "Property has not been closed - missing closing ]".to_string())?;
        let expr = src[1..close].trim();
        if !expr
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b',' | b'-' | b':' | b' '))
        {
            return Err(format!(
                "Could not parse token starting at position {}. Expected ?, ', 0-9, * ",
                self.pos
            ));
        }
        let number = |s: &str| -> Result<i64, String> {
            s.trim()
                .parse::<i64>()
                .map_err(|_| format!("Failed to parse SliceOperation: {expr}"))
        };
        let segment = if expr.contains(':') {
            let mut parts = expr.split(':');
            let from = parts.next().unwrap_or("").trim();
            let to = parts.next().unwrap_or("").trim();
            if from.is_empty() && to.is_empty() {
                return Err(format!("Failed to parse SliceOperation: {expr}"));
            }
            Segment::Slice {
                from: (!from.is_empty()).then(|| number(from)).transpose()?,
                to: (!to.is_empty()).then(|| number(to)).transpose()?,
            }
        } else {
            let indexes = expr
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse::<i64>()
                        .map_err(|_| format!("Failed to parse index: {expr}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Segment::Indexes(indexes)
        };
        self.out.push(segment);
        self.pos += close + 1;
        Ok(())
    }

    /// `[?( ... )]`: the filter runs to the `)` that closes its `(`, then `]`.
    fn filter(&mut self) -> Result<(), String> {
        let src = self.rest();
        let open = src
            .find('(')
            .filter(|&i| src[1..i].trim() == "?")
            .ok_or_else(|| {
                format!(
                    "Could not parse token starting at position {}. Expected ?, ', 0-9, * ",
                    self.pos
                )
            })?;
        let close = closing_paren(src, open)
            .ok_or_else(|| format!("Failed to parse filter: {src}, missing ')'"))?;
        let after = &src[close + 1..];
        let end = close + 1 + (after.len() - after.trim_start().len());
        if !src[end..].starts_with(']') {
            return Err(format!("Filter must end with ')]': {src}"));
        }
        let expr = filter::parse(&src[open + 1..close])?;
        self.out.push(Segment::Filter(Box::new(expr)));
        self.pos += end + 1;
        Ok(())
    }

    /// `[(@.length-1)]`, `[(@.length)]`, `[(@.length+n)]`.
    fn script(&mut self) -> Result<(), String> {
        let src = self.rest();
        let open = src.find('(').unwrap_or(1);
        let close = closing_paren(src, open)
            .ok_or_else(|| format!("Failed to parse script expression: {src}"))?;
        let body: String = src[open + 1..close]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let after = &src[close + 1..];
        let end = close + 1 + (after.len() - after.trim_start().len());
        let offset = body.strip_prefix("@.length").and_then(|n| {
            if n.is_empty() {
                Some(0)
            } else if let Some(k) = n.strip_prefix('-') {
                k.parse::<i64>().ok().map(|k| -k)
            } else {
                n.strip_prefix('+').and_then(|k| k.parse::<i64>().ok())
            }
        });
        match offset {
            Some(offset) if src[end..].starts_with(']') => {
                self.out.push(Segment::FromEnd(offset));
                self.pos += end + 1;
                Ok(())
            }
            _ => Err(format!(
                "Could not parse token starting at position {}. Expected ?, ', 0-9, * ",
                self.pos
            )),
        }
    }
}

/// The index of the `)` closing the `(` at `open`, skipping quoted strings and regex
/// literals.
pub(super) fn closing_paren(src: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in src[open..].char_indices() {
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
            '\'' | '"' => quote = Some(c),
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Reads a quoted name at the start of `s`: its value and the bytes it took, quotes
/// included. A backslash escapes the quote and itself; before anything else it is kept.
pub(super) fn unquote(s: &str, quote: char) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some((_, e)) if e == quote || e == '\\' => name.push(e),
                Some((_, e)) => {
                    name.push('\\');
                    name.push(e);
                }
                None => return None,
            }
        } else if c == quote {
            return Some((name, i + 1));
        } else {
            name.push(c);
        }
    }
    None
}

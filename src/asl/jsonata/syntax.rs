//! A syntax check for JSONata expressions, following the reference parser of JSONata 2.0.6
//! (the version Step Functions implements): its tokenizer, its Pratt grammar and the errors
//! of its post-parse pass, without building a syntax tree. Checks it leaves out (the `%`
//! parent operator's ancestry, function signatures, regular expression bodies) accept.

/// Nesting beyond this is rejected rather than risking the stack.
const MAX_DEPTH: usize = 64;

/// A syntax error: what the reference parser reports, and the character position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// The JSONata error code (`S0201` ...).
    pub(crate) code: &'static str,
    /// What is wrong, as the reference parser words it (lowercased).
    pub(crate) message: String,
    /// Character offset in the expression.
    pub(crate) position: usize,
}

/// Checks that `src` is a well-formed JSONata expression.
pub(crate) fn check(src: &str) -> Result<(), SyntaxError> {
    let mut parser = Parser {
        lexer: Lexer {
            chars: src.chars().collect(),
            pos: 0,
        },
        token: Token {
            kind: Tok::End,
            text: String::new(),
            position: 0,
        },
        depth: 0,
    };
    parser.advance(None, false)?;
    let expr = parser.expression(0)?;
    if parser.token.kind != Tok::End {
        return Err(parser.error("S0201", format!("syntax error: {}", parser.token.text)));
    }
    if expr.kind == Kind::Parent {
        return Err(SyntaxError {
            code: "S0217",
            message: "the object representing the 'parent' cannot be derived from this expression"
                .to_string(),
            position: 0,
        });
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    Op,
    Name,
    Variable,
    Str,
    Number,
    Value,
    Regex,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    text: String,
    position: usize,
}

impl Token {
    fn is_op(&self, op: &str) -> bool {
        self.kind == Tok::Op && self.text == op
    }
}

const WHITESPACE: &[char] = &[' ', '\t', '\n', '\r', '\u{b}'];
const OPERATOR_CHARS: &[char] = &[
    '.', '[', ']', '{', '}', '(', ')', ',', '@', '#', ';', ':', '?', '+', '-', '*', '/', '%', '|',
    '=', '<', '>', '^', '&', '!', '~',
];

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn err(&self, code: &'static str, message: impl Into<String>, position: usize) -> SyntaxError {
        SyntaxError {
            code,
            message: message.into(),
            position,
        }
    }

    /// The next token; `infix` is true where an operator is expected (`/` divides there
    /// instead of opening a regular expression).
    fn next(&mut self, infix: bool) -> Result<Token, SyntaxError> {
        let mut token = self.scan(infix)?;
        if token.text.is_empty() && token.kind != Tok::End {
            token.text = self.chars[token.position..self.pos].iter().collect();
        }
        Ok(token)
    }

    fn scan(&mut self, infix: bool) -> Result<Token, SyntaxError> {
        loop {
            while self.at(self.pos).is_some_and(|c| WHITESPACE.contains(&c)) {
                self.pos += 1;
            }
            if self.at(self.pos) == Some('/') && self.at(self.pos + 1) == Some('*') {
                let start = self.pos;
                self.pos += 2;
                loop {
                    match (self.at(self.pos), self.at(self.pos + 1)) {
                        (Some('*'), Some('/')) => break,
                        (None, _) => {
                            return Err(self.err("S0106", "comment has no closing tag", start))
                        }
                        _ => self.pos += 1,
                    }
                }
                self.pos += 2;
                continue;
            }
            break;
        }
        let start = self.pos;
        let token = |kind, text: String| Token {
            kind,
            text,
            position: start,
        };
        let Some(c) = self.at(self.pos) else {
            return Ok(token(Tok::End, String::new()));
        };
        if !infix && c == '/' {
            self.pos += 1;
            self.scan_regex()?;
            return Ok(token(Tok::Regex, String::new()));
        }
        let next = self.at(self.pos + 1);
        let double = match (c, next) {
            ('.', Some('.')) => Some(".."),
            (':', Some('=')) => Some(":="),
            ('!', Some('=')) => Some("!="),
            ('>', Some('=')) => Some(">="),
            ('<', Some('=')) => Some("<="),
            ('*', Some('*')) => Some("**"),
            ('~', Some('>')) => Some("~>"),
            _ => None,
        };
        if let Some(op) = double {
            self.pos += 2;
            return Ok(token(Tok::Op, op.to_string()));
        }
        if OPERATOR_CHARS.contains(&c) {
            self.pos += 1;
            return Ok(token(Tok::Op, c.to_string()));
        }
        if c == '"' || c == '\'' {
            self.pos += 1;
            while let Some(ch) = self.at(self.pos) {
                if ch == '\\' {
                    self.pos += 1;
                    match self.at(self.pos) {
                        Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => {}
                        Some('u') => {
                            let hex = (1..=4)
                                .filter_map(|k| self.at(self.pos + k))
                                .take_while(char::is_ascii_hexdigit)
                                .count();
                            // The reference accepts 1 to 4 hex digits here (`/^[0-9a-fA-F]+$/`
                            // on the next four characters) and skips four characters.
                            let all_hex = (1..=4)
                                .map(|k| self.at(self.pos + k))
                                .take_while(Option::is_some)
                                .all(|ch| ch.is_some_and(|ch| ch.is_ascii_hexdigit()));
                            if hex == 0 || !all_hex {
                                return Err(self.err(
                                    "S0104",
                                    "the escape sequence \\u must be followed by 4 hex digits",
                                    self.pos,
                                ));
                            }
                            self.pos += 4;
                        }
                        other => {
                            let shown = other.map(String::from).unwrap_or_default();
                            return Err(self.err(
                                "S0103",
                                format!("unsupported escape sequence: \\{shown}"),
                                self.pos,
                            ));
                        }
                    }
                } else if ch == c {
                    self.pos += 1;
                    return Ok(token(Tok::Str, String::new()));
                }
                self.pos += 1;
            }
            return Err(self.err(
                "S0101",
                "string literal must be terminated by a matching quote",
                self.pos,
            ));
        }
        if let Some(len) = self.number_len() {
            let text: String = self.chars[self.pos..self.pos + len].iter().collect();
            if !text.parse::<f64>().is_ok_and(f64::is_finite) {
                return Err(self.err("S0102", format!("number out of range: {text}"), start));
            }
            self.pos += len;
            return Ok(token(Tok::Number, text));
        }
        if c == '`' {
            self.pos += 1;
            let Some(end) = (self.pos..self.chars.len()).find(|&i| self.chars[i] == '`') else {
                self.pos = self.chars.len();
                return Err(self.err(
                    "S0105",
                    "quoted property name must be terminated with a backquote (`)",
                    self.pos,
                ));
            };
            let name: String = self.chars[self.pos..end].iter().collect();
            self.pos = end + 1;
            return Ok(token(Tok::Name, name));
        }
        let mut end = self.pos;
        while let Some(ch) = self.at(end) {
            if WHITESPACE.contains(&ch) || OPERATOR_CHARS.contains(&ch) {
                break;
            }
            end += 1;
        }
        let text: String = self.chars[self.pos..end].iter().collect();
        self.pos = end;
        if c == '$' {
            return Ok(token(Tok::Variable, text));
        }
        Ok(match text.as_str() {
            "or" | "in" | "and" => token(Tok::Op, text),
            "true" | "false" | "null" => token(Tok::Value, text),
            "" => token(Tok::End, text),
            _ => token(Tok::Name, text),
        })
    }

    /// Length of the number literal at the cursor (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)?`
    /// without the sign, which is always lexed as an operator first).
    fn number_len(&self) -> Option<usize> {
        let digit = |i: usize| self.at(i).is_some_and(|c| c.is_ascii_digit());
        let mut i = self.pos;
        match self.at(i) {
            Some('0') => i += 1,
            Some('1'..='9') => {
                while digit(i) {
                    i += 1;
                }
            }
            _ => return None,
        }
        if self.at(i) == Some('.') && digit(i + 1) {
            i += 1;
            while digit(i) {
                i += 1;
            }
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let mut j = i + 1;
            if matches!(self.at(j), Some('+' | '-')) {
                j += 1;
            }
            if digit(j) {
                while digit(j) {
                    j += 1;
                }
                i = j;
            }
        }
        Some(i - self.pos)
    }

    /// Scans a regular expression after its opening `/`, up to the closing `/` and flags.
    fn scan_regex(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        let mut depth: i64 = 0;
        while let Some(c) = self.at(self.pos) {
            if c == '/' && depth == 0 {
                let backslashes = (0..self.pos)
                    .rev()
                    .take_while(|&i| self.chars[i] == '\\')
                    .count();
                if backslashes % 2 == 0 {
                    if self.pos == start {
                        return Err(self.err(
                            "S0301",
                            "empty regular expressions are not allowed",
                            self.pos,
                        ));
                    }
                    self.pos += 1;
                    while matches!(self.at(self.pos), Some('i' | 'm')) {
                        self.pos += 1;
                    }
                    return Ok(());
                }
            }
            let escaped = self.pos > 0 && self.chars[self.pos - 1] == '\\';
            if matches!(c, '(' | '[' | '{') && !escaped {
                depth += 1;
            }
            if matches!(c, ')' | ']' | '}') && !escaped {
                depth -= 1;
            }
            self.pos += 1;
        }
        Err(self.err("S0302", "no terminating / in regular expression", self.pos))
    }
}

/// What the post-parse checks need to know about a parsed expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A number literal (also after unary minus).
    Number,
    /// `true`, `false` or `null`.
    Value,
    /// A name, or a location path (steps joined by `.`, or a step with `#` or `^(...)`).
    Path,
    Variable,
    Parent,
    Other,
}

/// What a parsed expression is before any operator applies to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bare {
    No,
    /// A variable reference alone (`$x`).
    Variable,
    /// The name `function` or `λ` alone: a following `(` defines a lambda.
    FunctionKeyword,
}

/// A parsed expression as the reference post-parse pass sees it: for a path, `grouped`
/// belongs to the path and the `step_*` flags to its last step; otherwise all describe the
/// expression itself.
#[derive(Debug, Clone, Copy)]
struct Expr {
    kind: Kind,
    bare: Bare,
    /// It is, or is a path with, a number or `true`/`false`/`null` step.
    literal_step: bool,
    /// Carries a group-by (`{...}` after it).
    grouped: bool,
    step_grouped: bool,
    step_predicated: bool,
    step_sorted: bool,
}

impl Expr {
    fn of(kind: Kind) -> Self {
        Expr {
            kind,
            bare: Bare::No,
            literal_step: matches!(kind, Kind::Number | Kind::Value),
            grouped: false,
            step_grouped: false,
            step_predicated: false,
            step_sorted: false,
        }
    }

    fn is_path(&self) -> bool {
        self.kind == Kind::Path
    }
}

struct Parser {
    lexer: Lexer,
    token: Token,
    depth: usize,
}

/// Left binding power of an operator token.
fn lbp(token: &Token) -> u32 {
    if token.kind != Tok::Op {
        return 0;
    }
    match token.text.as_str() {
        "." => 75,
        "[" | "(" | "@" | "#" => 80,
        "{" => 70,
        "*" | "/" | "%" => 60,
        "+" | "-" | "&" => 50,
        "=" | "<" | ">" | "^" | "!=" | "<=" | ">=" | "~>" | "in" => 40,
        "and" => 30,
        "or" => 25,
        "?" => 20,
        ":=" => 10,
        _ => 0,
    }
}

/// Operators the reference parser has a symbol for; others (`!`, `~`) are unknown.
fn is_known_operator(op: &str) -> bool {
    !matches!(op, "!" | "~")
}

impl Parser {
    fn error(&self, code: &'static str, message: String) -> SyntaxError {
        SyntaxError {
            code,
            message,
            position: self.token.position,
        }
    }

    /// Moves past the current token, which must be `expected` when given.
    fn advance(&mut self, expected: Option<&str>, infix: bool) -> Result<(), SyntaxError> {
        if let Some(id) = expected {
            if !self.token.is_op(id) {
                return Err(if self.token.kind == Tok::End {
                    self.error("S0203", format!("expected {id:?} before end of expression"))
                } else {
                    self.error(
                        "S0202",
                        format!("expected {id:?}, got {:?}", self.token.text),
                    )
                });
            }
        }
        let token = self.lexer.next(infix)?;
        if token.kind == Tok::Op && !is_known_operator(&token.text) {
            return Err(SyntaxError {
                code: "S0204",
                message: format!("unknown operator: {:?}", token.text),
                position: token.position,
            });
        }
        self.token = token;
        Ok(())
    }

    fn expression(&mut self, rbp: u32) -> Result<Expr, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                "S0000",
                format!("expression is nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        let t = self.token.clone();
        self.advance(None, true)?;
        let mut left = self.nud(&t)?;
        while rbp < lbp(&self.token) {
            let t = self.token.clone();
            self.advance(None, false)?;
            left = self.led(&t, left)?;
        }
        self.depth -= 1;
        Ok(left)
    }

    fn nud(&mut self, t: &Token) -> Result<Expr, SyntaxError> {
        let unary = || SyntaxError {
            code: "S0211",
            message: format!("the symbol {:?} cannot be used as a unary operator", t.text),
            position: t.position,
        };
        match t.kind {
            Tok::End => Err(SyntaxError {
                code: "S0207",
                message: "unexpected end of expression".to_string(),
                position: t.position,
            }),
            Tok::Name => Ok(Expr {
                bare: if t.text == "function" || t.text == "\u{3bb}" {
                    Bare::FunctionKeyword
                } else {
                    Bare::No
                },
                ..Expr::of(Kind::Path)
            }),
            Tok::Variable => Ok(Expr {
                bare: Bare::Variable,
                ..Expr::of(Kind::Variable)
            }),
            Tok::Number => Ok(Expr::of(Kind::Number)),
            Tok::Value => Ok(Expr::of(Kind::Value)),
            Tok::Str | Tok::Regex => Ok(Expr::of(Kind::Other)),
            Tok::Op => match t.text.as_str() {
                "and" | "or" | "in" => Ok(Expr::of(Kind::Path)),
                "-" => {
                    let operand = self.expression(70)?;
                    // Unary minus on a number literal folds into the literal.
                    Ok(Expr::of(if operand.kind == Kind::Number {
                        Kind::Number
                    } else {
                        Kind::Other
                    }))
                }
                "*" | "**" => Ok(Expr::of(Kind::Other)),
                "%" => Ok(Expr::of(Kind::Parent)),
                "(" => {
                    while !self.token.is_op(")") {
                        self.expression(0)?;
                        if !self.token.is_op(";") {
                            break;
                        }
                        self.advance(Some(";"), false)?;
                    }
                    self.advance(Some(")"), true)?;
                    Ok(Expr::of(Kind::Other))
                }
                "[" => {
                    if !self.token.is_op("]") {
                        loop {
                            self.expression(0)?;
                            if self.token.is_op("..") {
                                self.advance(Some(".."), false)?;
                                self.expression(0)?;
                            }
                            if !self.token.is_op(",") {
                                break;
                            }
                            self.advance(Some(","), false)?;
                        }
                    }
                    self.advance(Some("]"), true)?;
                    Ok(Expr::of(Kind::Other))
                }
                "{" => {
                    self.object_body()?;
                    Ok(Expr::of(Kind::Other))
                }
                "|" => {
                    self.expression(0)?;
                    self.advance(Some("|"), false)?;
                    self.expression(0)?;
                    if self.token.is_op(",") {
                        self.advance(Some(","), false)?;
                        self.expression(0)?;
                    }
                    self.advance(Some("|"), false)?;
                    Ok(Expr::of(Kind::Other))
                }
                _ => Err(unary()),
            },
        }
    }

    /// The pairs of an object constructor or group-by, after its `{`.
    fn object_body(&mut self) -> Result<(), SyntaxError> {
        if !self.token.is_op("}") {
            loop {
                self.expression(0)?;
                self.advance(Some(":"), false)?;
                self.expression(0)?;
                if !self.token.is_op(",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some("}"), true)
    }

    fn led(&mut self, t: &Token, left: Expr) -> Result<Expr, SyntaxError> {
        if t.is_op("[") && self.token.is_op("]") {
            // `[]` keeps singleton arrays; the expression is otherwise unchanged.
            self.advance(Some("]"), false)?;
            return Ok(left);
        }
        let mut result = self.led_inner(t, left)?;
        result.bare = Bare::No;
        Ok(result)
    }

    fn led_inner(&mut self, t: &Token, left: Expr) -> Result<Expr, SyntaxError> {
        let op = t.text.as_str();
        let err = |code, message: &str| SyntaxError {
            code,
            message: message.to_string(),
            position: t.position,
        };
        match op {
            "(" => self.call(left),
            "[" => {
                if left.step_grouped {
                    return Err(err(
                        "S0209",
                        "a predicate cannot follow a grouping expression in a step",
                    ));
                }
                self.expression(0)?;
                self.advance(Some("]"), true)?;
                Ok(Expr {
                    step_predicated: true,
                    ..left
                })
            }
            "{" => {
                self.object_body()?;
                if left.grouped {
                    return Err(err(
                        "S0210",
                        "each step can only have one grouping expression",
                    ));
                }
                Ok(Expr {
                    grouped: true,
                    step_grouped: left.step_grouped || !left.is_path(),
                    ..left
                })
            }
            "^" => {
                self.advance(Some("("), false)?;
                loop {
                    if self.token.is_op("<") {
                        self.advance(Some("<"), false)?;
                    } else if self.token.is_op(">") {
                        self.advance(Some(">"), false)?;
                    }
                    self.expression(0)?;
                    if !self.token.is_op(",") {
                        break;
                    }
                    self.advance(Some(","), false)?;
                }
                self.advance(Some(")"), false)?;
                Ok(Expr {
                    kind: Kind::Path,
                    bare: Bare::No,
                    literal_step: left.literal_step,
                    grouped: left.is_path() && left.grouped,
                    step_grouped: false,
                    step_predicated: false,
                    step_sorted: true,
                })
            }
            ":=" => {
                if left.bare != Bare::Variable {
                    return Err(err(
                        "S0212",
                        "the left side of := must be a variable name (start with $)",
                    ));
                }
                self.expression(9)?;
                Ok(Expr::of(Kind::Other))
            }
            "@" | "#" => {
                let rhs = self.expression(80)?;
                if rhs.bare != Bare::Variable {
                    return Err(err(
                        "S0214",
                        &format!("the right side of {op} must be a variable name (start with $)"),
                    ));
                }
                if op == "@" {
                    if left.step_predicated {
                        return Err(err(
                            "S0215",
                            "a context variable binding must precede any predicates on a step",
                        ));
                    }
                    if left.step_sorted {
                        return Err(err(
                            "S0216",
                            "a context variable binding must precede the 'order-by' clause on a step",
                        ));
                    }
                    Ok(left)
                } else if left.is_path() {
                    Ok(left)
                } else {
                    // The expression becomes the only step of a new path.
                    Ok(Expr {
                        kind: Kind::Path,
                        grouped: false,
                        step_grouped: left.grouped,
                        ..left
                    })
                }
            }
            "?" => {
                self.expression(0)?;
                if self.token.is_op(":") {
                    self.advance(Some(":"), false)?;
                    self.expression(0)?;
                }
                Ok(Expr::of(Kind::Other))
            }
            "." => {
                let rhs = self.expression(75)?;
                if left.literal_step || rhs.literal_step {
                    return Err(err(
                        "S0213",
                        "a literal value cannot be used as a step within a path expression",
                    ));
                }
                Ok(Expr {
                    kind: Kind::Path,
                    bare: Bare::No,
                    literal_step: false,
                    grouped: left.is_path() && left.grouped,
                    step_grouped: if rhs.is_path() {
                        rhs.step_grouped
                    } else {
                        rhs.grouped
                    },
                    step_predicated: rhs.step_predicated,
                    step_sorted: rhs.is_path() && rhs.step_sorted,
                })
            }
            _ => {
                self.expression(lbp(t))?;
                Ok(Expr::of(Kind::Other))
            }
        }
    }

    /// A function call after its `(`, or a lambda definition when `left` names `function`/`λ`.
    fn call(&mut self, left: Expr) -> Result<Expr, SyntaxError> {
        let is_lambda = left.bare == Bare::FunctionKeyword;
        let mut bad_parameter = None;
        if !self.token.is_op(")") {
            let mut index = 0;
            loop {
                index += 1;
                let position = self.token.position;
                if self.token.is_op("?") {
                    // A placeholder: partial application.
                    self.advance(Some("?"), false)?;
                    bad_parameter.get_or_insert((index, position));
                } else if self.expression(0)?.bare != Bare::Variable {
                    bad_parameter.get_or_insert((index, position));
                }
                if !self.token.is_op(",") {
                    break;
                }
                self.advance(Some(","), false)?;
            }
        }
        self.advance(Some(")"), true)?;
        if !is_lambda {
            return Ok(Expr::of(Kind::Other));
        }
        if let Some((index, position)) = bad_parameter {
            return Err(SyntaxError {
                code: "S0208",
                message: format!(
                    "parameter {index} of function definition must be a variable name (start with $)"
                ),
                position,
            });
        }
        if self.token.is_op("<") {
            // A signature: skipped up to its closing `>`, not checked further.
            let mut depth = 1;
            while depth > 0 && !self.token.is_op("{") && self.token.kind != Tok::End {
                self.advance(None, false)?;
                if self.token.is_op(">") {
                    depth -= 1;
                } else if self.token.is_op("<") {
                    depth += 1;
                }
            }
            self.advance(Some(">"), false)?;
        }
        self.advance(Some("{"), false)?;
        self.expression(0)?;
        self.advance(Some("}"), false)?;
        Ok(Expr::of(Kind::Other))
    }
}

//! JSONata's regular-expression built-ins (`$match`, `$replace`, `$split`, `$contains`) on a
//! backtracking-free engine.
//!
//! `jsonata-rs` runs regular expressions on `regress`, a backtracking engine with no step or
//! time budget: `$match(s, /(a+)+$/)` runs for minutes on 30 `a`s and a `!`, and the expression
//! time limit is only checked between evaluation steps. These built-ins replace the engine's:
//! the JavaScript pattern (its source and flags) is translated to the syntax of the `regex`
//! crate, whose matching time is linear in the input. What `regex` cannot do without
//! backtracking (backreferences, lookahead and lookbehind) is refused with a clear
//! `States.QueryEvaluationError`. Matches follow jsonata-js: `$match` yields a sequence of
//! `{match, index, groups}` (`index` in UTF-16 code units, as JavaScript counts), and a
//! zero-length match after the first is error D1004.

use std::collections::HashMap;

use regex::{Captures, Regex};

use super::*;

/// The built-ins replaced here, with their arities; the engine's own stay bound under
/// [`ORIGINAL_BUILTIN_PREFIX`] for the arguments that are not regular expressions.
pub(super) const REGEX_BUILTINS: &[(&str, usize)] =
    &[("match", 2), ("replace", 4), ("split", 3), ("contains", 2)];
/// Prefix of the bindings of the built-ins defined here.
pub(super) const REGEX_BUILTIN_PREFIX: &str = "__stepfn_regex_";
/// Start of the message of a pattern this engine cannot run; such failures carry no JSONata
/// code.
pub(super) const UNSUPPORTED_REGEX: &str = "Unsupported regular expression";
/// Compiled patterns kept per thread, so a pattern used in a loop is compiled once.
const CACHE_ENTRIES: usize = 256;

/// A pattern with its `i` and `m` flags, and what compiling it gave.
type Compiled = HashMap<(String, bool, bool), Result<Regex, String>>;

thread_local! {
    static CACHE: RefCell<Compiled> = RefCell::new(HashMap::new());
}

pub(super) fn register<'a>(program: &JsonAta<'a>, arena: &'a Bump) {
    for (name, arity) in REGEX_BUILTINS {
        let function = match *name {
            "match" => fn_match,
            "replace" => fn_replace,
            "split" => fn_split,
            _ => fn_contains,
        };
        program.assign_var(
            &format!("{REGEX_BUILTIN_PREFIX}{name}"),
            JValue::nativefn(arena, name, *arity, function),
        );
    }
}

/// Calls the engine's own built-in of this name (for arguments that are not regular
/// expressions).
fn original<'a>(context: &FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    let original = context
        .frame
        .lookup(&format!("{ORIGINAL_BUILTIN_PREFIX}{}", context.name))
        .ok_or(JsonataError::T1006InvokedNonFunction(context.char_index))?;
    context.evaluate_function(original, args)
}

/// The compiled regular expression a `Value::Regex` holds, translated for the `regex` crate.
fn compiled(value: &JValue) -> Option<Result<Regex, JsonataError>> {
    let JValue::Regex(literal) = value else {
        return None;
    };
    // `regress` does not expose a pattern's flags but prints them, last, in its debug form.
    let shown = format!("{:?}", literal.get_regex());
    let flags = shown.rfind("flags: Flags {").map_or("", |at| &shown[at..]);
    Some(compile(
        literal.as_pattern(),
        flags.contains("icase: true"),
        flags.contains("multiline: true"),
    ))
}

/// Compiles a JavaScript pattern with the `i` and `m` flags as given.
pub(super) fn compile(pattern: &str, icase: bool, multiline: bool) -> Result<Regex, JsonataError> {
    let key = (pattern.to_string(), icase, multiline);
    let cached = CACHE.with(|cache| cache.borrow().get(&key).cloned());
    let result = match cached {
        Some(result) => result,
        None => {
            let result = translate(pattern, icase, multiline).and_then(|translated| {
                Regex::new(&translated)
                    .map_err(|e| format!("/{pattern}/ cannot be evaluated in linear time ({e})"))
            });
            CACHE.with(|cache| {
                let mut cache = cache.borrow_mut();
                if cache.len() >= CACHE_ENTRIES {
                    cache.clear();
                }
                cache.insert(key, result.clone());
            });
            result
        }
    };
    result.map_err(|message| JsonataError::D3137Error(format!("{UNSUPPORTED_REGEX}: {message}")))
}

/// One match as jsonata-js sees it: byte offsets into the string and the capture groups.
struct Found<'t> {
    start: usize,
    end: usize,
    captures: Captures<'t>,
}

/// The matches of `regex` in `text` in jsonata-js's order: the first match, then each next
/// one searched from the end of the previous, stopping at the end of the text; a zero-length
/// match after the first is error D1004 (it would never progress). At most `limit` matches
/// are returned, but the one after the last is still looked for, as jsonata-js does.
fn matches<'t>(
    context: &FunctionContext<'_, '_>,
    regex: &Regex,
    text: &'t str,
    limit: Option<usize>,
) -> jsonata_rs::Result<Vec<Found<'t>>> {
    let mut found = Vec::new();
    let found_at = |from: usize| {
        regex.captures_at(text, from).map(|captures| {
            let whole = captures.get(0).map_or(from..from, |m| m.range());
            Found {
                start: whole.start,
                end: whole.end,
                captures,
            }
        })
    };
    let Some(mut next) = found_at(0) else {
        return Ok(found);
    };
    loop {
        let end = next.end;
        if limit.is_some_and(|limit| found.len() >= limit) {
            break;
        }
        found.push(next);
        if end >= text.len() {
            break;
        }
        match found_at(end) {
            Some(after) if after.start == after.end => {
                return Err(JsonataError::D1004ZeroLengthMatch(context.char_index));
            }
            Some(after) => next = after,
            None => break,
        }
    }
    Ok(found)
}

/// A `limit` argument: absent is no limit; a negative number is `negative`'s error.
fn limit_arg(
    context: &FunctionContext<'_, '_>,
    value: &JValue,
    index: usize,
    negative: fn(usize) -> JsonataError,
) -> jsonata_rs::Result<Option<usize>> {
    match value {
        JValue::Undefined => Ok(None),
        JValue::Number(n) if *n < 0.0 => Err(negative(context.char_index)),
        JValue::Number(n) => Ok(Some(*n as usize)),
        _ => Err(signature_error(context, index)),
    }
}

/// The `{match, index, groups}` object of one match; `index` counts UTF-16 code units.
fn match_object<'a>(arena: &'a Bump, found: &Found<'_>, index: usize) -> &'a JValue<'a> {
    let object = JValue::object_with_capacity(arena, 3);
    let whole = found.captures.get(0).map_or("", |m| m.as_str());
    object.insert("match", JValue::string(arena, whole));
    object.insert("index", JValue::number(arena, index as f64));
    let groups = JValue::array_with_capacity(
        arena,
        found.captures.len().saturating_sub(1),
        ArrayFlags::empty(),
    );
    // A group that took no part in the match is left out, as `jsonata-rs` does.
    for group in found.captures.iter().skip(1).flatten() {
        groups.push(JValue::string(arena, group.as_str()));
    }
    object.insert("groups", groups);
    object
}

/// Counts UTF-16 code units of `text` up to byte offset `to`, continuing from `(byte, units)`.
fn utf16_offset(text: &str, from: (usize, usize), to: usize) -> usize {
    let (byte, units) = from;
    units + text.get(byte..to).map_or(0, |s| s.encode_utf16().count())
}

/// `$match(str, pattern [, limit])`: a sequence of `{match, index, groups}` objects.
fn fn_match<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 3)?;
    let text = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::String(text) => text.as_str(),
        _ => return Err(signature_error(&context, 1)),
    };
    let pattern = arg(args, 1);
    let regex = match pattern {
        // `jsonata-rs` takes a string as a pattern too.
        JValue::String(source) => compile(source, false, false)?,
        other => match compiled(other) {
            Some(regex) => regex?,
            None => return Err(JsonataError::D3010EmptyPattern(context.char_index)),
        },
    };
    let limit = match arg(args, 2) {
        JValue::Number(n) => Some(n.max(0.0) as usize),
        _ => None,
    };
    let result = JValue::array(context.arena, ArrayFlags::SEQUENCE);
    let mut position = (0, 0);
    for found in matches(&context, &regex, text, limit)? {
        let index = utf16_offset(text, position, found.start);
        position = (found.start, index);
        result.push(match_object(context.arena, &found, index));
    }
    Ok(result)
}

/// `$contains(str, pattern)` with a regular expression: whether it matches anywhere.
fn fn_contains<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    let Some(regex) = compiled(arg(args, 1)) else {
        return original(&context, args);
    };
    check_max_args(&context, args, 2)?;
    let text = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::String(text) => text.as_str(),
        _ => return Err(signature_error(&context, 1)),
    };
    Ok(JValue::bool(regex?.is_match(text)))
}

/// `$split(str, separator [, limit])` with a regular expression separator.
fn fn_split<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    let Some(regex) = compiled(arg(args, 1)) else {
        return original(&context, args);
    };
    check_max_args(&context, args, 3)?;
    let text = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::String(text) => text.as_str(),
        _ => return Err(signature_error(&context, 1)),
    };
    let limit = limit_arg(&context, arg(args, 2), 3, JsonataError::D3020NegativeLimit)?;
    let regex = regex?;
    let result = JValue::array(context.arena, ArrayFlags::empty());
    if limit == Some(0) {
        return Ok(result);
    }
    let found = matches(&context, &regex, text, limit)?;
    let mut start = 0;
    for m in &found {
        result.push(JValue::string(context.arena, &text[start..m.start]));
        start = m.end;
    }
    if limit.is_none_or(|limit| found.len() < limit) {
        result.push(JValue::string(context.arena, &text[start..]));
    }
    Ok(result)
}

/// `$replace(str, pattern, replacement [, limit])` with a regular expression pattern; the
/// replacement is a string with `$0`, `$1`... `$$` or a function of the match object.
fn fn_replace<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    let replacement = arg(args, 2);
    if replacement.is_function()
        && stacker::remaining_stack().is_some_and(|left| left < HIGHER_ORDER_RED_ZONE_BYTES)
    {
        return Err(JsonataError::U1001StackOverflow);
    }
    let Some(regex) = compiled(arg(args, 1)) else {
        return original(&context, args);
    };
    check_max_args(&context, args, 4)?;
    let text = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::String(text) => text.as_str(),
        _ => return Err(signature_error(&context, 1)),
    };
    let limit = limit_arg(&context, arg(args, 3), 4, JsonataError::D3011NegativeLimit)?;
    if !replacement.is_string() && !replacement.is_function() {
        return Err(signature_error(&context, 3));
    }
    let regex = regex?;
    if limit == Some(0) {
        return Ok(JValue::string(context.arena, text));
    }
    let mut result = String::with_capacity(text.len());
    let mut start = 0;
    let mut position = (0, 0);
    for found in matches(&context, &regex, text, limit)? {
        result.push_str(&text[start..found.start]);
        match replacement {
            JValue::String(template) => substitute(template, &found.captures, &mut result),
            function => {
                let index = utf16_offset(text, position, found.start);
                position = (found.start, index);
                let argument = match_object(context.arena, &found, index);
                let value = context
                    .trampoline_evaluate_value(context.evaluate_function(function, &[argument])?)?;
                let JValue::String(value) = value else {
                    return Err(JsonataError::D3012InvalidReplacementType(
                        context.char_index,
                    ));
                };
                result.push_str(value);
            }
        }
        start = found.end;
    }
    result.push_str(&text[start..]);
    Ok(JValue::string(context.arena, &result))
}

/// Writes `template` with jsonata-js's substitutions for one match: `$$` is `$`, `$0` the
/// match, `$N` group N (as many digits as the group count has, fewer if that names no group;
/// a group that did not take part is empty), and any other `$` itself.
fn substitute(template: &str, captures: &Captures<'_>, out: &mut String) {
    let groups = captures.len().saturating_sub(1);
    let max_digits = if groups == 0 {
        1
    } else {
        groups.to_string().len()
    };
    let group = |n: usize| captures.get(n).map_or("", |m| m.as_str());
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        if let Some(tail) = after.strip_prefix('0') {
            out.push_str(group(0));
            rest = tail;
            continue;
        }
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        let mut take = digits.min(max_digits);
        let mut number: Option<usize> = after[..take].parse().ok();
        if take > 1 && number.is_some_and(|n| n > groups) {
            take -= 1;
            number = after[..take].parse().ok();
        }
        match number {
            Some(n) => {
                if n >= 1 && groups > 0 {
                    out.push_str(group(n));
                }
                // jsonata-js skips the digits of the number as it prints (no leading zeros).
                rest = &after[n.to_string().len().min(after.len())..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

/// What JavaScript's `\s` matches.
const JS_SPACE: &str =
    r"\t\n\x0B\x0C\r \xA0\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";
/// What JavaScript's `.` matches without the `s` flag.
const JS_DOT: &str = r"[^\n\r\x{2028}\x{2029}]";
/// A class that matches nothing (JavaScript's `[]`).
const NOTHING: &str = r"[a&&b]";

/// Translates a JavaScript pattern (without the `u` flag, with Annex B's lenient syntax) into
/// `regex` crate syntax with the same meaning, or says which feature it cannot take.
pub(super) fn translate(pattern: &str, icase: bool, multiline: bool) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() * 2);
    if icase {
        out.push_str("(?i)");
    }
    if multiline {
        out.push_str("(?m)");
    }
    let refuse = |what: &str| {
        Err(format!(
            "/{pattern}/ uses {what}, which cannot be evaluated without backtracking"
        ))
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    return Err(format!("/{pattern}/ ends with a lone backslash"));
                };
                i += 1;
                match e {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str(&format!("[{JS_SPACE}]")),
                    'S' => out.push_str(&format!("[^{JS_SPACE}]")),
                    'b' => out.push_str(r"(?-u:\b)"),
                    'B' => out.push_str(r"(?-u:\B)"),
                    '1'..='9' => return refuse("a backreference"),
                    'k' if chars.get(i) == Some(&'<') => return refuse("a backreference"),
                    _ => {
                        let (literal, used) = escaped_char(&chars[i - 1..]);
                        // `used` counts from the escape's first character, already taken.
                        i = i + used - 1;
                        push_literal(&mut out, literal);
                    }
                }
            }
            '.' => out.push_str(JS_DOT),
            '(' => {
                if chars.get(i) == Some(&'?') {
                    match (chars.get(i + 1), chars.get(i + 2)) {
                        (Some('='), _) | (Some('!'), _) => return refuse("a lookahead"),
                        (Some('<'), Some('=')) | (Some('<'), Some('!')) => {
                            return refuse("a lookbehind")
                        }
                        (Some(':'), _) => {
                            out.push_str("(?:");
                            i += 2;
                            continue;
                        }
                        (Some('<'), _) => {
                            let name: String =
                                chars[i + 2..].iter().take_while(|&&c| c != '>').collect();
                            out.push_str(&format!("(?<{name}>"));
                            i += 2 + name.chars().count() + 1;
                            continue;
                        }
                        _ => {}
                    }
                }
                out.push('(');
            }
            '[' => {
                let (class, used) = class(&chars[i..], pattern)?;
                i += used;
                out.push_str(&class);
            }
            '{' => match braced_quantifier(&chars[i..]) {
                Some(used) => {
                    out.extend(&chars[i - 1..i + used]);
                    i += used;
                }
                None => out.push_str(r"\{"),
            },
            '}' | ']' => push_literal(&mut out, Some(c)),
            '^' | '$' | '|' | ')' | '*' | '+' | '?' => out.push(c),
            other => push_literal(&mut out, Some(other)),
        }
    }
    Ok(out)
}

/// Appends one literal character (`None`: one that cannot occur in text, a lone surrogate).
fn push_literal(out: &mut String, c: Option<char>) {
    match c {
        Some(c) => out.push_str(&format!(r"\x{{{:X}}}", u32::from(c))),
        None => out.push_str(NOTHING),
    }
}

/// The length of a `{n}`, `{n,}` or `{n,m}` quantifier body after its `{`, if one starts here.
fn braced_quantifier(chars: &[char]) -> Option<usize> {
    let digits = |from: usize| {
        chars[from..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let low = digits(0);
    if low == 0 {
        return None;
    }
    let mut at = low;
    if chars.get(at) == Some(&',') {
        at += 1;
        at += digits(at);
    }
    (chars.get(at) == Some(&'}')).then_some(at + 1)
}

/// The character a character escape stands for, `chars` starting at the character after the
/// backslash, and how many characters the escape takes (at least one). `None` is a lone
/// surrogate, which no Rust string holds.
fn escaped_char(chars: &[char]) -> (Option<char>, usize) {
    let hex = |from: usize, count: usize| -> Option<u32> {
        let digits: String = chars.get(from..from + count)?.iter().collect();
        if digits.chars().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(&digits, 16).ok()
        } else {
            None
        }
    };
    match chars[0] {
        't' => (Some('\t'), 1),
        'n' => (Some('\n'), 1),
        'v' => (Some('\u{0B}'), 1),
        'f' => (Some('\u{0C}'), 1),
        'r' => (Some('\r'), 1),
        'c' => match chars.get(1) {
            Some(letter) if letter.is_ascii_alphabetic() => {
                (char::from_u32(u32::from(*letter) % 32), 2)
            }
            // Annex B: a backslash, then `c` read again as an ordinary character.
            _ => (Some('\\'), 0),
        },
        'x' => match hex(1, 2) {
            Some(code) => (char::from_u32(code), 3),
            None => (Some('x'), 1),
        },
        'u' => match hex(1, 4) {
            Some(high @ 0xD800..=0xDBFF) => {
                let low = (chars.get(5) == Some(&'\\') && chars.get(6) == Some(&'u'))
                    .then(|| hex(7, 4))
                    .flatten()
                    .filter(|low| (0xDC00..=0xDFFF).contains(low));
                match low {
                    Some(low) => (
                        char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)),
                        11,
                    ),
                    None => (None, 5),
                }
            }
            Some(code) => (char::from_u32(code), 5),
            None => (Some('u'), 1),
        },
        '0' if !chars.get(1).is_some_and(char::is_ascii_digit) => (Some('\0'), 1),
        '0'..='7' => {
            // A legacy octal escape (Annex B): up to three digits, at most \377.
            let mut code = 0u32;
            let mut used = 0;
            while used < 3 {
                match chars.get(used).and_then(|c| c.to_digit(8)) {
                    Some(d) if code * 8 + d <= 0o377 => {
                        code = code * 8 + d;
                        used += 1;
                    }
                    _ => break,
                }
            }
            (char::from_u32(code), used.max(1))
        }
        other => (Some(other), 1),
    }
}

/// One member of a character class: a character, or a class escape (`\d`...) in `regex` syntax.
enum Member {
    Char(Option<char>),
    Set(String),
}

/// Translates a class, `chars` starting after its `[`; returns it and how many characters it
/// took (through its `]`).
fn class(chars: &[char], pattern: &str) -> Result<(String, usize), String> {
    let mut i = 0;
    let negated = chars.first() == Some(&'^');
    if negated {
        i += 1;
    }
    let mut members: Vec<Member> = Vec::new();
    // Ranges as (low, high), kept apart from single members.
    let mut ranges: Vec<(char, char)> = Vec::new();
    let member = |i: &mut usize| -> Result<Member, String> {
        let c = chars[*i];
        *i += 1;
        if c != '\\' {
            return Ok(Member::Char(Some(c)));
        }
        let Some(&e) = chars.get(*i) else {
            return Err(format!("/{pattern}/ has an unterminated character class"));
        };
        *i += 1;
        Ok(match e {
            'd' => Member::Set("0-9".into()),
            'D' => Member::Set("[^0-9]".into()),
            'w' => Member::Set("0-9A-Za-z_".into()),
            'W' => Member::Set("[^0-9A-Za-z_]".into()),
            's' => Member::Set(JS_SPACE.into()),
            'S' => Member::Set(format!("[^{JS_SPACE}]")),
            'b' => Member::Char(Some('\u{08}')),
            '-' => Member::Char(Some('-')),
            _ => {
                let (literal, used) = escaped_char(&chars[*i - 1..]);
                // `used` counts from the escape's first character, already taken.
                *i = *i + used - 1;
                Member::Char(literal)
            }
        })
    };
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(format!("/{pattern}/ has an unterminated character class"));
        };
        if c == ']' {
            i += 1;
            break;
        }
        let first = member(&mut i)?;
        let is_range = chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&c| c != ']');
        if let (Member::Char(low), true) = (&first, is_range) {
            let mut j = i + 1;
            let second = member(&mut j)?;
            if let Member::Char(high) = second {
                i = j;
                match (low, high) {
                    (Some(low), Some(high)) if *low <= high => ranges.push((*low, high)),
                    (Some(_), Some(_)) => {
                        return Err(format!("/{pattern}/ has a class range out of order"))
                    }
                    // A lone surrogate as an end: no text holds it.
                    _ => {}
                }
                continue;
            }
        }
        members.push(first);
    }
    let mut body = String::new();
    for member in &members {
        match member {
            Member::Char(Some(c)) => body.push_str(&format!(r"\x{{{:X}}}", u32::from(*c))),
            Member::Char(None) => {}
            Member::Set(set) if set.starts_with('[') => body.push_str(set),
            Member::Set(set) => body.push_str(&format!("[{set}]")),
        }
    }
    for (low, high) in &ranges {
        body.push_str(&format!(
            r"\x{{{:X}}}-\x{{{:X}}}",
            u32::from(*low),
            u32::from(*high)
        ));
    }
    let class = match (negated, body.is_empty()) {
        (false, true) => NOTHING.to_string(),
        (true, true) => r"[\s\S]".to_string(),
        (false, false) => format!("[{body}]"),
        (true, false) => format!("[^{body}]"),
    };
    Ok((class, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_match(pattern: &str, text: &str) -> bool {
        compile(pattern, false, false)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .is_match(text)
    }

    #[test]
    fn javascript_syntax_keeps_its_meaning() {
        assert!(is_match(r"^hello\$", "hello$world"));
        assert!(is_match(r"^\d+$", "123"));
        assert!(!is_match(r"^\d+$", "١٢٣"), "JavaScript's \\d is ASCII");
        assert!(is_match(r"^[\w-]+$", "a_b-c"));
        assert!(is_match(r"^a.c$", "abc"));
        assert!(!is_match(r"^a.c$", "a\rc"), "JavaScript's . stops at \\r");
        assert!(is_match(r"a{2}", "aa"));
        assert!(
            is_match(r"a{x", "a{x"),
            "a brace that starts no quantifier is literal"
        );
        assert!(is_match(r"x}", "x}"));
        assert!(is_match(r"[[]", "["));
        assert!(is_match(r"[a&&b]", "&"));
        assert!(is_match(r"\u00e9", "é"));
        assert!(is_match(r"\uD83D\uDE00", "😀"));
        assert!(is_match(r"\x41\/", "A/"));
        assert!(is_match(r"[^]", "\n"));
        assert!(!is_match(r"[]", "a"));
        assert!(is_match(r"\bword\b", "a word here"));
        assert!(!is_match(r"\bé", "é"), "JavaScript's \\b is ASCII");
        assert!(is_match(r"a\Bb", "ab"));
        assert!(is_match(r"(?<year>\d{4})-(?:\d\d)", "2024-01"));
        assert!(compile("abc", true, false)
            .expect("compiles")
            .is_match("ABC"));
        assert!(compile("^b$", false, true)
            .expect("compiles")
            .is_match("a\nb\nc"));
        assert!(!compile("^b$", false, false)
            .expect("compiles")
            .is_match("a\nb\nc"));
    }

    #[test]
    fn backtracking_features_are_refused_by_name() {
        for (pattern, feature) in [
            (r"(a)\1", "a backreference"),
            (r"(?<x>a)\k<x>", "a backreference"),
            (r"a(?=b)", "a lookahead"),
            (r"a(?!b)", "a lookahead"),
            (r"(?<=a)b", "a lookbehind"),
            (r"(?<!a)b", "a lookbehind"),
        ] {
            let error = compile(pattern, false, false)
                .expect_err(pattern)
                .to_string();
            assert!(
                error.contains(UNSUPPORTED_REGEX) && error.contains(feature),
                "{pattern}: {error}"
            );
        }
    }

    #[test]
    fn catastrophic_patterns_run_in_linear_time() {
        let text = format!("{}!", "a".repeat(100_000));
        assert!(!is_match(r"^(a+)+$", &text));
        assert!(is_match(r"(a+)+!$", &text));
        assert!(!is_match(r"^(a|aa)*$", &text));
    }
}

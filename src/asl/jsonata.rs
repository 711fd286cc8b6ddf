//! JSONata expressions as Step Functions evaluates them in `QueryLanguage: JSONata` states.
//!
//! Owns the `{% ... %}` surround rule, evaluation of one
//! expression with `$states` and the workflow variables bound, the recursive walk over template
//! fields (`Arguments`, `Output`, `Assign`, `Items`, ...), and the `States.QueryEvaluationError`
//! causes AWS reports. The language itself is the `jsonata-rs` crate; this module adds the
//! functions Step Functions provides on top of JSONata (`$partition`, `$range`, `$hash`,
//! `$random` with a seed, `$parse`) and the JSONata 2.0 built-ins `jsonata-rs` lacks that are
//! simple to provide (`$type`, `$average`, `$spread`, `$shuffle`, `$sift`, `$formatBase`,
//! `$encodeUrl`, `$encodeUrlComponent`, `$decodeUrl`, `$decodeUrlComponent`). `$formatNumber`,
//! `$formatInteger` and `$parseInteger` are missing; `$eval` is absent, as on AWS.
//!
//! `jsonata-rs` recurses on the thread's stack and does not bound every recursion, so parsing
//! and evaluation run on a stack segment sized from the expression (see `stack_needed`) and
//! recursion through higher-order built-ins is checked against the stack left.
//!
//! Which fields hold expressions, what type each must yield and the state-level
//! "An error occurred while executing the state ..." prefix belong to the engine.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, Error as JsonataError, FunctionContext, JsonAta, Value as JValue};
use md5::Md5;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Number, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::asl::error::{StatesError, QUERY_EVALUATION_ERROR};

/// Opens a JSONata expression field.
const OPEN: &str = "{%";
/// Closes a JSONata expression field.
const CLOSE: &str = "%}";

/// Deepest evaluation nesting allowed. AWS holds the same bound: it accepts a non-tail recursive
/// `$f(31)` and refuses `$f(32)`, and so does `jsonata-rs` at this depth.
const MAX_EVALUATION_DEPTH: usize = 100;
/// Longest time one expression may evaluate, in milliseconds.
const TIME_LIMIT_MILLIS: usize = 5_000;
/// Largest [`nesting_estimate`] accepted for expression text: the `jsonata-rs` parser recurses
/// once per level of the syntax tree, with large frames, before any evaluation bound applies.
/// Evaluation refuses anything nested deeper than [`MAX_EVALUATION_DEPTH`] anyway.
const MAX_TEXT_NESTING: usize = 500;
/// Deepest array/object nesting accepted in a result.
const MAX_RESULT_DEPTH: usize = 256;
/// Stack one syntax-tree level may take while `jsonata-rs` parses or evaluates it, which it
/// does recursively with large frames (measured up to ~32 KiB in debug and ~8 KiB in release
/// builds; doubled here).
const STACK_PER_LEVEL_BYTES: usize = if cfg!(debug_assertions) {
    64 * 1024
} else {
    16 * 1024
};
/// Stack kept for everything else: this module's own recursion over values, the caller.
const STACK_BASE_BYTES: usize = 512 * 1024;
/// Stack a higher-order built-in must find left before it calls back into the expression: room
/// for a full [`MAX_EVALUATION_DEPTH`] of nested evaluation.
const HIGHER_ORDER_RED_ZONE_BYTES: usize =
    MAX_EVALUATION_DEPTH * STACK_PER_LEVEL_BYTES + STACK_BASE_BYTES;
/// Most values (array members, object members, scalars) a result or a `$range` may hold; AWS
/// bounds expression memory at roughly this many numbers.
const MAX_RESULT_VALUES: usize = 1_000_000;
/// AWS's message when an expression needs more memory than it allows.
const MEMORY_LIMIT_MESSAGE: &str =
    "Expression evaluation memory limit exceeded: Check for excessive memory usage";

/// The built-ins `jsonata-rs` binds after the caller's variables, which would hide a workflow
/// variable of the same name; such variables are re-bound inside the expression.
const ENGINE_BUILTINS: &[&str] = &[
    "abs",
    "append",
    "assert",
    "base64decode",
    "base64encode",
    "boolean",
    "ceil",
    "contains",
    "count",
    "distinct",
    "each",
    "error",
    "exists",
    "fromMillis",
    "toMillis",
    "single",
    "filter",
    "floor",
    "join",
    "keys",
    "length",
    "lookup",
    "lowercase",
    "map",
    "match",
    "max",
    "merge",
    "min",
    "not",
    "now",
    "number",
    "pad",
    "power",
    "random",
    "reduce",
    "replace",
    "reverse",
    "round",
    "sort",
    "split",
    "sqrt",
    "string",
    "substring",
    "substringBefore",
    "substringAfter",
    "sum",
    "trim",
    "uppercase",
    "zip",
    "millis",
    "uuid",
];

/// The built-ins that call back into the expression, with their arities. `jsonata-rs` does not
/// count recursion through them towards [`MAX_EVALUATION_DEPTH`], so they are replaced by guards
/// that check the stack left before calling the original.
const HIGHER_ORDER_BUILTINS: &[(&str, usize)] = &[
    ("map", 2),
    ("filter", 2),
    ("each", 2),
    ("reduce", 3),
    ("single", 2),
    ("sort", 2),
    ("replace", 4),
];
/// Prefix of the bindings that keep the original higher-order built-ins.
const ORIGINAL_BUILTIN_PREFIX: &str = "__stepfn_builtin_";
/// Prefix of the bindings of the guards that replace them.
const GUARDED_BUILTIN_PREFIX: &str = "__stepfn_guarded_";
/// Name under which the seeded `$random` is bound before it replaces the built-in one.
const SEEDED_RANDOM_BINDING: &str = "__stepfn_random";
/// Name under which `$millis` (the step's time) is bound before it replaces the built-in one.
const MILLIS_BINDING: &str = "__stepfn_millis";
/// Name under which the seeded `$uuid` is bound before it replaces the built-in one.
const UUID_BINDING: &str = "__stepfn_uuid";
/// Prefix of the binding that carries a workflow variable named like a built-in.
const SHADOWED_VARIABLE_PREFIX: &str = "__stepfn_var_";

/// What an expression may read besides `$states` and the variables: the time of the step it
/// runs in and the seed of the step's randomness. `$now()`, `$millis()`, `$uuid()`,
/// `$random()` and `$shuffle()` read only these, so the same step evaluates to the same
/// values every time (a replay, a virtual clock), and `$now()` is the step's time.
#[derive(Debug)]
pub struct Moment {
    now_ms: i64,
    seed: u64,
    /// Evaluations so far: each one draws from its own stream of the seed.
    evaluations: Cell<u64>,
}

impl Moment {
    /// The moment of a step at `now_ms` (ms since the epoch) with randomness seeded by `seed`.
    pub fn new(now_ms: i64, seed: u64) -> Moment {
        Moment {
            now_ms,
            seed,
            evaluations: Cell::new(0),
        }
    }

    /// Makes this moment the one the native functions read, until the guard drops.
    fn draws(&self) -> DrawGuard {
        let n = self.evaluations.get();
        self.evaluations.set(n + 1);
        let seed = self.seed ^ n.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let previous = DRAWS.with(|d| {
            d.borrow_mut().replace(Draws {
                now_ms: self.now_ms,
                rng: StdRng::seed_from_u64(seed),
            })
        });
        DrawGuard(previous)
    }
}

/// The time and randomness of the evaluation running on this thread.
struct Draws {
    now_ms: i64,
    rng: StdRng,
}

thread_local! {
    static DRAWS: RefCell<Option<Draws>> = const { RefCell::new(None) };
}

/// Puts back the evaluation's predecessor (evaluations do not nest today; this keeps them
/// right if they ever do).
struct DrawGuard(Option<Draws>);

impl Drop for DrawGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        DRAWS.with(|d| *d.borrow_mut() = previous);
    }
}

/// Runs `f` with the randomness of the evaluation on this thread (a fixed seed outside one).
fn with_rng<T>(f: impl FnOnce(&mut StdRng) -> T) -> T {
    DRAWS.with(|d| match d.borrow_mut().as_mut() {
        Some(draws) => f(&mut draws.rng),
        None => f(&mut StdRng::seed_from_u64(0)),
    })
}

/// True if `s` is a JSONata expression field: starts with `{%` and ends with `%}`.
///
/// Spec (AWS lexer rule): the string must begin with `{%` and end with `%}` exactly; a leading
/// or trailing space makes it a plain string literal.
pub fn is_expression(s: &str) -> bool {
    expression_text(s).is_some()
}

/// The expression text inside `{% ... %}`, trimmed of surrounding whitespace; `None` if `s` is
/// not an expression field.
pub fn expression_text(s: &str) -> Option<&str> {
    s.strip_prefix(OPEN)
        .and_then(|rest| rest.strip_suffix(CLOSE))
        .map(str::trim)
}

/// Evaluates one expression with `$states` bound to `states` (an object with `input`, `result`,
/// `errorOutput`, `context` as available) and each variable in `vars` bound as `$name`.
///
/// `expr` is the expression text or a whole `{% ... %}` field. An undefined result (and a
/// function, which JSON cannot hold) returns `Ok(None)`. Prefer [`eval_field`] or
/// [`eval_template`] where the field is known: their causes name it, as AWS's do.
///
/// # Errors
/// `States.QueryEvaluationError` when the expression does not parse or throws.
pub fn eval(
    expr: &str,
    states: &Value,
    vars: &Map<String, Value>,
    moment: &Moment,
) -> Result<Option<Value>, StatesError> {
    let text = expression_text(expr).unwrap_or(expr);
    evaluate(text, states, vars, moment).map_err(|failure| {
        query_error(format!(
            "The JSONata expression '{text}' threw an error during evaluation{}",
            failure.tail()
        ))
    })
}

/// Evaluates the expression of field `field` (its path in the state, e.g. `Items`,
/// `Output/result`, `Choices[0]/Condition`), which must yield a value.
///
/// `expr` is the expression text or a whole `{% ... %}` field.
///
/// # Errors
/// `States.QueryEvaluationError` when the expression throws or returns nothing (undefined),
/// with AWS's cause texts.
pub fn eval_field(
    expr: &str,
    field: &str,
    states: &Value,
    vars: &Map<String, Value>,
    moment: &Moment,
) -> Result<Value, StatesError> {
    let text = expression_text(expr).unwrap_or(expr);
    match evaluate(text, states, vars, moment) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(query_error(format!(
            "The JSONata expression '{text}' specified for the field '{field}' returned nothing (undefined)."
        ))),
        Err(failure) => Err(query_error(format!(
            "The JSONata expression '{text}' specified for the field '{field}' threw an error during evaluation{}",
            failure.tail()
        ))),
    }
}

/// Evaluates a JSONata template value (`Arguments`, `Output`, `Assign`, `Items`, ...): a string
/// that [`is_expression`] is evaluated; objects and arrays are walked recursively; every other
/// value is literal.
///
/// `field` names the field for error causes; the walk extends it with `/key` per object key and
/// `[i]` per array index (`Output/a/b[0]`).
///
/// # Errors
/// `States.QueryEvaluationError` from the first expression that throws or returns nothing.
pub fn eval_template(
    value: &Value,
    field: &str,
    states: &Value,
    vars: &Map<String, Value>,
    moment: &Moment,
) -> Result<Value, StatesError> {
    match value {
        Value::String(s) if is_expression(s) => eval_field(s, field, states, vars, moment),
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, item) in map {
                let path = format!("{field}/{key}");
                out.insert(
                    key.clone(),
                    eval_template(item, &path, states, vars, moment)?,
                );
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| eval_template(item, &format!("{field}[{i}]"), states, vars, moment))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        literal => Ok(literal.clone()),
    }
}

/// Checks that an evaluated field has the expected JSON type, with AWS's message on failure.
///
/// `expected` is a JSON type name (`array`, `object`, `string`, `number`, `boolean`, `null`)
/// or `integer` (a number without a fractional part). `expr` is the expression text or the
/// whole `{% ... %}` field.
///
/// # Errors
/// `States.QueryEvaluationError`: "The JSONata expression '...' specified for the field '...'
/// returned an unexpected result type. Expected '...', but was '...' for value: ...".
pub fn expect_type(
    expr: &str,
    field: &str,
    value: &Value,
    expected: &str,
) -> Result<(), StatesError> {
    let actual = type_name(value);
    let matches = actual == expected
        || (expected == "integer" && value.as_f64().is_some_and(|n| n.fract() == 0.0));
    if matches {
        return Ok(());
    }
    let text = expression_text(expr).unwrap_or(expr);
    let shown = serde_json::to_string(value).unwrap_or_default();
    Err(query_error(format!(
        "The JSONata expression '{text}' specified for the field '{field}' returned an unexpected \
         result type. Expected '{expected}', but was '{actual}' for value: {shown}"
    )))
}

/// The JSON type name of `value`, as AWS writes it in causes.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn query_error(cause: String) -> StatesError {
    StatesError::new(QUERY_EVALUATION_ERROR, cause)
}

/// Why an evaluation failed, before it is phrased for a field.
#[derive(Debug)]
enum Failure {
    /// A JSONata error, reported as `CODE: message`.
    Coded(String),
    /// A failure without a JSONata code (a limit of this interpreter).
    Bare(String),
}

impl Failure {
    /// The end of the cause: AWS writes `. CODE: message` after a coded JSONata error and
    /// `: message` before a bare one.
    fn tail(&self) -> String {
        match self {
            Failure::Coded(message) => format!(". {message}"),
            Failure::Bare(message) => format!(": {message}"),
        }
    }
}

impl From<JsonataError> for Failure {
    fn from(error: JsonataError) -> Self {
        match error {
            // Raised by `$range`; AWS reports the memory limit without a code.
            JsonataError::D3137Error(message) if message == MEMORY_LIMIT_MESSAGE => {
                Failure::Bare(message)
            }
            error => Failure::Coded(describe(&error)),
        }
    }
}

/// Parses and evaluates `text`; `Ok(None)` is an undefined result.
fn evaluate(
    text: &str,
    states: &Value,
    vars: &Map<String, Value>,
    moment: &Moment,
) -> Result<Option<Value>, Failure> {
    let nesting = nesting_estimate(text);
    if nesting > MAX_TEXT_NESTING {
        return Err(Failure::Bare(format!(
            "Expression nests {nesting} levels deep, more than {MAX_TEXT_NESTING}"
        )));
    }
    // jsonata-rs recurses on the thread's stack; when too little is left the work moves to a
    // fresh segment (reserved, committed only as used), so a deep expression fails instead of
    // overflowing the stack.
    let needed = stack_needed(text, nesting);
    stacker::maybe_grow(needed, 2 * needed, || {
        // jsonata-rs is incomplete and has panicking paths; a panic there must fail the state,
        // not the execution thread.
        let _draws = moment.draws();
        catch_unwind(AssertUnwindSafe(|| evaluate_unguarded(text, states, vars))).unwrap_or_else(
            |_| {
                Err(Failure::Bare(
                    "The JSONata engine does not support this expression".to_string(),
                ))
            },
        )
    })
}

fn evaluate_unguarded(
    text: &str,
    states: &Value,
    vars: &Map<String, Value>,
) -> Result<Option<Value>, Failure> {
    let arena = Bump::new();
    // Parse the text as written first, so syntax errors point into it.
    let parsed = JsonAta::new(text, &arena)?;
    // JSONata names variables only literally, so a variable the text does not mention cannot be
    // read; copying only the mentioned ones keeps large inputs out of unrelated expressions.
    let mentions = |name: &str| text.contains(&format!("${name}"));
    let used: Vec<(&String, &Value)> = vars.iter().filter(|(name, _)| mentions(name)).collect();
    let states = if mentions("states") {
        states
    } else {
        &Value::Null
    };
    let prelude = prelude(text, used.iter().map(|(name, _)| name.as_str()));
    let program = if prelude.is_empty() {
        parsed
    } else {
        JsonAta::new(&format!("({prelude}{text})"), &arena)?
    };
    register_functions(&program, &arena);
    for (name, value) in &used {
        let binding = if ENGINE_BUILTINS.contains(&name.as_str()) {
            format!("{SHADOWED_VARIABLE_PREFIX}{name}")
        } else {
            name.to_string()
        };
        program.assign_var(&binding, to_jsonata(&arena, value));
    }
    // Bound last: `$states` is reserved and no workflow variable may hide it.
    program.assign_var("states", to_jsonata(&arena, states));
    let result =
        program.evaluate_timeboxed(None, Some(MAX_EVALUATION_DEPTH), Some(TIME_LIMIT_MILLIS))?;
    let mut budget = MAX_RESULT_VALUES;
    let Some(mut value) = from_jsonata(result, 0, &mut budget)? else {
        return Ok(None);
    };
    if contains_object(&value) {
        KeyOrder::new(text, states, used.iter().map(|(_, value)| *value)).apply(&mut value);
    }
    Ok(Some(value))
}

/// Bindings that must be made inside the expression because `jsonata-rs` binds its built-ins
/// after the caller's: the guarded higher-order built-ins, the seeded `$random` and workflow
/// variables named like a built-in (bound last, so they win).
fn prelude<'v>(text: &str, variables: impl Iterator<Item = &'v str>) -> String {
    let mut prelude = String::new();
    for (name, _) in HIGHER_ORDER_BUILTINS {
        if text.contains(&format!("${name}")) {
            prelude.push_str(&format!(
                "${ORIGINAL_BUILTIN_PREFIX}{name} := ${name}; ${name} := ${GUARDED_BUILTIN_PREFIX}{name}; "
            ));
        }
    }
    if text.contains("$random") {
        prelude.push_str(&format!("$random := ${SEEDED_RANDOM_BINDING}; "));
    }
    if text.contains("$millis") || text.contains("$now") {
        prelude.push_str(&format!("$millis := ${MILLIS_BINDING}; "));
    }
    if text.contains("$now") {
        // `$now(picture, timezone)` is `$fromMillis($millis(), picture, timezone)` (JSONata
        // 2.0); the arguments given are passed on, so `$fromMillis` checks them.
        prelude.push_str(
            "$now := function($picture, $timezone) { $exists($timezone) \
             ? $fromMillis($millis(), $picture, $timezone) : $exists($picture) \
             ? $fromMillis($millis(), $picture) : $fromMillis($millis()) }; ",
        );
    }
    if text.contains("$uuid") {
        prelude.push_str(&format!("$uuid := ${UUID_BINDING}; "));
    }
    for name in variables {
        if ENGINE_BUILTINS.contains(&name) {
            prelude.push_str(&format!("${name} := ${SHADOWED_VARIABLE_PREFIX}{name}; "));
        }
    }
    prelude
}

/// Stack to have at hand before parsing and evaluating `text` of [`nesting_estimate`] `nesting`.
///
/// Without a function definition evaluation nests no deeper than the syntax tree; with one, a
/// recursion may reach [`MAX_EVALUATION_DEPTH`], and recursion through higher-order built-ins
/// needs their red zone on top.
fn stack_needed(text: &str, nesting: usize) -> usize {
    let tree = nesting * STACK_PER_LEVEL_BYTES + STACK_BASE_BYTES;
    if text.contains("function") || text.contains('λ') {
        tree + 2 * HIGHER_ORDER_RED_ZONE_BYTES
    } else {
        tree
    }
}

/// An upper estimate of the syntax-tree depth of `text`: open brackets plus the operators that
/// chain within each open group since its last `,` or `;` (a `?` counts twice), outside string
/// literals and comments.
fn nesting_estimate(text: &str) -> usize {
    // Operators chained in each open group since its last separator; the outermost is the text.
    let mut groups: Vec<usize> = vec![0];
    let mut chained = 0usize;
    let mut deepest = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                while let Some(inner) = chars.next() {
                    if inner == '\\' {
                        chars.next();
                    } else if inner == c {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut previous = ' ';
                for inner in chars.by_ref() {
                    if previous == '*' && inner == '/' {
                        break;
                    }
                    previous = inner;
                }
            }
            '(' | '[' | '{' => groups.push(0),
            ')' | ']' | '}' => {
                if groups.len() > 1 {
                    chained -= groups.pop().unwrap_or(0);
                }
            }
            ',' | ';' => {
                if let Some(last) = groups.last_mut() {
                    chained -= *last;
                    *last = 0;
                }
            }
            _ => {
                let weight = match c {
                    '?' => 2,
                    '+' | '-' | '*' | '/' | '%' | '&' | '=' | '<' | '>' | '!' | '.' | '~' | '|'
                    | '^' | '@' | '#' => 1,
                    c if c.is_alphanumeric() || c == '_' || c == '$' => {
                        let mut word = String::from(c);
                        while let Some(&next) = chars.peek() {
                            if !(next.is_alphanumeric() || next == '_' || next == '$') {
                                break;
                            }
                            word.push(next);
                            chars.next();
                        }
                        usize::from(matches!(word.as_str(), "and" | "or" | "in"))
                    }
                    _ => 0,
                };
                if let Some(last) = groups.last_mut() {
                    *last += weight;
                    chained += weight;
                }
            }
        }
        deepest = deepest.max(groups.len() + chained);
    }
    deepest
}

/// A JSONata error as AWS reports it: `CODE: message`, with function names quoted as
/// jsonata-js renders them.
fn describe(error: &JsonataError) -> String {
    let code = error.code();
    match error {
        JsonataError::T0410ArgumentNotValid(_, index, name) => {
            format!(
                "{code}: Argument {index} of function \"{name}\" does not match function signature"
            )
        }
        JsonataError::T0412ArgumentMustBeArrayOfType(_, index, name, kind) => {
            let kind = if kind == "undefined" {
                kind.clone()
            } else {
                format!("\"{kind}s\"")
            };
            format!("{code}: Argument {index} of function \"{name}\" must be an array of {kind}")
        }
        _ => format!("{code}: {}", split_position(error).1),
    }
}

/// Splits `jsonata-rs`'s `CODE @ position: message` rendering into position and message.
fn split_position(error: &JsonataError) -> (Option<usize>, String) {
    let rendered = error.to_string();
    let rest = rendered
        .strip_prefix(error.code())
        .and_then(|r| r.strip_prefix(" @ "))
        .unwrap_or(&rendered);
    if let Some((position, message)) = rest.split_once(": ") {
        if let Ok(position) = position.parse::<usize>() {
            return (Some(position), message.to_string());
        }
    }
    if let Some((position, message)) = rest.split_once(' ') {
        if let Ok(position) = position.parse::<usize>() {
            return (Some(position), message.to_string());
        }
    }
    (None, rest.to_string())
}

/// Copies a JSON value into the arena.
fn to_jsonata<'a>(arena: &'a Bump, value: &Value) -> &'a JValue<'a> {
    match value {
        Value::Null => JValue::null(arena),
        Value::Bool(b) => JValue::bool(*b),
        Value::Number(n) => JValue::number(arena, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JValue::string(arena, s),
        Value::Array(items) => {
            let array = JValue::array_with_capacity(arena, items.len(), ArrayFlags::empty());
            for item in items {
                array.push(to_jsonata(arena, item));
            }
            array
        }
        Value::Object(map) => {
            let object = JValue::object_with_capacity(arena, map.len());
            for (key, item) in map {
                object.insert(key, to_jsonata(arena, item));
            }
            object
        }
    }
}

/// Converts a result to JSON. `None` stands for what JSON cannot hold: undefined, functions and
/// regular expressions; inside an object such a member is left out, inside an array it is
/// dropped if undefined and `null` otherwise (as `JSON.stringify` does).
///
/// `budget` is the number of values still allowed in the result.
fn from_jsonata<'a>(
    value: &'a JValue<'a>,
    depth: usize,
    budget: &mut usize,
) -> Result<Option<Value>, Failure> {
    if depth > MAX_RESULT_DEPTH {
        return Err(Failure::Bare(format!(
            "The result nests arrays or objects deeper than {MAX_RESULT_DEPTH} levels"
        )));
    }
    *budget = budget
        .checked_sub(1)
        .ok_or_else(|| Failure::Bare(MEMORY_LIMIT_MESSAGE.to_string()))?;
    Ok(Some(match value {
        JValue::Undefined
        | JValue::Regex(_)
        | JValue::Lambda { .. }
        | JValue::NativeFn { .. }
        | JValue::Transformer { .. } => return Ok(None),
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number_to_json(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(..) | JValue::Range(..) => {
            let mut items = Vec::with_capacity(value.len().min(*budget));
            for member in value.members() {
                match from_jsonata(member, depth + 1, budget)? {
                    Some(item) => items.push(item),
                    None if member.is_undefined() => {}
                    None => items.push(Value::Null),
                }
            }
            Value::Array(items)
        }
        JValue::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, member) in map.iter() {
                if let Some(item) = from_jsonata(member, depth + 1, budget)? {
                    out.insert(key.to_string(), item);
                }
            }
            Value::Object(out)
        }
    }))
}

/// A JSONata number as JSON: integral values become JSON integers (`1`, not `1.0`); JSON has no
/// non-finite numbers, so those become the strings AWS writes (`"Infinity"`, `"NaN"`).
fn number_to_json(n: f64) -> Value {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
    if n.is_nan() {
        return Value::String("NaN".to_string());
    }
    if n.is_infinite() {
        let name = if n > 0.0 { "Infinity" } else { "-Infinity" };
        return Value::String(name.to_string());
    }
    if n.fract() == 0.0 {
        if (-TWO_POW_63..TWO_POW_63).contains(&n) {
            return Value::Number(Number::from(n as i64));
        }
        if (0.0..TWO_POW_64).contains(&n) {
            return Value::Number(Number::from(n as u64));
        }
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

fn contains_object(value: &Value) -> bool {
    match value {
        Value::Object(_) => true,
        Value::Array(items) => items.iter().any(contains_object),
        _ => false,
    }
}

/// Restores a readable key order in result objects; `jsonata-rs` objects are hash maps.
///
/// An object with exactly the keys of an object in `$states` or the variables takes that
/// object's order. An object with keys from the inputs that the expression does not name (a
/// `$merge` or a transform of input data) lists those input keys first, in input order, then the
/// others. Any other object (a constructor) follows the order in which the expression names its
/// keys. Remaining ties are broken alphabetically.
struct KeyOrder<'t> {
    text: &'t str,
    /// Sorted key set -> key order of the first input object with that key set.
    exact: HashMap<Vec<String>, Vec<String>>,
    /// Key -> index of its first appearance in the inputs.
    first_seen: HashMap<String, usize>,
}

impl<'t> KeyOrder<'t> {
    fn new<'v>(text: &'t str, states: &Value, vars: impl Iterator<Item = &'v Value>) -> Self {
        let mut order = KeyOrder {
            text,
            exact: HashMap::new(),
            first_seen: HashMap::new(),
        };
        order.learn(states, 0);
        for value in vars {
            order.learn(value, 0);
        }
        order
    }

    fn learn(&mut self, value: &Value, depth: usize) {
        if depth > MAX_RESULT_DEPTH {
            return;
        }
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.learn(item, depth + 1)),
            Value::Object(map) => {
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in &keys {
                    let next = self.first_seen.len();
                    self.first_seen.entry(key.clone()).or_insert(next);
                }
                let mut sorted = keys.clone();
                sorted.sort();
                self.exact.entry(sorted).or_insert(keys);
                map.values().for_each(|item| self.learn(item, depth + 1));
            }
            _ => {}
        }
    }

    fn apply(&self, value: &mut Value) {
        match value {
            Value::Array(items) => items.iter_mut().for_each(|item| self.apply(item)),
            Value::Object(map) => {
                let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
                entries.iter_mut().for_each(|(_, item)| self.apply(item));
                let ranks = self.ranks(entries.iter().map(|(key, _)| key.as_str()));
                let mut ranked: Vec<_> = ranks.into_iter().zip(entries).collect();
                ranked.sort_by(|(a, (ka, _)), (b, (kb, _))| a.cmp(b).then_with(|| ka.cmp(kb)));
                map.extend(ranked.into_iter().map(|(_, entry)| entry));
            }
            _ => {}
        }
    }

    /// The sort rank of each key of one object, in the order given.
    fn ranks<'k>(&self, keys: impl Iterator<Item = &'k str>) -> Vec<(usize, usize)> {
        let keys: Vec<&str> = keys.collect();
        let mut sorted: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        sorted.sort();
        if let Some(order) = self.exact.get(&sorted) {
            return keys
                .iter()
                .map(|key| (order.iter().position(|k| k == key).unwrap_or(usize::MAX), 0))
                .collect();
        }
        let facts: Vec<(Option<usize>, Option<usize>)> = keys
            .iter()
            .map(|key| {
                (
                    text_position(self.text, key),
                    self.first_seen.get(*key).copied(),
                )
            })
            .collect();
        let derived = facts
            .iter()
            .any(|(in_text, seen)| in_text.is_none() && seen.is_some());
        facts
            .into_iter()
            .map(|(in_text, seen)| match (derived, seen) {
                (true, Some(seen)) => (0, seen),
                (true, None) => (1, in_text.unwrap_or(usize::MAX)),
                (false, _) => (in_text.unwrap_or(usize::MAX), seen.unwrap_or(usize::MAX)),
            })
            .collect()
    }
}

/// Where `key` first appears in `text` as a quoted string or as a whole word.
fn text_position(text: &str, key: &str) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices(key)
        .find(|(start, _)| {
            let before = text[..*start].chars().next_back();
            let after = text[start + key.len()..].chars().next();
            let quoted = matches!(
                (before, after),
                (Some('\''), Some('\'')) | (Some('"'), Some('"'))
            );
            quoted || (!before.is_some_and(is_word) && !after.is_some_and(is_word))
        })
        .map(|(start, _)| start)
}

// --- Functions Step Functions adds to JSONata, and JSONata built-ins jsonata-rs lacks. ---

/// Result type of a native JSONata function.
type NativeResult<'a> = jsonata_rs::Result<&'a JValue<'a>>;

fn register_functions<'a>(program: &JsonAta<'a>, arena: &'a Bump) {
    program.register_function("partition", 2, fn_partition);
    program.register_function("range", 3, fn_range);
    program.register_function("hash", 2, fn_hash);
    program.register_function("parse", 1, fn_parse);
    program.register_function("type", 1, fn_type);
    program.register_function("average", 1, fn_average);
    program.register_function("spread", 1, fn_spread);
    program.register_function("shuffle", 1, fn_shuffle);
    program.register_function("sift", 2, fn_sift);
    program.register_function("formatBase", 2, fn_format_base);
    program.register_function("encodeUrl", 1, fn_encode_url);
    program.register_function("encodeUrlComponent", 1, fn_encode_url_component);
    program.register_function("decodeUrl", 1, fn_decode_url);
    program.register_function("decodeUrlComponent", 1, fn_decode_url_component);
    program.assign_var(
        SEEDED_RANDOM_BINDING,
        JValue::nativefn(arena, "random", 1, fn_random),
    );
    program.assign_var(
        MILLIS_BINDING,
        JValue::nativefn(arena, "millis", 0, fn_millis),
    );
    program.assign_var(UUID_BINDING, JValue::nativefn(arena, "uuid", 0, fn_uuid));
    for (name, arity) in HIGHER_ORDER_BUILTINS {
        program.assign_var(
            &format!("{GUARDED_BUILTIN_PREFIX}{name}"),
            JValue::nativefn(arena, name, *arity, fn_guarded_builtin),
        );
    }
}

/// Calls the original higher-order built-in named like this guard if enough stack is left, and
/// fails with U1001 (JSONata's stack overflow error) otherwise.
fn fn_guarded_builtin<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    if stacker::remaining_stack().is_some_and(|left| left < HIGHER_ORDER_RED_ZONE_BYTES) {
        return Err(JsonataError::U1001StackOverflow);
    }
    let original = context
        .frame
        .lookup(&format!("{ORIGINAL_BUILTIN_PREFIX}{}", context.name))
        .ok_or(JsonataError::T1006InvokedNonFunction(context.char_index))?;
    context.evaluate_function(original, args)
}

fn signature_error(context: &FunctionContext<'_, '_>, index: usize) -> JsonataError {
    JsonataError::T0410ArgumentNotValid(context.char_index, index, context.name.to_string())
}

/// Fails with T0410 naming the first argument past `max`.
fn check_max_args(
    context: &FunctionContext<'_, '_>,
    args: &[&JValue],
    max: usize,
) -> jsonata_rs::Result<()> {
    if args.len() > max {
        return Err(signature_error(context, max + 1));
    }
    Ok(())
}

fn arg<'a>(args: &[&'a JValue<'a>], index: usize) -> &'a JValue<'a> {
    args.get(index).copied().unwrap_or_else(JValue::undefined)
}

/// A number argument rounded towards zero, as AWS does (`-1.7` is `-1`).
fn integer_arg(
    context: &FunctionContext<'_, '_>,
    value: &JValue,
    index: usize,
) -> jsonata_rs::Result<i64> {
    match value {
        JValue::Number(n) => Ok(n.trunc() as i64),
        _ => Err(signature_error(context, index)),
    }
}

/// `$partition(array, size)`: `array` in chunks of `size` elements, the last holding the rest.
fn fn_partition<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 2)?;
    let array = arg(args, 0);
    if array.is_undefined() {
        return Ok(JValue::undefined());
    }
    if !array.is_array() {
        return Err(JsonataError::T0412ArgumentMustBeArrayOfType(
            context.char_index,
            1,
            context.name.to_string(),
            "undefined".to_string(),
        ));
    }
    let members: Vec<&'a JValue<'a>> = array.members().collect();
    if members.is_empty() {
        return Ok(JValue::undefined());
    }
    let size = arg(args, 1);
    let size = if size.is_undefined() {
        members.len()
    } else {
        let size = integer_arg(&context, size, 2)?;
        if size < 0 {
            return Err(JsonataError::D3137Error(
                "Second argument must be zero or greater".to_string(),
            ));
        }
        if size == 0 {
            return Ok(JValue::undefined());
        }
        usize::try_from(size).unwrap_or(usize::MAX)
    };
    let chunks = JValue::array_with_capacity(
        context.arena,
        members.len().div_ceil(size),
        ArrayFlags::empty(),
    );
    for chunk in members.chunks(size) {
        let part = JValue::array_with_capacity(context.arena, chunk.len(), ArrayFlags::empty());
        for member in chunk {
            part.push(member);
        }
        chunks.push(part);
    }
    Ok(chunks)
}

/// `$range(start, end, step)`: `start`, `start + step`, ... up to `end` inclusive. A range of one
/// element is that element; a missing or zero step, or one pointing away from `end`, is undefined.
fn fn_range<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 3)?;
    let start = integer_arg(&context, arg(args, 0), 1)?;
    let end = integer_arg(&context, arg(args, 1), 2)?;
    let step = arg(args, 2);
    if step.is_undefined() {
        return Ok(JValue::undefined());
    }
    let step = integer_arg(&context, step, 3)?;
    if step == 0 || (step > 0 && start > end) || (step < 0 && start < end) {
        return Ok(JValue::undefined());
    }
    if start == end {
        return Ok(JValue::number(context.arena, start as f64));
    }
    let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
    let count = (end - start) / step + 1;
    if count > MAX_RESULT_VALUES as i128 {
        return Err(JsonataError::D3137Error(MEMORY_LIMIT_MESSAGE.to_string()));
    }
    let capacity = usize::try_from(count).unwrap_or(0);
    let array = JValue::array_with_capacity(context.arena, capacity, ArrayFlags::empty());
    for i in 0..count {
        array.push(JValue::number(context.arena, (start + i * step) as f64));
    }
    Ok(array)
}

/// `$hash(value, algorithm)`: the lowercase hex digest of `value` (UTF-8).
fn fn_hash<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 2)?;
    let JValue::String(value) = arg(args, 0) else {
        return Err(signature_error(&context, 1));
    };
    let algorithm = match arg(args, 1) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::String(algorithm) => algorithm.as_str(),
        _ => return Err(signature_error(&context, 2)),
    };
    let bytes = value.as_bytes();
    let digest = match algorithm {
        "MD5" => hex(&Md5::digest(bytes)),
        "SHA-1" => hex(&Sha1::digest(bytes)),
        "SHA-256" => hex(&Sha256::digest(bytes)),
        "SHA-384" => hex(&Sha384::digest(bytes)),
        "SHA-512" => hex(&Sha512::digest(bytes)),
        other => {
            return Err(JsonataError::D3137Error(format!(
                "Hash algorithm '{other}' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"
            )))
        }
    };
    Ok(JValue::string(context.arena, &digest))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `$random([seed])`: a number in [0, 1); with a seed, the first `nextDouble()` of a
/// `java.util.Random` so seeded, which is what AWS returns (`$random(42)` is
/// 0.7275636800328681).
fn fn_random<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let n = match arg(args, 0) {
        JValue::Undefined => with_rng(|rng| rng.random::<f64>()),
        seed => java_random_double(integer_arg(&context, seed, 1)?),
    };
    Ok(JValue::number(context.arena, n))
}

/// `$millis()`: the time of the step, ms since the epoch (the same in every expression of it,
/// as JSONata has it for one evaluation).
fn fn_millis<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 0)?;
    let now = DRAWS.with(|d| d.borrow().as_ref().map_or(0, |d| d.now_ms));
    Ok(JValue::number(context.arena, now as f64))
}

/// `$uuid()`: a version 4 UUID from the step's seeded randomness.
fn fn_uuid<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 0)?;
    let bytes: [u8; 16] = with_rng(|rng| rng.random());
    let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
    Ok(JValue::string(context.arena, &uuid.to_string()))
}

/// `new java.util.Random(seed).nextDouble()`.
fn java_random_double(seed: i64) -> f64 {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const ADDEND: u64 = 0xB;
    const MASK: u64 = (1 << 48) - 1;
    let mut state = (seed as u64 ^ MULTIPLIER) & MASK;
    let mut next = |bits: u32| {
        state = state.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        state >> (48 - bits)
    };
    let high = next(26);
    let low = next(27);
    ((high << 27) + low) as f64 / (1u64 << 53) as f64
}

/// `$parse(json)`: the JSON value a string holds (Step Functions' replacement for `$eval`).
fn fn_parse<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let text = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::String(text) => text.as_str(),
        _ => return Err(signature_error(&context, 1)),
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|_| JsonataError::D3137Error("Invalid JSON".to_string()))?;
    Ok(to_jsonata(context.arena, &value))
}

/// `$type(value)`: the JSONata type name.
fn fn_type<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let name = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::Null => "null",
        JValue::Bool(_) => "boolean",
        JValue::Number(_) => "number",
        JValue::String(_) => "string",
        JValue::Array(..) | JValue::Range(..) => "array",
        JValue::Object(_) => "object",
        JValue::Regex(_)
        | JValue::Lambda { .. }
        | JValue::NativeFn { .. }
        | JValue::Transformer { .. } => "function",
    };
    Ok(JValue::string(context.arena, name))
}

/// `$average(array)`: the mean of an array of numbers.
fn fn_average<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let value = arg(args, 0);
    if value.is_undefined() {
        return Ok(JValue::undefined());
    }
    let array = JValue::wrap_in_array_if_needed(context.arena, value, ArrayFlags::empty());
    let mut sum = 0.0;
    let mut count = 0usize;
    for member in array.members() {
        let JValue::Number(n) = member else {
            return Err(JsonataError::T0412ArgumentMustBeArrayOfType(
                context.char_index,
                1,
                context.name.to_string(),
                "number".to_string(),
            ));
        };
        sum += n;
        count += 1;
    }
    if count == 0 {
        return Ok(JValue::undefined());
    }
    Ok(JValue::number(context.arena, sum / count as f64))
}

/// `$spread(object)`: an array of single-key objects, one per key.
fn fn_spread<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let value = arg(args, 0);
    let result = JValue::array(context.arena, ArrayFlags::SEQUENCE);
    match value {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::Object(map) => {
            for (key, member) in map.iter() {
                let single = JValue::object_with_capacity(context.arena, 1);
                single.insert(key, member);
                result.push(single);
            }
        }
        JValue::Array(..) | JValue::Range(..) => {
            for member in value.members() {
                let spread = fn_spread(context.clone(), &[member])?;
                if spread.is_array() {
                    for item in spread.members() {
                        result.push(item);
                    }
                } else if !spread.is_undefined() {
                    result.push(spread);
                }
            }
        }
        other => return Ok(other),
    }
    Ok(result)
}

/// `$shuffle(array)`: the members in random order.
fn fn_shuffle<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let value = arg(args, 0);
    if value.is_undefined() {
        return Ok(JValue::undefined());
    }
    let array = JValue::wrap_in_array_if_needed(context.arena, value, ArrayFlags::empty());
    let mut members: Vec<&'a JValue<'a>> = array.members().collect();
    with_rng(|rng| {
        for i in (1..members.len()).rev() {
            members.swap(i, rng.random_range(0..=i));
        }
    });
    let result = JValue::array_with_capacity(context.arena, members.len(), ArrayFlags::empty());
    for member in members {
        result.push(member);
    }
    Ok(result)
}

/// `$sift(object, function)`: the entries for which `function(value, key, object)` is truthy.
fn fn_sift<'a>(context: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> NativeResult<'a> {
    check_max_args(&context, args, 2)?;
    let object = arg(args, 0);
    let function = arg(args, 1);
    if object.is_undefined() {
        return Ok(JValue::undefined());
    }
    let JValue::Object(map) = object else {
        return Err(signature_error(&context, 1));
    };
    if !function.is_function() {
        return Err(signature_error(&context, 2));
    }
    if stacker::remaining_stack().is_some_and(|left| left < HIGHER_ORDER_RED_ZONE_BYTES) {
        return Err(JsonataError::U1001StackOverflow);
    }
    let arity = function.arity();
    let result = JValue::object(context.arena);
    for (key, value) in map.iter() {
        let key_value = JValue::string(context.arena, key);
        let call: Vec<&'a JValue<'a>> = [*value, key_value, object]
            .into_iter()
            .take(arity.clamp(1, 3))
            .collect();
        let keep =
            context.trampoline_evaluate_value(context.evaluate_function(function, &call)?)?;
        if keep.is_truthy() {
            result.insert(key, value);
        }
    }
    if matches!(result, JValue::Object(map) if map.is_empty()) {
        return Ok(JValue::undefined());
    }
    Ok(result)
}

/// `$formatBase(number, [radix])`: the number, rounded half to even, written in base `radix`
/// (2 to 36, default 10).
fn fn_format_base<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    check_max_args(&context, args, 2)?;
    let number = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::Number(n) => n.round_ties_even(),
        _ => return Err(signature_error(&context, 1)),
    };
    let radix = match arg(args, 1) {
        JValue::Undefined => 10.0,
        JValue::Number(n) => n.round_ties_even(),
        _ => return Err(signature_error(&context, 2)),
    };
    if !(2.0..=36.0).contains(&radix) {
        return Err(JsonataError::D3137Error(format!(
            "The radix of the formatBase function must be between 2 and 36.  It was given {radix}"
        )));
    }
    let radix = radix as u32;
    let mut magnitude = number.abs() as u128;
    let mut digits = Vec::new();
    loop {
        let digit = (magnitude % u128::from(radix)) as u32;
        digits.push(char::from_digit(digit, radix).unwrap_or('0'));
        magnitude /= u128::from(radix);
        if magnitude == 0 {
            break;
        }
    }
    if number < 0.0 {
        digits.push('-');
    }
    let text: String = digits.into_iter().rev().collect();
    Ok(JValue::string(context.arena, &text))
}

/// Characters `encodeURIComponent` leaves as they are, besides ASCII letters and digits.
const URL_COMPONENT_SAFE: &str = "-_.!~*'()";
/// Characters `encodeURI` additionally leaves as they are.
const URL_RESERVED: &str = ";,/?:@&=+$#";

fn fn_encode_url<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    encode_with(context, args, true)
}

fn fn_encode_url_component<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    encode_with(context, args, false)
}

fn encode_with<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
    keep_reserved: bool,
) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let text = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::String(text) => text.as_str(),
        _ => return Err(signature_error(&context, 1)),
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric()
            || URL_COMPONENT_SAFE.contains(c)
            || (keep_reserved && URL_RESERVED.contains(c))
        {
            out.push(c);
        } else {
            let mut buffer = [0u8; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    Ok(JValue::string(context.arena, &out))
}

fn fn_decode_url<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    decode_with(context, args, true)
}

fn fn_decode_url_component<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> NativeResult<'a> {
    decode_with(context, args, false)
}

fn decode_with<'a>(
    context: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
    keep_reserved: bool,
) -> NativeResult<'a> {
    check_max_args(&context, args, 1)?;
    let text = match arg(args, 0) {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::String(text) => text.as_str(),
        _ => return Err(signature_error(&context, 1)),
    };
    let malformed = || {
        JsonataError::D3137Error(format!(
            "Malformed URL passed to ${}(): \"{text}\"",
            context.name
        ))
    };
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let byte = text
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(malformed)?;
        // Spec (decodeURI): escapes of reserved characters stay escaped.
        if keep_reserved && byte.is_ascii() && URL_RESERVED.contains(char::from(byte)) {
            out.extend_from_slice(&bytes[i..i + 3]);
        } else {
            out.push(byte);
        }
        i += 3;
    }
    let decoded = String::from_utf8(out).map_err(|_| malformed())?;
    Ok(JValue::string(context.arena, &decoded))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn states(input: Value) -> Value {
        json!({ "input": input, "context": {} })
    }

    fn moment() -> Moment {
        Moment::new(1_700_000_000_000, 7)
    }

    fn no_vars() -> Map<String, Value> {
        Map::new()
    }

    fn vars(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// Evaluates `expr` (text) against `input`, panicking on failure or undefined.
    fn run(expr: &str, input: Value) -> Value {
        eval(expr, &states(input), &no_vars(), &moment())
            .expect("evaluates")
            .expect("defined")
    }

    fn cause(error: StatesError) -> String {
        assert_eq!(error.error, QUERY_EVALUATION_ERROR);
        error.cause.unwrap_or_default()
    }

    #[test]
    fn expression_fields_need_the_exact_surround() {
        assert!(is_expression("{% $states.input %}"));
        assert!(is_expression("{%%}"));
        assert!(!is_expression(" {% states.input %} "));
        assert!(!is_expression("{% states.input %} "));
        assert!(!is_expression("{%}"));
        assert!(!is_expression("$states.input"));
        assert!(!is_expression("States.Format('Format:{}', 101)"));
        assert_eq!(expression_text("{%  $x  %}"), Some("$x"));
        assert_eq!(expression_text("{%%}"), Some(""));
        assert_eq!(expression_text("$x"), None);
    }

    #[test]
    fn deeply_nested_expressions_fail_instead_of_overflowing() {
        for deep in [
            format!("{}1{}", "(".repeat(600), ")".repeat(600)),
            format!("{}1", "-".repeat(600)),
            format!("1{}", "+1".repeat(600)),
            format!("{}1", "true ? ".repeat(300)),
        ] {
            assert!(
                eval(&deep, &states(json!({})), &no_vars(), &moment()).is_err(),
                "{deep}"
            );
        }
    }

    #[test]
    fn literals_evaluate_to_themselves() {
        assert_eq!(run("true", json!({})), json!(true));
        assert_eq!(run("null", json!({})), json!(null));
        assert_eq!(run("1", json!({})), json!(1));
        assert_eq!(run("'string'", json!({})), json!("string"));
        assert_eq!(run("[]", json!({})), json!([]));
        assert_eq!(run("[1, 'two', 3]", json!({})), json!([1, "two", 3]));
        assert_eq!(run("{'foo': 'bar'}", json!({})), json!({"foo": "bar"}));
    }

    #[test]
    fn states_input_paths_select_values() {
        let input = json!({"input_value": [1, 2, 3], "condition": true, "type": "Public"});
        assert_eq!(
            run("$states.input.input_value", input.clone()),
            json!([1, 2, 3])
        );
        assert_eq!(run("$states.input.condition", input.clone()), json!(true));
        assert_eq!(
            run("$states.input.type = 'Public'", input.clone()),
            json!(true)
        );
        assert_eq!(
            run("$states.input.type = \"Public\"", input.clone()),
            json!(true)
        );
        assert_eq!(run("$states.input", input.clone()), input);
        assert_eq!(
            run(
                "$not($states.input.result.done)",
                json!({"result": {"done": false}})
            ),
            json!(true)
        );
    }

    #[test]
    fn states_result_error_output_and_context_are_bound() {
        let states = json!({
            "input": {"inputData": "dummy"},
            "result": {"ja_expr": 7},
            "errorOutput": {"Error": "Exception", "Cause": "boom"},
            "context": {"Map": {"Item": {"Value": "Item1", "Index": 0}}}
        });
        let value = |expr: &str| eval(expr, &states, &no_vars(), &moment()).expect("evaluates");
        assert_eq!(value("$states.result.ja_expr"), Some(json!(7)));
        assert_eq!(value("$states.errorOutput.Error"), Some(json!("Exception")));
        assert_eq!(
            value("$states.context.Map.Item.Value"),
            Some(json!("Item1"))
        );
        assert_eq!(value("$states.input.missing"), None);
    }

    #[test]
    fn variables_are_bound_by_name() {
        let vars = vars(json!({
            "var_input_value": "string literal",
            "var_constant_1": 1,
            "ItemsVar": ["Item1", "Item2"],
            "var": "\""
        }));
        let states = states(json!({"input_values": [1, 2, 3]}));
        let value = |expr: &str| eval(expr, &states, &vars, &moment()).expect("evaluates");
        assert_eq!(value("$var_input_value"), Some(json!("string literal")));
        assert_eq!(
            value("$sum($states.input.input_values) + $var_constant_1"),
            Some(json!(7))
        );
        assert_eq!(value("$ItemsVar"), Some(json!(["Item1", "Item2"])));
        assert_eq!(value("$doesNotExist"), None);
        // From the escape-sequence cases: `$var = '"'`.
        assert_eq!(value("$var = '\"'"), Some(json!(true)));
    }

    #[test]
    fn variables_named_like_builtins_shadow_them() {
        let vars = vars(json!({"count": 5, "random": "mine"}));
        let states = states(json!({}));
        assert_eq!(
            eval("$count + 1", &states, &vars, &moment()).expect("evaluates"),
            Some(json!(6))
        );
        assert_eq!(
            eval("$random", &states, &vars, &moment()).expect("evaluates"),
            Some(json!("mine"))
        );
        assert_eq!(
            eval("$sum([1, 2])", &states, &vars, &moment()).expect("evaluates"),
            Some(json!(3))
        );
    }

    #[test]
    fn states_cannot_be_hidden_by_a_variable() {
        let vars = vars(json!({"states": "nope"}));
        let value = eval(
            "$states.input.a",
            &states(json!({"a": 1})),
            &vars,
            &moment(),
        )
        .expect("evaluates");
        assert_eq!(value, Some(json!(1)));
    }

    #[test]
    fn string_escapes_compare_equal() {
        assert_eq!(run("$states.input = '\"'", json!("\"")), json!(true));
        assert_eq!(run("'a\\\"b'", json!({})), json!("a\"b"));
        assert_eq!(run("\"tab\\there\"", json!({})), json!("tab\there"));
    }

    #[test]
    fn regular_expressions_match() {
        assert_eq!(
            run("$contains('hello$world', /^hello\\$/)", json!({})),
            json!(true)
        );
        assert_eq!(
            run("$contains(\"hello$world\", /^hello\\$/)", json!({})),
            json!(true)
        );
    }

    #[test]
    fn assignment_yields_the_assigned_value() {
        assert_eq!(run("$variable := 1", json!({})), json!(1));
        assert_eq!(run("($x := 2; $x * 3)", json!({})), json!(6));
    }

    #[test]
    fn integral_numbers_come_back_as_integers() {
        assert_eq!(run("$number(\"2\")", json!({})), json!(2));
        assert!(run("$number(\"2\")", json!({})).is_i64());
        assert!(run("$sum([1, 2, 3]) + 1", json!({})).is_i64());
        assert_eq!(run("0.1", json!({})), json!(0.1));
        assert_eq!(run("-0", json!({})), json!(0));
        assert_eq!(run("1/0", json!({})), json!("Infinity"));
        assert_eq!(run("[1.5, 2.0]", json!({})), json!([1.5, 2]));
    }

    #[test]
    fn partition_splits_into_chunks() {
        let cases = [
            (json!([0]), 1, json!([[0]])),
            (json!([0]), 2, json!([[0]])),
            (json!([0, 1]), 1, json!([[0], [1]])),
            (json!([0, 1]), 3, json!([[0, 1]])),
            (json!([0, 1]), 4, json!([[0, 1]])),
            (json!([0, 1]), 5, json!([[0, 1]])),
            (json!([0, 1, 2]), 1, json!([[0], [1], [2]])),
            (json!([0, 1, 2]), 2, json!([[0, 1], [2]])),
            (json!([0, 1, 2]), 3, json!([[0, 1, 2]])),
            (json!([0, 1, 2]), 5, json!([[0, 1, 2]])),
            (json!([0, 1, 2, 3]), 1, json!([[0], [1], [2], [3]])),
            (json!([0, 1, 2, 3]), 3, json!([[0, 1, 2], [3]])),
            (json!([0, 1, 2, 3]), 5, json!([[0, 1, 2, 3]])),
        ];
        for (fst, snd, expected) in cases {
            let input = json!({"FunctionInput": {"fst": fst, "snd": snd}});
            let expr =
                "$partition($states.input.FunctionInput.fst, $states.input.FunctionInput.snd)";
            assert_eq!(run(expr, input), expected, "{fst} by {snd}");
        }
    }

    #[test]
    fn partition_edge_cases() {
        let value = |expr: &str| eval(expr, &states(json!({})), &no_vars(), &moment());
        assert_eq!(value("$partition([], 2)").expect("evaluates"), None);
        assert_eq!(value("$partition([1, 2], 0)").expect("evaluates"), None);
        assert_eq!(
            value("$partition([1, 2])").expect("evaluates"),
            Some(json!([[1, 2]]))
        );
        let err = value("$partition([1, 2], -2)").expect_err("negative size");
        assert_eq!(
            cause(err),
            "The JSONata expression '$partition([1, 2], -2)' threw an error during evaluation. \
             D3137: Second argument must be zero or greater"
        );
        let err = value("$partition([1], 1, 1)").expect_err("surplus argument");
        assert!(cause(err).ends_with(
            "T0410: Argument 3 of function \"partition\" does not match function signature"
        ));
    }

    #[test]
    fn range_counts_by_step() {
        let expr = "$range($states.input.FunctionInput.fst, $states.input.FunctionInput.snd, $states.input.FunctionInput.trd)";
        let cases = [
            ((0, 9, 3), json!([0, 3, 6, 9])),
            ((0, 10, 3), json!([0, 3, 6, 9])),
            ((1, 9, 2), json!([1, 3, 5, 7, 9])),
        ];
        for ((fst, snd, trd), expected) in cases {
            let input = json!({"FunctionInput": {"fst": fst, "snd": snd, "trd": trd}});
            assert_eq!(run(expr, input), expected);
        }
        assert_eq!(run("$range(9, 1, -2)", json!({})), json!([9, 7, 5, 3, 1]));
        assert_eq!(run("$range(3, 3, 1)", json!({})), json!(3));
        assert_eq!(
            run("$range(-1.2, 2.8, 1.9)", json!({})),
            json!([-1, 0, 1, 2])
        );
        let undefined =
            |expr: &str| eval(expr, &states(json!({})), &no_vars(), &moment()).expect("evaluates");
        assert_eq!(undefined("$range(3, 1, 1)"), None);
        assert_eq!(undefined("$range(0, 4, 0)"), None);
        assert_eq!(undefined("$range(0, 4)"), None);
        let err = eval(
            "$range('0', 4, 1)",
            &states(json!({})),
            &no_vars(),
            &moment(),
        )
        .expect_err("string");
        assert!(cause(err).ends_with(
            "T0410: Argument 1 of function \"range\" does not match function signature"
        ));
        let err = eval(
            "$range(0, 1e12, 1)",
            &states(json!({})),
            &no_vars(),
            &moment(),
        )
        .expect_err("huge");
        assert_eq!(
            cause(err),
            "The JSONata expression '$range(0, 1e12, 1)' threw an error during evaluation: \
             Expression evaluation memory limit exceeded: Check for excessive memory usage"
        );
        let err =
            eval("[0..2000000]", &states(json!({})), &no_vars(), &moment()).expect_err("huge");
        assert!(cause(err).ends_with(
            "during evaluation: Expression evaluation memory limit exceeded: Check for excessive memory usage"
        ));
    }

    #[test]
    fn parse_reads_json_strings() {
        let cases = [
            ("-0", json!(0)),
            ("1", json!(1)),
            ("1.1", json!(1.1)),
            ("true", json!(true)),
            ("[1, 2, \"HelloWorld\"]", json!([1, 2, "HelloWorld"])),
            (
                "{\"Arg1\": 1, \"Arg2\": []}",
                json!({"Arg1": 1, "Arg2": []}),
            ),
        ];
        for (text, expected) in cases {
            let input = json!({ "FunctionInput": text });
            assert_eq!(
                run("$parse($states.input.FunctionInput)", input),
                expected,
                "{text}"
            );
        }
        let err =
            eval("$parse('{')", &states(json!({})), &no_vars(), &moment()).expect_err("invalid");
        assert!(cause(err).ends_with(". D3137: Invalid JSON"));
    }

    #[test]
    fn hash_uuid_and_random() {
        assert_eq!(
            run("$hash('input data', 'SHA-1')", json!({})),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(
            run("$hash('abc', 'MD5')", json!({})),
            json!("900150983cd24fb0d6963f7d28e17f72")
        );
        let err = eval(
            "$hash('a', 'SHA-2')",
            &states(json!({})),
            &no_vars(),
            &moment(),
        )
        .expect_err("algo");
        assert!(cause(err).ends_with(
            "D3137: Hash algorithm 'SHA-2' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"
        ));
        assert_eq!(run("$random(42)", json!({})), json!(0.7275636800328681));
        let unseeded = run("$random()", json!({}));
        assert!(unseeded.as_f64().is_some_and(|n| (0.0..1.0).contains(&n)));
        assert_eq!(run("$length($uuid())", json!({})), json!(36));
    }

    #[test]
    fn now_and_millis_are_the_moment_of_the_step() {
        let at = |expr: &str| {
            eval(
                expr,
                &states(json!({})),
                &no_vars(),
                &Moment::new(1_700_000_000_123, 1),
            )
            .expect("evaluates")
            .expect("defined")
        };
        assert_eq!(at("$millis()"), json!(1_700_000_000_123_i64));
        assert_eq!(at("$now()"), json!("2023-11-14T22:13:20.123Z"));
        assert_eq!(at("$now() = $fromMillis($millis())"), json!(true));
        assert_eq!(at("$now('[Y0001]-[M01]-[D01]')"), json!("2023-11-14"));
        assert_eq!(at("$now('[H01]:[m01]', '+0100')"), json!("23:13"));
    }

    #[test]
    fn uuid_random_and_shuffle_draw_from_the_seed() {
        let draw = |seed: u64| {
            let moment = Moment::new(0, seed);
            let expr = "[$uuid(), $uuid(), $random(), $shuffle([1, 2, 3, 4, 5, 6, 7, 8])]";
            let first = eval(expr, &states(json!({})), &no_vars(), &moment).expect("evaluates");
            let second = eval(expr, &states(json!({})), &no_vars(), &moment).expect("evaluates");
            (first, second)
        };
        let (a, a_next) = draw(42);
        let (b, b_next) = draw(42);
        assert_eq!((&a, &a_next), (&b, &b_next), "the same seed draws the same");
        assert_ne!(a, a_next, "each evaluation of a step draws anew");
        let a = a.expect("defined");
        assert_ne!(a[0], a[1], "two $uuid() calls differ");
        let uuid = a[0].as_str().expect("string");
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4', "a version 4 UUID: {uuid}");
        assert_ne!(
            draw(43).0.expect("defined"),
            a,
            "another seed draws otherwise"
        );
    }

    #[test]
    fn missing_jsonata_builtins_are_provided() {
        assert_eq!(run("$type([1])", json!({})), json!("array"));
        assert_eq!(run("$type({})", json!({})), json!("object"));
        assert_eq!(run("$average([1, 2, 3, 4])", json!({})), json!(2.5));
        assert_eq!(run("$spread({'a': 1})", json!({})), json!({"a": 1}));
        assert_eq!(run("$count($shuffle([1, 2, 3]))", json!({})), json!(3));
        assert_eq!(
            run(
                "$sift({'a': 1, 'b': 2, 'c': 3}, function($v) { $v > 1 })",
                json!({})
            ),
            json!({"b": 2, "c": 3})
        );
        assert_eq!(
            run(
                "$sift($states.input, function($v, $k) { $k = 'y' })",
                json!({"x": 1, "y": 2})
            ),
            json!({"y": 2})
        );
        assert_eq!(run("$formatBase(100, 2)", json!({})), json!("1100100"));
        assert_eq!(run("$formatBase(2555, 16)", json!({})), json!("9fb"));
        assert_eq!(run("$formatBase(-10)", json!({})), json!("-10"));
        assert!(eval(
            "$formatBase(1, 40)",
            &states(json!({})),
            &no_vars(),
            &moment()
        )
        .is_err());
        assert_eq!(
            run("$encodeUrlComponent('?x=test')", json!({})),
            json!("%3Fx%3Dtest")
        );
        assert_eq!(
            run("$encodeUrl('https://mozilla.org/?x=шеллы')", json!({})),
            json!("https://mozilla.org/?x=%D1%88%D0%B5%D0%BB%D0%BB%D1%8B")
        );
        assert_eq!(
            run("$decodeUrlComponent('%3Fx%3Dtest')", json!({})),
            json!("?x=test")
        );
        assert_eq!(
            run(
                "$decodeUrl('https://mozilla.org/?x=%D1%88%D0%B5%D0%BB%D0%BB%D1%8B')",
                json!({})
            ),
            json!("https://mozilla.org/?x=шеллы")
        );
        assert!(eval(
            "$decodeUrl('%E0%A4%A')",
            &states(json!({})),
            &no_vars(),
            &moment()
        )
        .is_err());
    }

    #[test]
    fn eval_is_not_available() {
        let err =
            eval("$eval('1')", &states(json!({})), &no_vars(), &moment()).expect_err("no $eval");
        assert!(cause(err).ends_with(". T1006: Attempted to invoke a non-function"));
    }

    #[test]
    fn undefined_fields_fail_with_aws_cause() {
        let err = eval_field(
            "{% $doesNotExist %}",
            "Assign/result",
            &states(json!({})),
            &no_vars(),
            &moment(),
        )
        .expect_err("undefined");
        assert_eq!(
            cause(err),
            "The JSONata expression '$doesNotExist' specified for the field 'Assign/result' \
             returned nothing (undefined)."
        );
    }

    #[test]
    fn throwing_fields_name_the_field() {
        let err = eval_field(
            "{% $sum('a') %}",
            "Output",
            &states(json!({})),
            &no_vars(),
            &moment(),
        )
        .expect_err("throws");
        assert_eq!(
            cause(err),
            "The JSONata expression '$sum('a')' specified for the field 'Output' threw an error \
             during evaluation. T0412: Argument 1 of function \"sum\" must be an array of \"numbers\""
        );
        let err = eval_field(
            "{% $error('boom') %}",
            "Output",
            &states(json!({})),
            &no_vars(),
            &moment(),
        )
        .expect_err("throws");
        assert!(cause(err).ends_with("threw an error during evaluation. D3137: boom"));
        let err = eval_field(
            "{% 1; 2 %}",
            "Output",
            &states(json!({})),
            &no_vars(),
            &moment(),
        )
        .expect_err("syntax");
        assert!(cause(err).ends_with(". S0201: Syntax error `;`"));
    }

    #[test]
    fn recursion_depth_is_bounded_like_aws() {
        let expr = "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(31))";
        assert_eq!(run(expr, json!({})), json!(31));
        let expr = "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(32))";
        let err = eval(expr, &states(json!({})), &no_vars(), &moment()).expect_err("too deep");
        assert!(cause(err).contains(". U1001: Stack overflow error"));
    }

    #[test]
    fn runaway_recursion_through_builtins_fails_instead_of_overflowing() {
        for expr in [
            "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))",
            "($f := function($n) { $n = 0 ? 0 : $map([1], $f) }; $f(3))",
            "($f := function($n) { $reduce([1, 2], function($a, $b) { $f($n) }) }; $f(1))",
        ] {
            let err = eval(expr, &states(json!({})), &no_vars(), &moment()).expect_err(expr);
            assert_eq!(err.error, QUERY_EVALUATION_ERROR, "{expr}");
        }
        // These end early in jsonata-rs (a tail call comes back unevaluated); they must not
        // crash either way.
        for expr in [
            "($f := function($n) { $filter([1], function($v) { $f($n) }) }; $f(1))",
            "($f := function($n) { $single([1], function($v) { $f($n) }) }; $f(1))",
            "($f := function($n) { $each({'a': 1}, function($v) { $f($n) }) }; $f(1))",
            "($f := function($n) { $sort([1, 2], function($a, $b) { $f($n) }) }; $f(1))",
            "($f := function($n) { $replace('a', 'a', function($m) { $f($n) }) }; $f(1))",
        ] {
            let _ = eval(expr, &states(json!({})), &no_vars(), &moment());
        }
        assert_eq!(
            run("$map([1, 2], function($v) { $v * 2 })", json!({})),
            json!([2, 4])
        );
        assert_eq!(
            run(
                "$reduce([1, 2, 3], function($a, $b) { $a + $b })",
                json!({})
            ),
            json!(6)
        );
        assert_eq!(
            run("$sort([3, 1, 2], function($a, $b) { $a > $b })", json!({})),
            json!([1, 2, 3])
        );
    }

    #[test]
    fn template_literals_are_kept() {
        let template = json!({
            "constant_null": null,
            "constant_int": 0,
            "constant_float": 0.1,
            "constant_bool": true,
            "constant_str": "constant string",
            "constant_not_jsonata": " {% states.input %} ",
            "constant_varpath_states": "$states.input",
            "constant_jp_input.$": "$",
            "constant_if": "States.Format('Format:{}', 101)",
            "constant_lst": [null, 0, 0.1, true, [], {"constant": 0}, " {% states.input %} "],
            "constant_obj_empty": {}
        });
        let value = eval_template(
            &template,
            "Output",
            &states(json!({"a": 1})),
            &no_vars(),
            &moment(),
        )
        .expect("evaluates");
        assert_eq!(value, template);
        assert_eq!(
            eval_template(
                &json!({}),
                "Arguments",
                &states(json!({})),
                &no_vars(),
                &moment()
            )
            .expect("{}"),
            json!({})
        );
    }

    #[test]
    fn template_expressions_are_evaluated_recursively() {
        let template = json!([
            null, 0, 0.1, true, "string", [], "$nosuchvar", "$.no.such.path",
            "{% $states.input %}", {"key": "{% true %}"}
        ]);
        let input = json!({"input_value": "stringliteral"});
        let value = eval_template(&template, "Output", &states(input), &no_vars(), &moment())
            .expect("evaluates");
        assert_eq!(
            value,
            json!([
                null, 0, 0.1, true, "string", [], "$nosuchvar", "$.no.such.path",
                {"input_value": "stringliteral"}, {"key": true}
            ])
        );
        let items = json!([1, "{% $number(\"2\") %}", 3]);
        assert_eq!(
            eval_template(&items, "Items", &states(json!({})), &no_vars(), &moment())
                .expect("items"),
            json!([1, 2, 3])
        );
    }

    #[test]
    fn template_errors_carry_the_nested_field() {
        let template = json!({"result": "{% $doesNotExist %}"});
        let err = eval_template(
            &template,
            "Output",
            &states(json!({})),
            &no_vars(),
            &moment(),
        )
        .expect_err("undefined");
        assert_eq!(
            cause(err),
            "The JSONata expression '$doesNotExist' specified for the field 'Output/result' \
             returned nothing (undefined)."
        );
        let template = json!({"a": [1, "{% $nope %}"]});
        let err = eval_template(
            &template,
            "Arguments",
            &states(json!({})),
            &no_vars(),
            &moment(),
        )
        .expect_err("undefined");
        assert!(cause(err).contains("for the field 'Arguments/a[1]'"));
    }

    #[test]
    fn type_checks_use_aws_messages() {
        let cases = [
            ("{% true %}", json!(true), "boolean", "true"),
            ("{% null %}", json!(null), "null", "null"),
            ("{% 1 %}", json!(1), "number", "1"),
            (
                "{% {'foo': 'bar'} %}",
                json!({"foo": "bar"}),
                "object",
                "{\"foo\":\"bar\"}",
            ),
            ("{% 'string' %}", json!("string"), "string", "\"string\""),
        ];
        for (expr, value, actual, shown) in cases {
            let text = expression_text(expr).unwrap_or_default();
            let err = expect_type(expr, "Items", &value, "array").expect_err("not an array");
            assert_eq!(
                cause(err),
                format!(
                    "The JSONata expression '{text}' specified for the field 'Items' returned an \
                     unexpected result type. Expected 'array', but was '{actual}' for value: {shown}"
                )
            );
        }
        let err = expect_type("$ItemsVar", "Items", &json!(true), "array").expect_err("boolean");
        assert_eq!(
            cause(err),
            "The JSONata expression '$ItemsVar' specified for the field 'Items' returned an \
             unexpected result type. Expected 'array', but was 'boolean' for value: true"
        );
        assert!(expect_type("$x", "Items", &json!([]), "array").is_ok());
        assert!(expect_type("$x", "MaxConcurrency", &json!(1), "integer").is_ok());
        assert!(expect_type("$x", "MaxConcurrency", &json!(1.5), "integer").is_err());
        assert!(expect_type("$x", "Seconds", &json!(1.5), "number").is_ok());
    }

    #[test]
    fn key_order_follows_inputs_and_expression() {
        let input = json!({"zeta": 1, "alpha": 2, "mid": {"y": 1, "b": 2}});
        let value = run("$states.input", input.clone());
        let keys: Vec<&String> = value
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["zeta", "alpha", "mid"]);
        let inner: Vec<&String> = value["mid"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(inner, ["y", "b"]);
        let value = run("{'zz': 1, 'aa': 2, 'mm': 3}", json!({}));
        let keys: Vec<&String> = value
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["zz", "aa", "mm"]);
        let value = run(
            "$merge([$states.input, {'new': 1, 'alpha': 3}])",
            input.clone(),
        );
        let keys: Vec<&String> = value
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["zeta", "alpha", "mid", "new"]);
        let value = run(
            "{'mid': $states.input.mid, 'zeta': $states.input.zeta}",
            input,
        );
        let keys: Vec<&String> = value
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["mid", "zeta"]);
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for expr in [
            "",
            "{",
            "}",
            "$",
            "$$",
            "%",
            "/",
            "//",
            "/a",
            "[1..",
            "$sum(",
            "'\\u12'",
            "**",
            "$states.input[",
            "$string()",
            "$substring()",
            "$lookup()",
            "$keys()",
            "$now('x','y')",
            "$fromMillis()",
            "$toMillis()",
            "$pad()",
            "$split()",
            "$match()",
            "$replace()",
            "$zip()",
            "$sort()",
            "$each()",
            "$map()",
            "$filter()",
            "$reduce()",
            "$single()",
            "$merge()",
            "$distinct()",
            "$power()",
            "$round()",
            "$millis(1)",
            "[1,2][$]",
            "$states.input ~> $sum",
            "$sift()",
            "$formatNumber(1, '#')",
            "{}.a",
            "a.b.c[0].d",
            "a.%.b",
        ] {
            let _ = eval(
                expr,
                &states(json!({"a": [1, {"b": null}]})),
                &no_vars(),
                &moment(),
            );
        }
        // jsonata-rs panics on the parent operator; the panic becomes an error.
        assert!(eval("a.%.b", &states(json!({})), &no_vars(), &moment()).is_err());
        let err =
            eval("$round()", &states(json!({})), &no_vars(), &moment()).expect_err("panics inside");
        assert!(cause(err).ends_with(": The JSONata engine does not support this expression"));
    }
}

//! JSONata expressions as Step Functions evaluates them in `QueryLanguage: JSONata` states.
//!
//! Owns the `{% ... %}` surround rule, evaluation of one
//! expression with `$states` and the workflow variables bound, the recursive walk over template
//! fields (`Arguments`, `Output`, `Assign`, `Items`, ...), and the `States.QueryEvaluationError`
//! causes AWS reports. The language itself is the `jsonata-rs` crate; this module adds the
//! functions Step Functions provides on top of JSONata (`$partition`, `$range`, `$hash`,
//! `$random` with a seed, `$parse`) and the JSONata 2.0 built-ins `jsonata-rs` lacks that are
//! simple to provide (`$type`, `$average`, `$spread`, `$shuffle`, `$sift`, `$formatBase`,
//! `$encodeUrl`, `$encodeUrlComponent`, `$decodeUrl`, `$decodeUrlComponent`). The regular
//! expression built-ins run on a backtracking-free engine instead of `jsonata-rs`'s (see
//! `patterns`), so no pattern can run past the time limit. `$formatNumber`,
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

mod functions;
mod key_order;
mod patterns;
pub(crate) mod syntax;
#[cfg(test)]
mod tests;

use functions::*;
use key_order::KeyOrder;

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
/// Most memory one evaluation's values may take (its arena): room for [`MAX_RESULT_VALUES`]
/// numbers and the input they came from.
const ARENA_LIMIT_BYTES: usize = 192 * 1024 * 1024;
/// Widest `$pad` result: more would take more memory than an evaluation has, and `jsonata-rs`
/// allocates the width asked for before it looks.
const MAX_PAD_WIDTH: f64 = 1_000_000.0;
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
];
/// The binding of the guarded `$pad`.
const PAD_BINDING: &str = "__stepfn_pad";
/// Start of every binding this module makes in an expression.
const RESERVED_PREFIX: &str = "$__stepfn_";
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
        ))
        .at(field)),
        Err(failure) => Err(query_error(format!(
            "The JSONata expression '{text}' specified for the field '{field}' threw an error during evaluation{}",
            failure.tail()
        ))
        .at(field)),
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
    ))
    .at(field))
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
            JsonataError::D3137Error(message)
                if message == MEMORY_LIMIT_MESSAGE
                    || message.starts_with(patterns::UNSUPPORTED_REGEX) =>
            {
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
        let _quiet = QuietPanics::enter();
        catch_unwind(AssertUnwindSafe(|| evaluate_unguarded(text, states, vars))).unwrap_or_else(
            |panic| {
                // The arena's allocation limit ends an evaluation by panicking ("out of
                // memory"): that is the memory limit, not an engine gap.
                let message = panic
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str));
                if message.is_some_and(|m| m.contains("out of memory")) {
                    return Err(Failure::Bare(MEMORY_LIMIT_MESSAGE.to_string()));
                }
                Err(Failure::Bare(
                    "The JSONata engine does not support this expression".to_string(),
                ))
            },
        )
    })
}

thread_local! {
    /// Set while this thread evaluates JSONata under `catch_unwind`: its panics are caught
    /// and become a state failure, so they are not reported on stderr.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// While alive, panics on this thread are not reported by the panic hook (they are caught).
struct QuietPanics {
    was: bool,
}

impl QuietPanics {
    fn enter() -> QuietPanics {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let report = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !QUIET.with(std::cell::Cell::get) {
                    report(info);
                }
            }));
        });
        QuietPanics {
            was: QUIET.with(|q| q.replace(true)),
        }
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(self.was));
    }
}

fn evaluate_unguarded(
    text: &str,
    states: &Value,
    vars: &Map<String, Value>,
) -> Result<Option<Value>, Failure> {
    let arena = Bump::new();
    // Everything an evaluation builds lives in this arena; past the limit it stops (a range
    // like `[1..10000000]` is built in one step, where the time limit cannot look).
    arena.set_allocation_limit(Some(ARENA_LIMIT_BYTES));
    // Parse the text as written first, so syntax errors point into it.
    let parsed = JsonAta::new(text, &arena)?;
    // The bindings this module makes (the engine's own regex built-ins among them) are not for
    // the expression to call.
    if text.contains(RESERVED_PREFIX) {
        return Err(Failure::Bare(format!(
            "Names starting with {RESERVED_PREFIX} are reserved"
        )));
    }
    // JSONata names variables only literally, so a variable the text does not mention cannot be
    // read; copying only the mentioned ones keeps large inputs out of unrelated expressions.
    let mentions = |name: &str| text.contains(&format!("${name}"));
    let used: Vec<(&String, &Value)> = vars.iter().filter(|(name, _)| mentions(name)).collect();
    // Only the parts of `$states` the text names are copied: the context holds the whole
    // execution input, and a Map iteration reading its item must not copy that each time.
    let paths = read_paths(text, "states");
    let prelude = prelude(text, used.iter().map(|(name, _)| name.as_str()));
    let program = if prelude.is_empty() {
        parsed
    } else {
        JsonAta::new(&format!("({prelude}{text})"), &arena)?
    };
    register_functions(&program, &arena);
    patterns::register(&program, &arena);
    for (name, value) in &used {
        let binding = if ENGINE_BUILTINS.contains(&name.as_str()) {
            format!("{SHADOWED_VARIABLE_PREFIX}{name}")
        } else {
            name.to_string()
        };
        program.assign_var(&binding, to_jsonata(&arena, value));
    }
    // Bound last: `$states` is reserved and no workflow variable may hide it.
    let bound = match &paths {
        Some(paths) => to_jsonata_along(&arena, states, paths),
        None => JValue::null(&arena),
    };
    program.assign_var("states", bound);
    let started = std::time::Instant::now();
    let result = program
        .evaluate_timeboxed(None, Some(MAX_EVALUATION_DEPTH), Some(TIME_LIMIT_MILLIS))
        .map_err(|error| {
            // Some `jsonata-rs` built-ins (`$reduce`) replace the errors of the functions they
            // call with their own; a failure at the time limit is the time limit's.
            if started.elapsed().as_millis() >= TIME_LIMIT_MILLIS as u128 {
                JsonataError::U1001Timeout
            } else {
                error
            }
        })?;
    let mut budget = MAX_RESULT_VALUES;
    let Some(mut value) = from_jsonata(result, 0, &mut budget)? else {
        return Ok(None);
    };
    if contains_object(&value) {
        let mut order = KeyOrder::new(text, used.iter().map(|(_, value)| *value));
        if let Some(paths) = &paths {
            order.learn_along(states, paths, 0);
        }
        order.apply(&mut value);
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
    for (name, _) in patterns::REGEX_BUILTINS {
        if text.contains(&format!("${name}")) {
            prelude.push_str(&format!(
                "${ORIGINAL_BUILTIN_PREFIX}{name} := ${name}; ${name} := ${}{name}; ",
                patterns::REGEX_BUILTIN_PREFIX
            ));
        }
    }
    if text.contains("$pad") {
        prelude.push_str(&format!(
            "${ORIGINAL_BUILTIN_PREFIX}pad := $pad; $pad := ${PAD_BINDING}; "
        ));
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
                        // A name runs to whitespace or an operator, as JSONata's lexer reads
                        // it: a quote inside one (`J"a[[`) is part of the name, not a string.
                        while let Some(&next) = chars.peek() {
                            if next.is_whitespace() || "()[]{},;:?@#.+-*/%|=<>^&!~".contains(next) {
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

/// The member paths through which `text` reads variable `$name` (`$states.input.a` reads
/// `["input", "a"]`; a bare `$states`, or any use of the parent operator `%`, reads all of it,
/// an empty path), or `None` if the text never names it. A path stops at the first step that
/// is not a plain field name: what lies below it is read in full.
fn read_paths<'t>(text: &'t str, name: &str) -> Option<Vec<Vec<&'t str>>> {
    let is_name = |c: char| c.is_alphanumeric() || c == '_';
    let variable = format!("${name}");
    let mut paths = Vec::new();
    for (at, _) in text.match_indices(&variable) {
        let mut rest = &text[at + variable.len()..];
        if rest.starts_with(is_name) {
            // Another variable (`$statesX`).
            continue;
        }
        let mut path = Vec::new();
        while let Some(after_dot) = rest.trim_start().strip_prefix('.') {
            let after_dot = after_dot.trim_start();
            let (field, tail) = if let Some(quoted) = after_dot.strip_prefix('`') {
                match quoted.split_once('`') {
                    Some((field, tail)) => (field, tail),
                    None => break,
                }
            } else {
                let end = after_dot
                    .find(|c: char| !is_name(c))
                    .unwrap_or(after_dot.len());
                if end == 0 || after_dot.starts_with(|c: char| c.is_ascii_digit()) {
                    break;
                }
                (&after_dot[..end], &after_dot[end..])
            };
            path.push(field);
            rest = tail;
        }
        paths.push(path);
    }
    if paths.is_empty() {
        return None;
    }
    if text.contains('%') {
        return Some(vec![Vec::new()]);
    }
    Some(paths)
}

/// Copies the parts of `value` that `paths` (see [`read_paths`]) lead to into the arena:
/// arrays on the way are kept, each member taken along the same paths, as JSONata maps a path
/// over an array; all of `value` if a path is empty.
fn to_jsonata_along<'a>(arena: &'a Bump, value: &Value, paths: &[Vec<&str>]) -> &'a JValue<'a> {
    if paths.iter().any(Vec::is_empty) {
        return to_jsonata(arena, value);
    }
    match value {
        Value::Object(map) => {
            let object = JValue::object(arena);
            for (key, member) in map {
                let tails: Vec<Vec<&str>> = paths
                    .iter()
                    .filter(|path| path[0] == key)
                    .map(|path| path[1..].to_vec())
                    .collect();
                if !tails.is_empty() {
                    object.insert(key, to_jsonata_along(arena, member, &tails));
                }
            }
            object
        }
        Value::Array(items) => {
            let array = JValue::array_with_capacity(arena, items.len(), ArrayFlags::empty());
            for item in items {
                array.push(to_jsonata_along(arena, item, paths));
            }
            array
        }
        other => to_jsonata(arena, other),
    }
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

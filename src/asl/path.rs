//! JSONPath in ASL: reference paths, full JSONPath queries, the `$$` context object, and
//! writing a result into a document (`ResultPath`).
//!
//! Paths are compiled once when a definition is loaded. A *reference path* (`$.a.b[0]`,
//! `$['x y']`) is evaluated by a fast walk of its steps; anything else (wildcards, slices,
//! filters, descendants, unions) is handed to `jsonpath-rust`. As in Step Functions, an
//! indefinite query yields an array of its matches, a definite one its single match.

use std::fmt;

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::{Map, Value};

/// What a path is evaluated against: the state's effective input, the context object and
/// the variables in scope.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// The document `$` refers to.
    pub input: &'a Value,
    /// The context object `$$` refers to (`Value::Null` when the state does not use it).
    pub context: &'a Value,
    /// The variables `$name` refers to.
    pub vars: Option<&'a Map<String, Value>>,
}

impl<'a> Scope<'a> {
    /// A scope over `input` with the given context object and no variables.
    pub fn new(input: &'a Value, context: &'a Value) -> Self {
        Scope {
            input,
            context,
            vars: None,
        }
    }

    /// The same scope with `vars` as its variables.
    pub fn with_vars(mut self, vars: &'a Map<String, Value>) -> Self {
        self.vars = Some(vars);
        self
    }
}

/// A path that failed to compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSONPath {path:?}: {reason}")]
pub struct PathSyntaxError {
    /// The path as written.
    pub path: String,
    /// Why it is not a valid path.
    pub reason: String,
}

/// A path that compiled but found nothing in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMissing {
    /// The path as written.
    pub path: String,
    /// The longest prefix that failed, in bracket notation (`$['no']`).
    pub missing_at: String,
}

impl fmt::Display for PathMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid path '{}' : Missing property in path {}",
            self.path, self.missing_at
        )
    }
}

/// The document a path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state input.
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a variable.
    Variable,
}

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `.name` or `['name']`.
    Field(Box<str>),
    /// `[n]`; negative counts from the end.
    Index(i64),
}

#[derive(Debug, Clone)]
enum Kind {
    Reference(Vec<Step>),
    Query { query: Box<JpQuery>, definite: bool },
}

/// A compiled JSONPath.
#[derive(Debug, Clone)]
pub struct Path {
    src: Box<str>,
    root: Root,
    /// The variable name, for `Root::Variable`.
    var: Box<str>,
    kind: Kind,
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.src == other.src
    }
}

impl Path {
    /// Compiles `src`, which must start with `$` (or `$$` for the context object).
    ///
    /// # Errors
    /// [`PathSyntaxError`] when `src` is not a JSONPath.
    pub fn parse(src: &str) -> Result<Path, PathSyntaxError> {
        let err = |reason: &str| PathSyntaxError {
            path: src.to_string(),
            reason: reason.to_string(),
        };
        let mut var: Box<str> = "".into();
        let (root, rest) = if let Some(rest) = src.strip_prefix("$$") {
            (Root::Context, rest)
        } else if let Some(rest) = src.strip_prefix('$') {
            if rest.starts_with(|c: char| c.is_alphabetic() || c == '_') {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                let name = &rest[..end];
                if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(err("a variable name has only letters, digits and '_'"));
                }
                var = name.into();
                (Root::Variable, &rest[end..])
            } else {
                (Root::Input, rest)
            }
        } else {
            return Err(err("a path must start with '$'"));
        };
        if let Some(steps) = parse_reference(rest) {
            return Ok(Path {
                src: src.into(),
                root,
                var,
                kind: Kind::Reference(steps),
            });
        }
        let query_src = format!("${rest}");
        let query = parse_json_path(&query_src).map_err(|e| err(&e.to_string()))?;
        let definite = is_definite(&query);
        Ok(Path {
            src: src.into(),
            root,
            var,
            kind: Kind::Query {
                query: Box::new(query),
                definite,
            },
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.src
    }

    /// Which document the path reads.
    pub fn root(&self) -> Root {
        self.root
    }

    /// True for `$` or `$$` alone.
    pub fn is_root(&self) -> bool {
        matches!(&self.kind, Kind::Reference(steps) if steps.is_empty())
    }

    /// The steps of a reference path; `None` for a query with wildcards, filters or slices.
    pub fn reference_steps(&self) -> Option<&[Step]> {
        match &self.kind {
            Kind::Reference(steps) => Some(steps),
            Kind::Query { .. } => None,
        }
    }

    /// True when the path is a reference path (it names at most one node).
    pub fn is_reference(&self) -> bool {
        matches!(self.kind, Kind::Reference(_))
    }

    /// True when the path reads the context object.
    pub fn uses_context(&self) -> bool {
        self.root == Root::Context
    }

    /// The variable the path reads, for a `$name` path.
    pub fn variable(&self) -> Option<&str> {
        (self.root == Root::Variable).then_some(&*self.var)
    }

    fn document<'v>(&self, scope: &Scope<'v>) -> Option<&'v Value> {
        match self.root {
            Root::Input => Some(scope.input),
            Root::Context => Some(scope.context),
            Root::Variable => scope.vars.and_then(|v| v.get(&*self.var)),
        }
    }

    /// Evaluates the path. A reference path yields its node; an indefinite query yields the
    /// array of its matches (possibly empty).
    ///
    /// # Errors
    /// [`PathMissing`] when a definite path names nothing.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, PathMissing> {
        let Some(doc) = self.document(scope) else {
            return Err(PathMissing {
                path: self.src.to_string(),
                missing_at: format!("${}", self.var),
            });
        };
        match &self.kind {
            Kind::Reference(steps) => walk(doc, steps)
                .cloned()
                .map_err(|at| self.missing(steps, at)),
            Kind::Query { query, definite } => {
                let found = js_path_process(query, doc).unwrap_or_default();
                if *definite {
                    match found.into_iter().next() {
                        Some(r) => Ok(r.val().clone()),
                        None => Err(PathMissing {
                            path: self.src.to_string(),
                            missing_at: self.src.to_string(),
                        }),
                    }
                } else {
                    Ok(Value::Array(
                        found.into_iter().map(|r| r.val().clone()).collect(),
                    ))
                }
            }
        }
    }

    /// Looks up the node of a reference path without cloning it.
    ///
    /// Returns `None` when the node is missing or the path is a query.
    pub fn lookup<'v>(&self, scope: &Scope<'v>) -> Option<&'v Value> {
        let doc = self.document(scope)?;
        match &self.kind {
            Kind::Reference(steps) => walk(doc, steps).ok(),
            Kind::Query { .. } => None,
        }
    }

    fn missing(&self, steps: &[Step], at: usize) -> PathMissing {
        let mut missing_at = match self.root {
            Root::Input => "$".to_string(),
            Root::Context => "$$".to_string(),
            Root::Variable => format!("${}", self.var),
        };
        for step in &steps[..=at] {
            match step {
                Step::Field(name) => {
                    missing_at.push_str("['");
                    missing_at.push_str(name);
                    missing_at.push_str("']");
                }
                Step::Index(i) => {
                    missing_at.push('[');
                    missing_at.push_str(&i.to_string());
                    missing_at.push(']');
                }
            }
        }
        PathMissing {
            path: self.src.to_string(),
            missing_at,
        }
    }

    /// Writes `value` into `doc` at this reference path, as `ResultPath` does: missing
    /// objects on the way are created, `$` replaces the whole document.
    ///
    /// # Errors
    /// A message when the path is not a reference path on `$` or crosses a value that is
    /// neither an object nor an array.
    pub fn set(&self, doc: Value, value: Value) -> Result<Value, String> {
        let steps = match (&self.kind, self.root) {
            (Kind::Reference(steps), Root::Input) => steps,
            _ => return Err(format!("'{}' is not a reference path on '$'", self.src)),
        };
        if steps.is_empty() {
            return Ok(value);
        }
        let mut doc = doc;
        set_in(&mut doc, steps, value).map_err(|()| {
            format!(
                "Unable to apply ResultPath \"{}\" to input {}",
                self.src,
                serde_json::to_string(&doc).unwrap_or_default()
            )
        })?;
        Ok(doc)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

fn set_in(doc: &mut Value, steps: &[Step], value: Value) -> Result<(), ()> {
    let (last, init) = steps
        .split_last()
        .expect("caller checks steps is not empty");
    let mut node = doc;
    for step in init {
        node = match step {
            Step::Field(name) => {
                if node.is_null() {
                    *node = Value::Object(Map::new());
                }
                match node {
                    Value::Object(map) => map
                        .entry(name.to_string())
                        .or_insert_with(|| Value::Object(Map::new())),
                    _ => return Err(()),
                }
            }
            Step::Index(i) => match node {
                Value::Array(items) => {
                    let idx = resolve_index(*i, items.len()).ok_or(())?;
                    &mut items[idx]
                }
                _ => return Err(()),
            },
        };
    }
    match last {
        Step::Field(name) => {
            if node.is_null() {
                *node = Value::Object(Map::new());
            }
            match node {
                Value::Object(map) => {
                    if let Some(slot) = map.get_mut(&**name) {
                        *slot = value;
                    } else {
                        map.insert(name.to_string(), value);
                    }
                    Ok(())
                }
                _ => Err(()),
            }
        }
        Step::Index(i) => match node {
            Value::Array(items) => {
                let idx = resolve_index(*i, items.len()).ok_or(())?;
                items[idx] = value;
                Ok(())
            }
            _ => Err(()),
        },
    }
}

fn resolve_index(i: i64, len: usize) -> Option<usize> {
    let idx = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&idx).then_some(idx as usize)
}

/// Walks `steps` from `doc`; on failure returns the index of the step that found nothing.
fn walk<'v>(doc: &'v Value, steps: &[Step]) -> Result<&'v Value, usize> {
    let mut node = doc;
    for (at, step) in steps.iter().enumerate() {
        let next = match (step, node) {
            (Step::Field(name), Value::Object(map)) => map.get(&**name),
            (Step::Index(i), Value::Array(items)) => {
                resolve_index(*i, items.len()).map(|idx| &items[idx])
            }
            _ => None,
        };
        node = next.ok_or(at)?;
    }
    Ok(node)
}

/// Parses the part after `$` as reference-path steps; `None` if it needs a full query.
fn parse_reference(mut rest: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            if after.starts_with('.') {
                return None;
            }
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() || name == "*" || name.contains(['*', '(', ')', '?', '@', ' ']) {
                return None;
            }
            steps.push(Step::Field(name.into()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let (step, len) = parse_bracket(after)?;
            steps.push(step);
            rest = &after[len..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// Parses one bracket step after its `[`; returns the step and the bytes consumed.
fn parse_bracket(s: &str) -> Option<(Step, usize)> {
    let quote = s.chars().next()?;
    if quote == '\'' || quote == '"' {
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
                let after = &s[i + 1..];
                return after
                    .starts_with(']')
                    .then(|| (Step::Field(name.into()), i + 2));
            } else {
                name.push(c);
            }
        }
        None
    } else {
        let end = s.find(']')?;
        let num = s[..end].trim();
        if num.is_empty()
            || !num
                .trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let i: i64 = num.parse().ok()?;
        Some((Step::Index(i), end + 1))
    }
}

fn is_definite(query: &JpQuery) -> bool {
    use jsonpath_rust::parser::model::{Segment, Selector};
    query.segments.iter().all(|seg| match seg {
        Segment::Selector(Selector::Name(_)) | Segment::Selector(Selector::Index(_)) => true,
        Segment::Selectors(sels) => {
            sels.len() == 1 && matches!(sels[0], Selector::Name(_) | Selector::Index(_))
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(path: &str, input: Value) -> Result<Value, PathMissing> {
        let ctx = json!({"Execution": {"Id": "x"}});
        Path::parse(path)
            .expect("valid path")
            .eval(&Scope::new(&input, &ctx))
    }

    #[test]
    fn reference_paths_walk_fields_and_indexes() {
        let doc = json!({"a": {"b-c": [1, 2, {"d": true}]}});
        assert_eq!(eval("$.a.b-c[2].d", doc.clone()), Ok(json!(true)));
        assert_eq!(
            eval("$['a']['b-c'][-1]", doc.clone()),
            Ok(json!({"d": true}))
        );
        assert_eq!(eval("$", doc.clone()), Ok(doc));
        assert_eq!(eval("$$.Execution.Id", json!({})), Ok(json!("x")));
    }

    #[test]
    fn missing_property_names_first_missing_step() {
        let err = eval("$.no.such.path", json!({})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid path '$.no.such.path' : Missing property in path $['no']"
        );
    }

    #[test]
    fn indefinite_queries_yield_arrays() {
        let doc = json!({"users": [{"s": 0, "y": 1}, {"s": 1, "y": 2}]});
        assert_eq!(eval("$.users[*].y", doc.clone()), Ok(json!([1, 2])));
        assert_eq!(
            eval("$.users[?(@.s == 0)]", doc.clone()),
            Ok(json!([{"s": 0, "y": 1}]))
        );
        assert_eq!(eval("$.items[1:5]", json!({})), Ok(json!([])));
    }

    #[test]
    fn bracket_names_keep_backslashes_before_other_quotes() {
        let input = json!({"Test\\\"\"Name\"": 1});
        assert_eq!(eval("$['Test\\\"\"Name\"']", input), Ok(json!(1)));
    }

    #[test]
    fn set_creates_missing_objects() {
        let p = Path::parse("$.a.b").expect("valid");
        assert_eq!(
            p.set(json!({"x": 1}), json!(2)),
            Ok(json!({"x": 1, "a": {"b": 2}}))
        );
        let root = Path::parse("$").expect("valid");
        assert_eq!(root.set(json!({"x": 1}), json!(2)), Ok(json!(2)));
        assert!(p.set(json!({"a": 5}), json!(2)).is_err());
    }

    #[test]
    fn variable_paths_read_variables() {
        let mut vars = Map::new();
        vars.insert("list".into(), json!(["a", "b"]));
        let input = json!({});
        let scope = Scope::new(&input, &Value::Null).with_vars(&vars);
        let p = Path::parse("$list[1]").expect("valid");
        assert_eq!(p.variable(), Some("list"));
        assert_eq!(p.eval(&scope), Ok(json!("b")));
        assert!(Path::parse("$nope").expect("valid").eval(&scope).is_err());
    }

    #[test]
    fn non_paths_are_rejected() {
        assert!(Path::parse("a.b").is_err());
        assert!(Path::parse("$.a[").is_err());
    }
}

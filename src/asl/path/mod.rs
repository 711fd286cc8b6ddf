//! JSONPath in ASL: reference paths, full JSONPath queries, the `$$` context object, and
//! writing a result into a document (`ResultPath`).
//!
//! Step Functions evaluates JSONPath with Jayway JsonPath, not RFC 9535, and so does this
//! module: `syntax` compiles a path with Jayway's rules, `eval` evaluates it with
//! Jayway's results and messages, `filter` holds filter expressions. `jsonpath-rust`, an
//! RFC 9535 implementation, cannot be made to take the Jayway forms AWS accepts (`$.[0]`,
//! `['a','b']` merged into one object, `[(@.length-1)]`, bare words and lexical operators
//! in filters, `.length()`), nor to fail as Jayway fails, so it is kept only as a dev
//! dependency the tests compare the common forms against.
//!
//! Paths are compiled once when a definition is loaded. A *reference path* (`$.a.b[0]`,
//! `$['x y']`) is evaluated by a fast walk of its steps; a *definite* path yields its one
//! match, any other its list of matches.

mod eval;
mod filter;
mod syntax;

#[cfg(test)]
mod tests;

use std::fmt;

use serde_json::{Map, Value};

use syntax::Segment;

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
    /// A Map iteration's `$$.Map.Item` when the context object does not hold it: its `Index`
    /// and `Value`, read by the paths [`Path::reads_map_item_directly`] accepts.
    pub map_item: Option<(&'a Value, &'a Value)>,
}

impl<'a> Scope<'a> {
    /// A scope over `input` with the given context object and no variables.
    pub fn new(input: &'a Value, context: &'a Value) -> Self {
        Scope {
            input,
            context,
            vars: None,
            map_item: None,
        }
    }

    /// The same scope with a Map iteration's item index and value as `$$.Map.Item`.
    pub fn with_map_item(mut self, index: &'a Value, item: &'a Value) -> Self {
        self.map_item = Some((index, item));
        self
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
    /// Jayway's reason (`No results for path: $['a']`, `Missing property in path $['a']`).
    pub reason: String,
}

impl fmt::Display for PathMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid path '{}' : {}", self.path, self.reason)
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

/// A compiled JSONPath.
#[derive(Debug, Clone)]
pub struct Path {
    src: Box<str>,
    root: Root,
    /// The variable name, for `Root::Variable`.
    var: Box<str>,
    segments: Vec<Segment>,
    /// The steps, when every segment is one name or one index.
    steps: Option<Vec<Step>>,
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
        let segments = syntax::compile(rest).map_err(|e| err(&e))?;
        let steps = segments
            .iter()
            .map(|s| match s {
                Segment::Names(n) if n.len() == 1 => Some(Step::Field(n[0].clone())),
                Segment::Indexes(i) if i.len() == 1 => Some(Step::Index(i[0])),
                _ => None,
            })
            .collect();
        Ok(Path {
            src: src.into(),
            root,
            var,
            segments,
            steps,
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
        self.segments.is_empty()
    }

    /// The steps of a reference path; `None` for any other path.
    pub fn reference_steps(&self) -> Option<&[Step]> {
        self.steps.as_deref()
    }

    /// True when the path is a reference path: names and indexes only, one each per step.
    pub fn is_reference(&self) -> bool {
        self.steps.is_some()
    }

    /// Why the path cannot stand where AWS asks for a reference path (`ItemsPath`,
    /// `SecondsPath`, ...): functions, lexical operators, regular expressions and filters
    /// that compare with another value of the document are not supported there.
    pub fn reference_violation(&self) -> Option<&'static str> {
        self.segments.iter().find_map(|s| match s {
            Segment::Function(_) => Some("functions such as length() are not supported"),
            Segment::Filter(e) => e.reference_violation(),
            _ => None,
        })
    }

    /// True when the path names at most one node (Jayway's definite path).
    pub fn is_definite(&self) -> bool {
        eval::definite(&self.segments)
    }

    /// True when the path reads the context object.
    pub fn uses_context(&self) -> bool {
        self.root == Root::Context
    }

    /// The variable the path reads, for a `$name` path.
    pub fn variable(&self) -> Option<&str> {
        (self.root == Root::Variable).then_some(&*self.var)
    }

    /// True unless the path needs `$$.Map` in the context object itself: a scope's
    /// [`Scope::map_item`] serves `$$.Map.Item.Index` and reference paths under
    /// `$$.Map.Item.Value`, and any path that does not read `$$.Map`.
    pub fn reads_map_item_directly(&self) -> bool {
        if self.root != Root::Context {
            return true;
        }
        match &self.steps {
            Some(steps) => match steps.as_slice() {
                [Step::Field(m), rest @ ..] if &**m == "Map" => {
                    matches!(
                        rest,
                        [Step::Field(i), Step::Field(v), ..] if &**i == "Item" && &**v == "Value"
                    ) || matches!(
                        rest,
                        [Step::Field(i), Step::Field(x)] if &**i == "Item" && &**x == "Index"
                    )
                }
                [] => false,
                _ => true,
            },
            // A query on `$$` may reach `Map` through a wildcard or a scan.
            None => false,
        }
    }

    /// The node of a path [`Self::reads_map_item_directly`] serves from the scope's map item;
    /// `None` when the scope has none or the path does not start at `$$.Map.Item`.
    fn map_item_node<'v>(&self, scope: &Scope<'v>) -> Option<Option<&'v Value>> {
        let (index, item) = scope.map_item?;
        if self.root != Root::Context {
            return None;
        }
        match self.steps.as_deref()? {
            [Step::Field(m), Step::Field(i), Step::Field(v), rest @ ..]
                if &**m == "Map" && &**i == "Item" && &**v == "Value" =>
            {
                Some(walk(item, rest))
            }
            [Step::Field(m), Step::Field(i), Step::Field(x)]
                if &**m == "Map" && &**i == "Item" && &**x == "Index" =>
            {
                Some(Some(index))
            }
            _ => None,
        }
    }

    fn document<'v>(&self, scope: &Scope<'v>) -> Option<&'v Value> {
        match self.root {
            Root::Input => Some(scope.input),
            Root::Context => Some(scope.context),
            Root::Variable => scope.vars.and_then(|v| v.get(&*self.var)),
        }
    }

    /// Evaluates the path. A definite path yields its node; any other yields the array of
    /// its matches (possibly empty).
    ///
    /// # Errors
    /// [`PathMissing`] when a definite path names nothing, with Jayway's reason.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, PathMissing> {
        if let Some(node) = self.map_item_node(scope) {
            return node
                .cloned()
                .ok_or_else(|| self.missing(format!("No results for path: {}", self.src)));
        }
        let Some(doc) = self.document(scope) else {
            return Err(self.missing(format!("No results for path: ${}", self.var)));
        };
        if let Some(steps) = &self.steps {
            if let Some(v) = walk(doc, steps) {
                return Ok(v.clone());
            }
        }
        eval::evaluate(&self.segments, doc, doc, false)
            .map(std::borrow::Cow::into_owned)
            .map_err(|reason| self.missing(reason))
    }

    /// Looks up the node of a definite path without cloning it.
    ///
    /// Returns `None` when the node is missing, or when the path is not definite or builds
    /// its value (a union of names, a function).
    pub fn lookup<'v>(&self, scope: &Scope<'v>) -> Option<&'v Value> {
        if let Some(node) = self.map_item_node(scope) {
            return node;
        }
        let doc = self.document(scope)?;
        if let Some(steps) = &self.steps {
            return walk(doc, steps);
        }
        if !self.is_definite() {
            return None;
        }
        match eval::evaluate(&self.segments, doc, doc, true).ok()? {
            std::borrow::Cow::Borrowed(v) => Some(v),
            std::borrow::Cow::Owned(_) => None,
        }
    }

    fn missing(&self, reason: String) -> PathMissing {
        PathMissing {
            path: self.src.to_string(),
            reason,
        }
    }

    /// Writes `value` into `doc` at this reference path, as `ResultPath` does: missing
    /// objects on the way are created, `$` replaces the whole document.
    ///
    /// # Errors
    /// A message when the path is not a reference path on `$` or crosses a value that is
    /// neither an object nor an array.
    pub fn set(&self, doc: Value, value: Value) -> Result<Value, String> {
        let steps = match (&self.steps, self.root) {
            (Some(steps), Root::Input) => steps,
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
                    if let Some(slot) = field_mut(map, name) {
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

/// Objects up to this many fields are searched by a scan: comparing a few keys costs less than
/// hashing one (serde_json's ordered map hashes with SipHash).
const SCAN_FIELDS: usize = 8;

/// The value of field `name` of `map`.
#[inline]
pub(crate) fn field<'v>(map: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    if map.len() <= SCAN_FIELDS {
        map.iter().find_map(|(k, v)| (k == name).then_some(v))
    } else {
        map.get(name)
    }
}

/// The value of field `name` of `map`, to change.
#[inline]
pub(crate) fn field_mut<'v>(map: &'v mut Map<String, Value>, name: &str) -> Option<&'v mut Value> {
    if map.len() <= SCAN_FIELDS {
        map.iter_mut().find_map(|(k, v)| (k == name).then_some(v))
    } else {
        map.get_mut(name)
    }
}

/// Walks `steps` from `doc`; `None` when a step finds nothing.
fn walk<'v>(doc: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    let mut node = doc;
    for step in steps {
        node = match (step, node) {
            (Step::Field(name), Value::Object(map)) => field(map, name),
            (Step::Index(i), Value::Array(items)) => {
                resolve_index(*i, items.len()).map(|idx| &items[idx])
            }
            _ => None,
        }?;
    }
    Some(node)
}

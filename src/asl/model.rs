//! The serde model of a state machine definition: every state type and field.
//!
//! Paths, payload templates and Choice rules are compiled while deserializing, so a loaded
//! [`StateMachine`] is ready to run; transitions are resolved to state indexes once by
//! [`StateMachine::from_value`]. Shape checks with friendly, located messages live in
//! `validate`; this module reports what serde finds, located by JSON Pointer.

use std::collections::HashMap;
use std::sync::Arc;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::asl::choice::ChoiceRule;
use crate::asl::diagnostic::{join, Diagnostic};
use crate::asl::path::Path;
use crate::asl::resource::Resource;
use crate::asl::template::{Dynamic, Template};

/// Which language a state's fields are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum QueryLanguage {
    /// Paths, templates and intrinsic functions (the default).
    #[default]
    JSONPath,
    /// `{% ... %}` JSONata expressions.
    JSONata,
}

/// A path field that may be absent (default `$`), `null`, or a path.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum PathField {
    /// Not given: the default, `$`.
    #[default]
    Default,
    /// Given as `null`.
    Null,
    /// Given as a path.
    Path(Path),
}

impl<'de> Deserialize<'de> for PathField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(PathField::Null),
            Some(s) => Path::parse(&s)
                .map(PathField::Path)
                .map_err(D::Error::custom),
        }
    }
}

impl<'de> Deserialize<'de> for Path {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Path::parse(&s).map_err(D::Error::custom)
    }
}

/// A whole state machine definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachine {
    /// Free text.
    #[serde(default)]
    pub comment: Option<String>,
    /// ASL version, "1.0".
    #[serde(default)]
    pub version: Option<String>,
    /// Execution timeout.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Default query language of every state.
    #[serde(default)]
    pub query_language: QueryLanguage,
    /// The top-level states.
    #[serde(flatten)]
    pub body: Body,
    /// Which parts of the context object some path may read.
    #[serde(skip)]
    pub context_needs: ContextNeeds,
}

/// Which parts of the context object a state machine may read; the engine builds only those.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextNeeds {
    /// `$$.Execution`.
    pub execution: bool,
    /// `$$.Execution.Input` (copying the input is the costly part).
    pub input: bool,
    /// `$$.StateMachine`.
    pub state_machine: bool,
    /// `$$.State`.
    pub state: bool,
}

impl ContextNeeds {
    /// Every part.
    pub const ALL: ContextNeeds = ContextNeeds {
        execution: true,
        input: true,
        state_machine: true,
        state: true,
    };

    /// Scans a definition's text for `$$` references (and JSONata's `$states.context`).
    pub fn of(text: &str) -> ContextNeeds {
        let mut needs = ContextNeeds::default();
        if text.contains("$states") {
            return ContextNeeds::ALL;
        }
        for (at, _) in text.match_indices("$$") {
            let rest = &text[at + 2..];
            let Some(after) = rest.strip_prefix('.') else {
                return ContextNeeds::ALL;
            };
            if let Some(tail) = after.strip_prefix("StateMachine") {
                needs.state_machine = true;
                if !tail.starts_with(['.', '"', '\\', ',', ')', ' ']) {
                    return ContextNeeds::ALL;
                }
            } else if after.starts_with("State") {
                needs.state = true;
            } else if let Some(tail) = after.strip_prefix("Execution") {
                needs.execution = true;
                match tail.strip_prefix('.') {
                    Some(field)
                        if !field.starts_with("Input") && !field.starts_with(['*', '[']) => {}
                    _ => needs.input = true,
                }
            } else if !(after.starts_with("Map") || after.starts_with("Task")) {
                return ContextNeeds::ALL;
            }
        }
        needs
    }
}

/// A set of states with a start: the top level, a Parallel branch or a Map item processor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Body {
    /// The first state.
    pub start_at: String,
    /// The states, in definition order.
    pub states: NamedStates,
    /// Index of `start_at` in `states`.
    #[serde(skip)]
    pub start: usize,
    /// Map and Parallel item processors: `ProcessorConfig`.
    #[serde(default)]
    pub processor_config: Option<Value>,
    /// The state names, shared (task requests carry them), once resolved.
    #[serde(skip)]
    names: Vec<Arc<str>>,
}

/// States with their names, in definition order.
#[derive(Debug, Clone, Default)]
pub struct NamedStates(pub Vec<(String, State)>);

impl<'de> Deserialize<'de> for NamedStates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = NamedStates;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of states")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<NamedStates, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, State>()? {
                    out.push((k, v));
                }
                Ok(NamedStates(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Where a state goes when it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transition {
    /// To the state at this index of the same body.
    Next(usize),
    /// The body (branch, iteration, execution) ends with this state's output.
    #[default]
    End,
}

/// Fields shared by every state.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Common {
    /// Free text.
    #[serde(default)]
    pub comment: Option<String>,
    /// Per-state query language.
    #[serde(default)]
    pub query_language: Option<QueryLanguage>,
    /// The next state's name.
    #[serde(default)]
    pub next: Option<String>,
    /// True when the state ends its body.
    #[serde(default)]
    pub end: bool,
    /// `InputPath`.
    #[serde(default)]
    pub input_path: PathField,
    /// `OutputPath`.
    #[serde(default)]
    pub output_path: PathField,
    /// JSONata `Output` (an explicit `null` is kept as `Some(Value::Null)`).
    #[serde(default, deserialize_with = "present")]
    pub output: Option<Value>,
    /// Variables to assign.
    #[serde(default)]
    pub assign: Option<Value>,
    /// `Next` or `End`, resolved.
    #[serde(skip)]
    pub transition: Transition,
    /// The state's query language, resolved (its own, else the state machine's).
    #[serde(skip)]
    pub lang: QueryLanguage,
    /// `Assign` compiled as a payload template (JSONPath states).
    #[serde(skip)]
    pub assign_template: Option<Template>,
}

/// Result handling shared by Task, Parallel and Map.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ResultFields {
    /// `ResultPath`.
    #[serde(default)]
    pub result_path: PathField,
    /// `ResultSelector`.
    #[serde(default)]
    pub result_selector: Option<Template>,
    /// Retriers.
    #[serde(default)]
    pub retry: Vec<Retrier>,
    /// Catchers.
    #[serde(default)]
    pub catch: Vec<Catcher>,
}

/// One state.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "Type")]
#[allow(clippy::large_enum_variant)]
pub enum State {
    /// Passes its input (or `Result`) on.
    Pass(PassState),
    /// Runs a task.
    Task(TaskState),
    /// Picks the next state.
    Choice(ChoiceState),
    /// Waits for a time.
    Wait(WaitState),
    /// Ends its body successfully.
    Succeed(SucceedState),
    /// Ends the execution with an error.
    Fail(FailState),
    /// Runs branches in parallel.
    Parallel(ParallelState),
    /// Runs an item processor over each item of an array.
    Map(MapState),
}

/// `"Type": "Pass"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PassState {
    /// Shared fields.
    #[serde(flatten)]
    pub common: Common,
    /// `Parameters`.
    #[serde(default)]
    pub parameters: Option<Template>,
    /// `Result`: a fixed result.
    #[serde(default, deserialize_with = "present")]
    pub result: Option<Value>,
    /// `ResultPath`.
    #[serde(default)]
    pub result_path: PathField,
}

/// `"Type": "Task"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskState {
    /// Shared fields.
    #[serde(flatten)]
    pub common: Common,
    /// Result handling.
    #[serde(flatten)]
    pub result: ResultFields,
    /// The resource ARN.
    pub resource: Resource,
    /// `Parameters`.
    #[serde(default)]
    pub parameters: Option<Template>,
    /// JSONata `Arguments`.
    #[serde(default)]
    pub arguments: Option<Value>,
    /// Task timeout.
    #[serde(default)]
    pub timeout_seconds: Option<Value>,
    /// Task timeout from the input.
    #[serde(default)]
    pub timeout_seconds_path: Option<Path>,
    /// Heartbeat interval.
    #[serde(default)]
    pub heartbeat_seconds: Option<Value>,
    /// Heartbeat interval from the input.
    #[serde(default)]
    pub heartbeat_seconds_path: Option<Path>,
    /// Role to assume.
    #[serde(default)]
    pub credentials: Option<Value>,
}

/// `"Type": "Choice"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChoiceState {
    /// Shared fields.
    #[serde(flatten)]
    pub common: Common,
    /// The rules, tried in order.
    #[serde(deserialize_with = "choice_rules")]
    pub choices: Vec<ChoiceRule>,
    /// Where to go when no rule matches.
    #[serde(default)]
    pub default: Option<String>,
    /// Resolved `Next` of each rule, then of `Default`.
    #[serde(skip)]
    pub targets: Vec<usize>,
    /// Resolved `Default`.
    #[serde(skip)]
    pub default_target: Option<usize>,
    /// True when a rule reads the context object.
    #[serde(skip)]
    pub uses_context: bool,
    /// Each rule's `Assign`, compiled (JSONPath states).
    #[serde(skip)]
    pub rule_assigns: Vec<Option<Template>>,
}

/// `"Type": "Wait"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WaitState {
    /// Shared fields.
    #[serde(flatten)]
    pub common: Common,
    /// Fixed seconds (a number, or a JSONata string).
    #[serde(default)]
    pub seconds: Option<Value>,
    /// Fixed timestamp (or a JSONata string).
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Seconds from the input.
    #[serde(default)]
    pub seconds_path: Option<Path>,
    /// Timestamp from the input.
    #[serde(default)]
    pub timestamp_path: Option<Path>,
}

/// `"Type": "Succeed"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SucceedState {
    /// Shared fields.
    #[serde(flatten)]
    pub common: Common,
}

/// `"Type": "Fail"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailState {
    /// Free text.
    #[serde(default)]
    pub comment: Option<String>,
    /// Per-state query language.
    #[serde(default)]
    pub query_language: Option<QueryLanguage>,
    /// Fixed error name.
    #[serde(default)]
    pub error: Option<String>,
    /// Error name from the input (a path or an intrinsic).
    #[serde(default)]
    pub error_path: Option<Dynamic>,
    /// Fixed cause.
    #[serde(default)]
    pub cause: Option<String>,
    /// Cause from the input (a path or an intrinsic).
    #[serde(default)]
    pub cause_path: Option<Dynamic>,
    /// The state's query language, resolved.
    #[serde(skip)]
    pub lang: QueryLanguage,
}

/// `"Type": "Parallel"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParallelState {
    /// Shared fields.
    #[serde(flatten)]
    pub common: Common,
    /// Result handling.
    #[serde(flatten)]
    pub result: ResultFields,
    /// The branches.
    pub branches: Vec<Body>,
    /// `Parameters`.
    #[serde(default)]
    pub parameters: Option<Template>,
    /// JSONata `Arguments`.
    #[serde(default)]
    pub arguments: Option<Value>,
}

/// `"Type": "Map"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MapState {
    /// Shared fields.
    #[serde(flatten)]
    pub common: Common,
    /// Result handling.
    #[serde(flatten)]
    pub result: ResultFields,
    /// The states run for each item.
    #[serde(alias = "Iterator")]
    pub item_processor: Body,
    /// Where the items are in the input.
    #[serde(default)]
    pub items_path: PathField,
    /// JSONata (or literal) items.
    #[serde(default)]
    pub items: Option<Value>,
    /// Builds each iteration's input (legacy name: `Parameters`).
    #[serde(default, alias = "Parameters")]
    pub item_selector: Option<Template>,
    /// Items read from a resource (distributed mode).
    #[serde(default)]
    pub item_reader: Option<Value>,
    /// Item batching (distributed mode).
    #[serde(default)]
    pub item_batcher: Option<Value>,
    /// Where results are written (distributed mode).
    #[serde(default)]
    pub result_writer: Option<Value>,
    /// Distributed-mode label.
    #[serde(default)]
    pub label: Option<String>,
    /// At most this many iterations at once; 0 means no limit.
    #[serde(default)]
    pub max_concurrency: Option<Value>,
    /// `MaxConcurrency` from the input.
    #[serde(default)]
    pub max_concurrency_path: Option<Path>,
    /// Failures tolerated, as a count.
    #[serde(default)]
    pub tolerated_failure_count: Option<Value>,
    /// Failures tolerated, as a count from the input.
    #[serde(default)]
    pub tolerated_failure_count_path: Option<Path>,
    /// Failures tolerated, as a percentage.
    #[serde(default)]
    pub tolerated_failure_percentage: Option<Value>,
    /// Failures tolerated, as a percentage from the input.
    #[serde(default)]
    pub tolerated_failure_percentage_path: Option<Path>,
    /// In distributed mode, the definition each child execution runs: the item processor as
    /// a state machine of its own (`StartAt`, `States`, the machine's `QueryLanguage`).
    #[serde(skip)]
    pub child_definition: Option<Arc<Value>>,
}

impl MapState {
    /// True when the Map runs in distributed mode (its iterations are child executions).
    pub fn is_distributed(&self) -> bool {
        self.child_definition.is_some()
    }

    /// The child executions' type in distributed mode: `STANDARD` or `EXPRESS`.
    pub fn execution_type(&self) -> &str {
        self.item_processor
            .processor_config
            .as_ref()
            .and_then(|c| c.get("ExecutionType"))
            .and_then(Value::as_str)
            .unwrap_or("STANDARD")
    }
}

/// One entry of `Retry`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retrier {
    /// Error names this retrier handles.
    pub error_equals: Vec<String>,
    /// Seconds before the first retry (default 1).
    #[serde(default = "one_u64")]
    pub interval_seconds: u64,
    /// Retries at most (default 3).
    #[serde(default = "three_u64")]
    pub max_attempts: u64,
    /// Interval multiplier (default 2.0).
    #[serde(default = "two_f64")]
    pub backoff_rate: f64,
    /// Cap on the interval.
    #[serde(default)]
    pub max_delay_seconds: Option<u64>,
    /// `FULL` or `NONE` (default).
    #[serde(default)]
    pub jitter_strategy: Option<String>,
    /// Free text.
    #[serde(default)]
    pub comment: Option<String>,
}

/// One entry of `Catch`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catcher {
    /// Error names this catcher handles.
    pub error_equals: Vec<String>,
    /// The fallback state.
    pub next: String,
    /// Where the error output goes (default `$`).
    #[serde(default)]
    pub result_path: PathField,
    /// JSONata `Output` (an explicit `null` is kept as `Some(Value::Null)`).
    #[serde(default, deserialize_with = "present")]
    pub output: Option<Value>,
    /// Variables to assign.
    #[serde(default)]
    pub assign: Option<Value>,
    /// Free text.
    #[serde(default)]
    pub comment: Option<String>,
    /// Resolved `Next`.
    #[serde(skip)]
    pub target: usize,
    /// `Assign` compiled as a payload template (JSONPath states).
    #[serde(skip)]
    pub assign_template: Option<Template>,
}

fn one_u64() -> u64 {
    1
}
fn three_u64() -> u64 {
    3
}
fn two_f64() -> f64 {
    2.0
}

/// Keeps an explicit `null` as `Some(Value::Null)` (absent stays `None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn choice_rules<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ChoiceRule>, D::Error> {
    let rules = Vec::<Value>::deserialize(d)?;
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            ChoiceRule::parse(r, &format!("/{i}")).map_err(|diags| {
                D::Error::custom(
                    diags
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })
        })
        .collect()
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Template::compile(&v).map_err(D::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Dynamic {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Dynamic::parse(&s).map_err(D::Error::custom)
    }
}

impl State {
    /// The shared fields (Fail has none of them but the language).
    pub fn common(&self) -> Option<&Common> {
        Some(match self {
            State::Pass(s) => &s.common,
            State::Task(s) => &s.common,
            State::Choice(s) => &s.common,
            State::Wait(s) => &s.common,
            State::Succeed(s) => &s.common,
            State::Parallel(s) => &s.common,
            State::Map(s) => &s.common,
            State::Fail(_) => return None,
        })
    }

    fn common_mut(&mut self) -> Option<&mut Common> {
        Some(match self {
            State::Pass(s) => &mut s.common,
            State::Task(s) => &mut s.common,
            State::Choice(s) => &mut s.common,
            State::Wait(s) => &mut s.common,
            State::Succeed(s) => &mut s.common,
            State::Parallel(s) => &mut s.common,
            State::Map(s) => &mut s.common,
            State::Fail(_) => return None,
        })
    }

    /// The state's type name as in history events (`Pass`, `Task`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            State::Pass(_) => "Pass",
            State::Task(_) => "Task",
            State::Choice(_) => "Choice",
            State::Wait(_) => "Wait",
            State::Succeed(_) => "Succeed",
            State::Fail(_) => "Fail",
            State::Parallel(_) => "Parallel",
            State::Map(_) => "Map",
        }
    }

    /// The state's own query language, if it sets one.
    pub fn query_language(&self) -> Option<QueryLanguage> {
        match self {
            State::Fail(f) => f.query_language,
            s => s.common().and_then(|c| c.query_language),
        }
    }

    /// The retriers and catchers, for states that have them.
    pub fn result_fields(&self) -> Option<&ResultFields> {
        match self {
            State::Task(s) => Some(&s.result),
            State::Parallel(s) => Some(&s.result),
            State::Map(s) => Some(&s.result),
            _ => None,
        }
    }
}

impl StateMachine {
    /// Loads a definition: deserializes it and resolves every transition.
    ///
    /// # Errors
    /// Every problem found, located by JSON Pointer. Run `validate` first for the full set
    /// of checks with friendlier messages.
    pub fn from_value(definition: &Value) -> Result<StateMachine, Vec<Diagnostic>> {
        let mut machine: StateMachine =
            serde_path_to_error::deserialize(definition).map_err(|e| {
                let pointer = pointer_of(&e.path().to_string());
                vec![Diagnostic::new(pointer, e.inner().to_string())]
            })?;
        machine.context_needs = ContextNeeds::of(&definition.to_string());
        let lang = machine.query_language;
        let mut diags = Vec::new();
        machine.body.resolve("", lang, &mut diags);
        machine.body.attach_children(definition, lang);
        if diags.is_empty() {
            Ok(machine)
        } else {
            Err(diags)
        }
    }
}

impl Body {
    /// Gives each distributed Map its children's definition, from the raw JSON of this body.
    fn attach_children(&mut self, raw: &Value, lang: QueryLanguage) {
        let Some(raw_states) = raw.get("States") else {
            return;
        };
        for (name, state) in &mut self.states.0 {
            let Some(raw_state) = raw_states.get(name.as_str()) else {
                continue;
            };
            match state {
                State::Parallel(p) => {
                    if let Some(Value::Array(raw_branches)) = raw_state.get("Branches") {
                        for (b, rb) in p.branches.iter_mut().zip(raw_branches) {
                            b.attach_children(rb, lang);
                        }
                    }
                }
                State::Map(m) => {
                    let Some(processor) = raw_state
                        .get("ItemProcessor")
                        .or_else(|| raw_state.get("Iterator"))
                    else {
                        continue;
                    };
                    m.item_processor.attach_children(processor, lang);
                    let distributed = processor
                        .pointer("/ProcessorConfig/Mode")
                        .and_then(Value::as_str)
                        == Some("DISTRIBUTED");
                    if distributed {
                        let mut child = serde_json::Map::new();
                        for key in ["StartAt", "States"] {
                            if let Some(v) = processor.get(key) {
                                child.insert(key.into(), v.clone());
                            }
                        }
                        if lang == QueryLanguage::JSONata {
                            child.insert("QueryLanguage".into(), Value::from("JSONata"));
                        }
                        m.child_definition = Some(Arc::new(Value::Object(child)));
                    }
                }
                _ => {}
            }
        }
    }

    /// Index of the state named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.states.0.iter().position(|(n, _)| n == name)
    }

    /// The state at `index` and its name.
    pub fn state(&self, index: usize) -> (&str, &State) {
        let (n, s) = &self.states.0[index];
        (n, s)
    }

    /// The name of state `index`, shared.
    pub fn state_name(&self, index: usize) -> Arc<str> {
        match self.names.get(index) {
            Some(n) => Arc::clone(n),
            None => Arc::from(self.state(index).0),
        }
    }

    fn resolve(&mut self, pointer: &str, lang: QueryLanguage, diags: &mut Vec<Diagnostic>) {
        self.names = self
            .states
            .0
            .iter()
            .map(|(n, _)| Arc::from(n.as_str()))
            .collect();
        let names: HashMap<String, usize> = self
            .states
            .0
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i))
            .collect();
        let find = |name: &str, at: String, diags: &mut Vec<Diagnostic>| -> usize {
            match names.get(name) {
                Some(i) => *i,
                None => {
                    diags.push(Diagnostic::new(at, format!("no state named {name:?}")));
                    0
                }
            }
        };
        self.start = find(&self.start_at, join(pointer, "StartAt"), diags);
        let states_ptr = join(pointer, "States");
        for (name, state) in self.states.0.iter_mut() {
            let at = join(&states_ptr, name.as_str());
            let state_lang = state.query_language().unwrap_or(lang);
            if let State::Fail(f) = state {
                f.lang = state_lang;
            }
            if let Some(common) = state.common_mut() {
                common.lang = state_lang;
                if state_lang == QueryLanguage::JSONPath {
                    common.assign_template =
                        compile_assign(common.assign.as_ref(), &join(&at, "Assign"), diags);
                }
                common.transition = match (&common.next, common.end) {
                    (Some(next), false) => Transition::Next(find(next, join(&at, "Next"), diags)),
                    (None, true) => Transition::End,
                    (Some(_), true) => {
                        diags.push(Diagnostic::new(
                            at.clone(),
                            "a state cannot have both Next and End",
                        ));
                        Transition::End
                    }
                    (None, false) => Transition::End,
                };
            }
            match state {
                State::Choice(c) => {
                    let mut targets = Vec::with_capacity(c.choices.len());
                    for (i, rule) in c.choices.iter().enumerate() {
                        let p = join(&join(&join(&at, "Choices"), i), "Next");
                        targets.push(find(rule.next(), p, diags));
                    }
                    c.targets = targets;
                    c.rule_assigns = c
                        .choices
                        .iter()
                        .enumerate()
                        .map(|(i, rule)| match state_lang {
                            QueryLanguage::JSONPath => compile_assign(
                                rule.assign(),
                                &join(&join(&join(&at, "Choices"), i), "Assign"),
                                diags,
                            ),
                            QueryLanguage::JSONata => None,
                        })
                        .collect();
                    c.uses_context = c.choices.iter().any(ChoiceRule::uses_context)
                        || matches!(&c.common.input_path, PathField::Path(p) if p.uses_context())
                        || matches!(&c.common.output_path, PathField::Path(p) if p.uses_context());
                    c.default_target = c
                        .default
                        .as_deref()
                        .map(|d| find(d, join(&at, "Default"), diags));
                }
                // States in branches and item processors inherit the state machine's query
                // language, not the Parallel's or Map's own.
                State::Parallel(p) => {
                    for (i, b) in p.branches.iter_mut().enumerate() {
                        b.resolve(&join(&join(&at, "Branches"), i), lang, diags);
                    }
                    resolve_catchers(&mut p.result.catch, &at, state_lang, &find, diags);
                }
                State::Map(m) => {
                    m.item_processor
                        .resolve(&join(&at, "ItemProcessor"), lang, diags);
                    resolve_catchers(&mut m.result.catch, &at, state_lang, &find, diags);
                }
                State::Task(t) => {
                    resolve_catchers(&mut t.result.catch, &at, state_lang, &find, diags)
                }
                _ => {}
            }
        }
    }
}

fn resolve_catchers(
    catchers: &mut [Catcher],
    at: &str,
    lang: QueryLanguage,
    find: &dyn Fn(&str, String, &mut Vec<Diagnostic>) -> usize,
    diags: &mut Vec<Diagnostic>,
) {
    for (i, c) in catchers.iter_mut().enumerate() {
        let here = join(&join(at, "Catch"), i);
        c.target = find(&c.next, join(&here, "Next"), diags);
        if lang == QueryLanguage::JSONPath {
            c.assign_template = compile_assign(c.assign.as_ref(), &join(&here, "Assign"), diags);
        }
    }
}

/// Compiles a JSONPath state's `Assign` as a payload template.
fn compile_assign(
    assign: Option<&Value>,
    at: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Template> {
    let value = assign?;
    if !value.is_object() {
        diags.push(Diagnostic::new(at, "Assign must be an object"));
        return None;
    }
    match Template::compile(value) {
        Ok(t) => Some(t),
        Err(e) => {
            diags.push(Diagnostic::new(at, e));
            None
        }
    }
}

/// Turns serde_path_to_error's `a.b[0].c` into a JSON Pointer `/a/b/0/c`.
fn pointer_of(path: &str) -> String {
    if path == "." {
        return String::new();
    }
    let mut out = String::new();
    for part in path.split('.') {
        let mut rest = part;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').unwrap_or(after.len());
                out = join(&out, &after[..end]);
                rest = after.get(end + 1..).unwrap_or("");
            } else {
                let end = rest.find('[').unwrap_or(rest.len());
                out = join(&out, &rest[..end]);
                rest = &rest[end..];
            }
        }
    }
    out
}

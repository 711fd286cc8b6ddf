//! The checks a JSON Schema cannot make, walking one definition: transitions within their
//! scope, reachability, `Next` versus `End`, exclusive fields, names, retriers and catchers,
//! and each field's value through [`super::values`].

use super::*;
use crate::asl::diagnostic::{MISSING_END_STATE, MISSING_TRANSITION_TARGET};

pub(super) struct Checker<'a> {
    pub(super) diags: Vec<Diagnostic>,
    /// Every state name, with the JSON Pointer of the `States` object that defines it first.
    pub(super) names: HashMap<&'a str, String>,
    pub(super) top: QueryLanguage,
}

impl<'a> Checker<'a> {
    pub(super) fn report(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(pointer, message));
    }

    /// Records every state name of the machine and its nested machines, reporting names used
    /// twice (AWS: state names must be unique within the whole state machine) and names that
    /// are too long.
    pub(super) fn collect_names(&mut self, machine: &'a Map<String, Value>, pointer: &str) {
        let Some(Value::Object(states)) = machine.get("States") else {
            return;
        };
        let states_pointer = join(pointer, "States");
        for (name, state) in states {
            let at = join(&states_pointer, name);
            if name.chars().count() > MAX_STATE_NAME_CHARS {
                self.report(
                    at.clone(),
                    format!(
                        "state name {} is longer than {MAX_STATE_NAME_CHARS} characters",
                        quote(name)
                    ),
                );
            }
            match self.names.get(name.as_str()) {
                Some(first) => {
                    let message = format!(
                        "duplicate state name {}, first defined in {first}",
                        quote(name)
                    );
                    self.report(at.clone(), message);
                }
                None => {
                    self.names.insert(name, states_pointer.clone());
                }
            }
            if let Value::Object(state) = state {
                for (suffix, nested) in nested_machines(state) {
                    self.collect_names(nested, &format!("{at}{suffix}"));
                }
            }
        }
    }

    /// Checks one state machine scope (the top level, a branch or an item processor) and the
    /// scopes nested in it.
    pub(super) fn machine(&mut self, machine: &'a Map<String, Value>, pointer: &str) {
        let Some(Value::Object(states)) = machine.get("States") else {
            return;
        };
        let states_pointer = join(pointer, "States");
        let start = machine.get("StartAt").and_then(Value::as_str);
        if let Some(start) = start {
            if !states.contains_key(start) {
                self.report(
                    join(pointer, "StartAt"),
                    self.missing_target_message(start, &states_pointer),
                );
            }
        }
        for (name, state) in states {
            let Value::Object(state) = state else {
                continue;
            };
            let at = join(&states_pointer, name);
            let language = QueryLanguage::of(state, self.top);
            self.state(state, &at, language, states, &states_pointer);
            for (suffix, nested) in nested_machines(state) {
                self.machine(nested, &format!("{at}{suffix}"));
            }
        }
        if let Some(start) = start.filter(|s| states.contains_key(*s)) {
            self.reachability(states, start, &states_pointer, pointer.is_empty());
        }
    }

    /// Why `target` cannot be reached from a scope whose states are at `states_pointer`.
    pub(super) fn missing_target_message(&self, target: &str, states_pointer: &str) -> String {
        match self.names.get(target) {
            Some(elsewhere) if elsewhere != states_pointer => format!(
                "state {} is defined in {elsewhere}, outside this scope: transitions cannot cross a Parallel branch or Map item processor",
                quote(target)
            ),
            _ => format!("no state named {}", quote(target)),
        }
    }

    /// Checks that a transition target exists in the scope.
    pub(super) fn target(
        &mut self,
        pointer: String,
        target: &Value,
        scope: &Map<String, Value>,
        states_pointer: &str,
    ) {
        if let Some(name) = target.as_str() {
            if !scope.contains_key(name) {
                let message = self.missing_target_message(name, states_pointer);
                self.diags.push(
                    Diagnostic::new(pointer, message)
                        .coded(MISSING_TRANSITION_TARGET)
                        .worded_by_aws(format!("Missing 'Next' target: {name}")),
                );
            }
        }
    }

    /// Reports states that no transition reaches from `StartAt`; for the top level, a workflow
    /// that reaches no terminal state (AWS then reports only that).
    pub(super) fn reachability(
        &mut self,
        states: &Map<String, Value>,
        start: &str,
        states_pointer: &str,
        top_level: bool,
    ) {
        let mut reached: HashSet<&str> = HashSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(name) = queue.pop_front() {
            let Some(Value::Object(state)) = states.get(name) else {
                continue;
            };
            for next in transitions(state) {
                if states.contains_key(next) && reached.insert(next) {
                    queue.push_back(next);
                }
            }
        }
        let terminal = |name: &&str| {
            states.get(*name).is_some_and(|s| {
                s.get("End") == Some(&Value::Bool(true))
                    || matches!(
                        s.get("Type").and_then(Value::as_str),
                        Some("Succeed" | "Fail")
                    )
            })
        };
        // Only a workflow of known state types can be judged endless.
        let known = reached.iter().all(|name| {
            states
                .get(*name)
                .and_then(|s| s.get("Type"))
                .and_then(Value::as_str)
                .is_some_and(|t| STATE_TYPES.contains(&t))
        });
        if top_level && known && !reached.iter().any(terminal) {
            self.diags.push(
                Diagnostic::new("", "no state reachable from StartAt ends the workflow")
                    .coded(MISSING_END_STATE)
                    .worded_by_aws("Workflow has no terminal state"),
            );
            return;
        }
        for name in states.keys() {
            if !reached.contains(name.as_str()) {
                self.diags.push(
                    Diagnostic::new(
                        join(states_pointer, name),
                        format!("state {} is not reachable from StartAt", quote(name)),
                    )
                    .coded(MISSING_TRANSITION_TARGET)
                    .worded_by_aws(format!("State \"{name}\" is not reachable.")),
                );
            }
        }
    }

    pub(super) fn state(
        &mut self,
        state: &'a Map<String, Value>,
        at: &str,
        language: QueryLanguage,
        scope: &Map<String, Value>,
        states_pointer: &str,
    ) {
        let state_type = state.get("Type").and_then(Value::as_str).unwrap_or("");
        let field = |name: &str| join(at, name);

        // Transitions.
        if let Some(next) = state.get("Next") {
            self.target(field("Next"), next, scope, states_pointer);
        }
        if let Some(default) = state.get("Default") {
            self.target(field("Default"), default, scope, states_pointer);
        }
        if matches!(state_type, "Pass" | "Task" | "Wait" | "Parallel" | "Map") {
            let has_next = state.contains_key("Next");
            let has_end = state.get("End") == Some(&Value::Bool(true));
            if has_next && has_end {
                self.report(field("End"), "\"End\" and \"Next\" are mutually exclusive");
            } else if !has_next && !has_end {
                self.report(
                    at,
                    format!("a {state_type} state must have \"Next\" or \"End\": true"),
                );
            }
        }
        if let Some(Value::Array(catchers)) = state.get("Catch") {
            for (i, catcher) in catchers.iter().enumerate() {
                if let Some(next) = catcher.get("Next") {
                    let pointer = join(&join(&field("Catch"), i), "Next");
                    self.target(pointer, next, scope, states_pointer);
                }
            }
            self.error_matchers(&field("Catch"), catchers, "catcher");
        }
        if let Some(Value::Array(retriers)) = state.get("Retry") {
            self.error_matchers(&field("Retry"), retriers, "retrier");
        }

        // Fields that exclude each other. Apart from the item processor, one field of each pair
        // is JSONPath-only, and the schema already rejects it in a JSONata state.
        let pairs: &[[&str; 2]] = match (state_type, language) {
            ("Map", _) => &[["ItemProcessor", "Iterator"]],
            _ => &[],
        };
        let jsonpath_pairs: &[[&str; 2]] = match (state_type, language) {
            ("Task", QueryLanguage::JsonPath) => &[
                ["TimeoutSeconds", "TimeoutSecondsPath"],
                ["HeartbeatSeconds", "HeartbeatSecondsPath"],
            ],
            ("Fail", QueryLanguage::JsonPath) => &[["Error", "ErrorPath"], ["Cause", "CausePath"]],
            ("Map", QueryLanguage::JsonPath) => &[
                ["ItemSelector", "Parameters"],
                ["MaxConcurrency", "MaxConcurrencyPath"],
                ["ToleratedFailureCount", "ToleratedFailureCountPath"],
                [
                    "ToleratedFailurePercentage",
                    "ToleratedFailurePercentagePath",
                ],
            ],
            _ => &[],
        };
        for pair in pairs.iter().chain(jsonpath_pairs) {
            self.at_most_one(state, at, pair);
        }
        match state_type {
            "Wait" => {
                let fields: &[&str] = match language {
                    QueryLanguage::JsonPath => {
                        &["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
                    }
                    QueryLanguage::Jsonata => &["Seconds", "Timestamp"],
                };
                self.exactly_one(state, at, "Wait", fields);
            }
            "Map" => {
                if !state.contains_key("ItemProcessor") && !state.contains_key("Iterator") {
                    self.report(
                        at,
                        "a Map state must have \"ItemProcessor\" (or the legacy \"Iterator\")",
                    );
                }
                if let Some(Value::Object(config)) = state
                    .get("ItemReader")
                    .and_then(|reader| reader.get("ReaderConfig"))
                {
                    let config_at = join(&field("ItemReader"), "ReaderConfig");
                    if language == QueryLanguage::JsonPath {
                        self.at_most_one(config, &config_at, &["MaxItems", "MaxItemsPath"]);
                    }
                    self.reader_config(config, &config_at);
                }
                if let (QueryLanguage::JsonPath, Some(Value::Object(batcher))) =
                    (language, state.get("ItemBatcher"))
                {
                    let batcher_at = field("ItemBatcher");
                    self.at_most_one(
                        batcher,
                        &batcher_at,
                        &["MaxItemsPerBatch", "MaxItemsPerBatchPath"],
                    );
                    self.at_most_one(
                        batcher,
                        &batcher_at,
                        &["MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"],
                    );
                }
            }
            "Task" => {
                let seconds = |name: &str| state.get(name).and_then(Value::as_u64);
                if let (Some(timeout), Some(heartbeat)) =
                    (seconds("TimeoutSeconds"), seconds("HeartbeatSeconds"))
                {
                    if heartbeat >= timeout {
                        self.report(
                            field("HeartbeatSeconds"),
                            "\"HeartbeatSeconds\" must be smaller than \"TimeoutSeconds\"",
                        );
                    }
                }
            }
            _ => {}
        }

        // Resources.
        if let Some(Value::String(resource)) = state.get("Resource") {
            self.resource(field("Resource"), resource);
            let parsed = crate::asl::resource::Resource::parse(resource);
            for key in ["Parameters", "Arguments"] {
                let Some(params) = state.get(key) else {
                    continue;
                };
                for name in super::integrations::unknown_sdk_fields(&parsed, params) {
                    self.diags.push(
                        Diagnostic::new(
                            field(key),
                            format!(
                                "{} is not a parameter of {}: the AWS SDK integration takes the members of the action's input",
                                quote(&name),
                                quote(resource)
                            ),
                        )
                        .worded_by_aws(format!(
                            "The field \"{name}\" is not supported by Step Functions"
                        )),
                    );
                }
            }
        }
        for key in ["ItemReader", "ResultWriter"] {
            if let Some(Value::String(resource)) = state.get(key).and_then(|v| v.get("Resource")) {
                self.resource(join(&field(key), "Resource"), resource);
            }
        }

        // Choice rules.
        if state_type == "Choice" {
            if let Some(Value::Array(rules)) = state.get("Choices") {
                for (i, rule) in rules.iter().enumerate() {
                    let rule_at = join(&field("Choices"), i);
                    self.choice_rule(rule, &rule_at, language);
                    if let Some(next) = rule.get("Next") {
                        self.target(join(&rule_at, "Next"), next, scope, states_pointer);
                    }
                }
            }
        }

        match language {
            QueryLanguage::JsonPath => self.jsonpath_fields(state, at),
            QueryLanguage::Jsonata => self.jsonata_fields(state, at),
        }
    }

    /// Checks the `ErrorEquals` of retriers or catchers around `States.ALL`.
    pub(super) fn error_matchers(&mut self, pointer: &str, matchers: &[Value], what: &str) {
        let last = matchers.len().saturating_sub(1);
        for (i, matcher) in matchers.iter().enumerate() {
            let Some(Value::Array(names)) = matcher.get("ErrorEquals") else {
                continue;
            };
            let at = join(pointer, i);
            if names.iter().any(|n| n == "States.ALL") {
                if names.len() > 1 {
                    self.report(
                        join(&at, "ErrorEquals"),
                        "\"States.ALL\" must be the only error name in its \"ErrorEquals\"",
                    );
                }
                if i != last {
                    self.report(
                        at,
                        format!("a {what} matching \"States.ALL\" must be the last one"),
                    );
                }
            }
        }
    }

    pub(super) fn at_most_one(&mut self, object: &Map<String, Value>, at: &str, fields: &[&str]) {
        let present: Vec<&str> = fields
            .iter()
            .copied()
            .filter(|f| object.contains_key(*f))
            .collect();
        if let [first, second, ..] = present[..] {
            self.report(
                join(at, second),
                format!(
                    "{} and {} are mutually exclusive",
                    quote(first),
                    quote(second)
                ),
            );
        }
    }

    pub(super) fn exactly_one(
        &mut self,
        object: &Map<String, Value>,
        at: &str,
        state_type: &str,
        fields: &[&str],
    ) {
        let quoted: Vec<String> = fields.iter().map(|f| quote(f)).collect();
        let present: Vec<&str> = fields
            .iter()
            .copied()
            .filter(|f| object.contains_key(*f))
            .collect();
        match present[..] {
            [] => self.report(
                at,
                format!(
                    "a {state_type} state must have one of {}",
                    quoted.join(", ")
                ),
            ),
            [_] => {}
            [first, second, ..] => self.report(
                join(at, second),
                format!(
                    "{} and {} are mutually exclusive",
                    quote(first),
                    quote(second)
                ),
            ),
        }
    }

    pub(super) fn resource(&mut self, pointer: String, resource: &str) {
        if let Err(problem) = check_arn(resource) {
            self.report(
                pointer,
                format!("invalid resource {}: {problem}", quote(resource)),
            );
            return;
        }
        let parsed = crate::asl::resource::Resource::parse(resource);
        if let Some((why, aws)) = super::integrations::unknown_sdk_action(&parsed) {
            self.diags.push(
                Diagnostic::new(
                    pointer,
                    format!("unsupported resource {}: {why}", quote(resource)),
                )
                .worded_by_aws(aws),
            );
            return;
        }
        if let Some(aws) = super::integrations::unrecognized(&parsed) {
            self.diags.push(
                Diagnostic::new(
                    pointer,
                    format!(
                        "unsupported resource {}: Step Functions has no such optimized integration (action or pattern)",
                        quote(resource)
                    ),
                )
                .worded_by_aws(aws),
            );
        }
    }

    pub(super) fn choice_rule(&mut self, rule: &Value, at: &str, language: QueryLanguage) {
        let Value::Object(fields) = rule else {
            self.report(at, "a choice rule must be an object");
            return;
        };
        let foreign: Vec<&str> = fields
            .keys()
            .map(String::as_str)
            .filter(|key| match language {
                QueryLanguage::JsonPath => matches!(*key, "Condition" | "Output"),
                QueryLanguage::Jsonata => {
                    !matches!(*key, "Condition" | "Next" | "Assign" | "Output" | "Comment")
                }
            })
            .collect();
        if !foreign.is_empty() {
            let (other, this) = match language {
                QueryLanguage::JsonPath => ("JSONata", "JSONPath"),
                QueryLanguage::Jsonata => ("JSONPath", "JSONata"),
            };
            for key in foreign {
                self.report(
                    join(at, key),
                    format!(
                        "field {} of a choice rule is only supported in {other} states, and this state's QueryLanguage is {this}",
                        quote(key)
                    ),
                );
            }
            return;
        }
        if language == QueryLanguage::Jsonata && !fields.contains_key("Condition") {
            self.report(
                at,
                "a choice rule in a JSONata state must have \"Condition\"",
            );
            return;
        }
        if let Err(mut problems) = ChoiceRule::parse(rule, at) {
            self.diags.append(&mut problems);
        }
        if language == QueryLanguage::JsonPath {
            if let Some(assign) = fields.get("Assign") {
                self.payload_template(&join(at, "Assign"), assign);
            }
        }
    }

    /// Paths and payload templates of a JSONPath state.
    pub(super) fn jsonpath_fields(&mut self, state: &Map<String, Value>, at: &str) {
        let field = |name: &str| join(at, name);
        for (name, rule) in [
            ("InputPath", PathRule::Any),
            ("OutputPath", PathRule::Any),
            ("ResultPath", PathRule::Result),
            ("ItemsPath", PathRule::Reference),
            ("SecondsPath", PathRule::Reference),
            ("TimestampPath", PathRule::Reference),
            ("TimeoutSecondsPath", PathRule::Reference),
            ("HeartbeatSecondsPath", PathRule::Reference),
            ("MaxConcurrencyPath", PathRule::Reference),
            ("ToleratedFailureCountPath", PathRule::Reference),
            ("ToleratedFailurePercentagePath", PathRule::Reference),
        ] {
            if let Some(Value::String(path)) = state.get(name) {
                self.path(field(name), path, rule);
            }
        }
        for name in ["ErrorPath", "CausePath"] {
            if let Some(Value::String(path)) = state.get(name) {
                self.path_or_intrinsic(field(name), path, PathRule::Reference);
            }
        }
        for name in [
            "Parameters",
            "ResultSelector",
            "ItemSelector",
            "Credentials",
            "Assign",
        ] {
            if let Some(template) = state.get(name) {
                self.payload_template(&field(name), template);
            }
        }
        if let Some(Value::Object(reader)) = state.get("ItemReader") {
            let reader_at = field("ItemReader");
            if let Some(template) = reader.get("Parameters") {
                self.payload_template(&join(&reader_at, "Parameters"), template);
            }
            if let Some(Value::String(path)) = reader
                .get("ReaderConfig")
                .and_then(|c| c.get("MaxItemsPath"))
            {
                let at = join(&join(&reader_at, "ReaderConfig"), "MaxItemsPath");
                self.path(at, path, PathRule::Reference);
            }
        }
        if let Some(Value::Object(batcher)) = state.get("ItemBatcher") {
            let batcher_at = field("ItemBatcher");
            for name in ["MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"] {
                if let Some(Value::String(path)) = batcher.get(name) {
                    self.path(join(&batcher_at, name), path, PathRule::Reference);
                }
            }
            if let Some(template) = batcher.get("BatchInput") {
                self.payload_template(&join(&batcher_at, "BatchInput"), template);
            }
        }
        if let Some(template) = state.get("ResultWriter").and_then(|w| w.get("Parameters")) {
            self.payload_template(&join(&field("ResultWriter"), "Parameters"), template);
        }
        if let Some(Value::Array(catchers)) = state.get("Catch") {
            for (i, catcher) in catchers.iter().enumerate() {
                let catcher_at = join(&field("Catch"), i);
                if let Some(Value::String(path)) = catcher.get("ResultPath") {
                    self.path(join(&catcher_at, "ResultPath"), path, PathRule::Result);
                }
                if let Some(assign) = catcher.get("Assign") {
                    self.payload_template(&join(&catcher_at, "Assign"), assign);
                }
            }
        }
        if let Some(Value::String(timestamp)) = state.get("Timestamp") {
            self.timestamp(field("Timestamp"), timestamp);
        }
    }

    /// A payload template: every `"key.$"` holds a path or an intrinsic call, and no two keys
    /// are the same once `.$` is stripped.
    pub(super) fn payload_template(&mut self, at: &str, template: &Value) {
        match template {
            Value::Object(map) => {
                let mut seen: HashMap<&str, &str> = HashMap::new();
                for (key, value) in map {
                    let key_at = join(at, key);
                    let name = match key.strip_suffix(".$") {
                        Some(name) => {
                            match value {
                                Value::String(s) => self.template_value(at, key_at.clone(), s),
                                _ => self.report(
                                    key_at.clone(),
                                    format!(
                                        "the value of {} must be a path or an intrinsic function call, got {}",
                                        quote(key),
                                        json_type(value)
                                    ),
                                ),
                            }
                            name
                        }
                        None => {
                            self.payload_template(&key_at, value);
                            key.as_str()
                        }
                    };
                    if let Some(other) = seen.insert(name, key) {
                        self.report(
                            key_at,
                            format!(
                                "field {} conflicts with {}: both are named {} once \".$\" is stripped",
                                quote(key),
                                quote(other),
                                quote(name)
                            ),
                        );
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.payload_template(&join(at, i), item);
                }
            }
            _ => {}
        }
    }

    pub(super) fn path_or_intrinsic(&mut self, at: String, s: &str, rule: PathRule) {
        let problem = if s.starts_with("States.") {
            check_intrinsic(s).err()
        } else {
            check_path(s, rule).err()
        };
        if let Some(problem) = problem {
            let aws = format!(
                "The value for the field '{}' must be a valid JSONPath or a valid intrinsic function call",
                last_token(&at)
            );
            self.diags
                .push(Diagnostic::new(at, problem).worded_by_aws(aws));
        }
    }

    /// A payload template's `"key.$"` value; AWS locates its problems at the template.
    pub(super) fn template_value(&mut self, template_at: &str, at: String, s: &str) {
        let before = self.diags.len();
        self.path_or_intrinsic(at, s, PathRule::Any);
        if let Some(d) = self.diags.get_mut(before) {
            d.aws_at = Some(template_at.to_string());
        }
    }

    pub(super) fn path(&mut self, at: String, s: &str, rule: PathRule) {
        if let Err(problem) = check_path(s, rule) {
            let kind = match rule {
                PathRule::Any => "JSONPath",
                PathRule::Reference | PathRule::Result => "ReferencePath",
            };
            let aws = format!(
                "The value for the field '{}' must be a valid {kind}",
                last_token(&at)
            );
            self.diags
                .push(Diagnostic::new(at, problem).worded_by_aws(aws));
        }
    }

    pub(super) fn timestamp(&mut self, at: String, s: &str) {
        if chrono::DateTime::parse_from_rfc3339(s).is_err() {
            self.diags.push(
                Diagnostic::new(
                    at,
                    format!(
                        "{} is not an ISO 8601 timestamp (e.g. \"2016-03-14T01:59:00Z\")",
                        quote(s)
                    ),
                )
                .worded_by_aws("String does not match RFC3339 timestamp"),
            );
        }
    }

    /// JSONata expressions of a JSONata state, and the fields that must hold one when they
    /// hold a string.
    pub(super) fn jsonata_fields(&mut self, state: &Map<String, Value>, at: &str) {
        for (key, value) in state {
            if NOT_EVALUATED.contains(&key.as_str()) {
                continue;
            }
            let key_at = join(at, key);
            match (key.as_str(), value) {
                (name, Value::String(s)) if NUMERIC_OR_EXPRESSION.contains(&name) => {
                    self.expression_required(&key_at, s, "a number");
                }
                ("Items", Value::String(s)) => self.expression_required(&key_at, s, "an array"),
                ("Timestamp", Value::String(s)) if !is_expression(s) => {
                    self.timestamp(key_at, s);
                }
                ("Credentials", Value::String(s)) => {
                    self.expression_required(&key_at, s, "an object");
                }
                ("Catch", Value::Array(catchers)) => {
                    for (i, catcher) in catchers.iter().enumerate() {
                        let catcher_at = join(&key_at, i);
                        for name in ["Output", "Assign"] {
                            if let Some(v) = catcher.get(name) {
                                self.jsonata_template(&join(&catcher_at, name), v);
                            }
                        }
                    }
                }
                ("ItemReader" | "ResultWriter", Value::Object(config)) => {
                    for (name, v) in config {
                        if name == "ReaderConfig" {
                            if let Some(Value::String(s)) = v.get("MaxItems") {
                                let max_at = join(&join(&key_at, name), "MaxItems");
                                self.expression_required(&max_at, s, "a number");
                            }
                        } else if name != "Resource" {
                            self.jsonata_template(&join(&key_at, name), v);
                        }
                    }
                }
                ("ItemBatcher", Value::Object(batcher)) => {
                    for (name, v) in batcher {
                        let field_at = join(&key_at, name);
                        match (name.as_str(), v) {
                            ("MaxItemsPerBatch" | "MaxInputBytesPerBatch", Value::String(s)) => {
                                self.expression_required(&field_at, s, "a number");
                            }
                            _ => self.jsonata_template(&field_at, v),
                        }
                    }
                }
                _ => self.jsonata_template(&key_at, value),
            }
        }
        if let Some(Value::Array(rules)) = state.get("Choices") {
            for (i, rule) in rules.iter().enumerate() {
                let rule_at = join(&join(at, "Choices"), i);
                for name in ["Condition", "Output", "Assign"] {
                    if let Some(value) = rule.get(name) {
                        self.jsonata_template(&join(&rule_at, name), value);
                    }
                }
            }
        }
    }

    /// A value whose strings may be JSONata expressions.
    pub(super) fn jsonata_template(&mut self, at: &str, value: &Value) {
        match value {
            Value::String(s) => self.jsonata_string(at, s),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.jsonata_template(&join(at, i), item);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    self.jsonata_template(&join(at, key), item);
                }
            }
            _ => {}
        }
    }

    /// A string where only a JSONata expression (or a value of the field's JSON type) fits.
    pub(super) fn expression_required(&mut self, at: &str, s: &str, expected: &str) {
        if s.starts_with("{%") || s.ends_with("%}") {
            self.jsonata_string(at, s);
        } else {
            self.report(
                at,
                format!(
                    "expected {expected} or a JSONata expression, got {}",
                    quote(s)
                ),
            );
        }
    }

    pub(super) fn jsonata_string(&mut self, at: &str, s: &str) {
        if let Err(problem) = check_jsonata(s) {
            self.report(at, problem);
        }
    }
}

/// The last reference token of a JSON Pointer, unescaped: the field it names.
fn last_token(pointer: &str) -> String {
    pointer
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .replace("~1", "/")
        .replace("~0", "~")
}

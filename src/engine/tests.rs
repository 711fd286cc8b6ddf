//! Unit tests of `step` and the states, through a small synchronous driver: no async runtime, no CLI,
//! no store. The driver carries out the commands a step returns (runs frames, answers tasks
//! from the test, fires timers in due order at their due time) and keeps the history.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::asl::error::StatesError;
use crate::asl::model::StateMachine;
use crate::engine::execution::{Execution, ExecutionInfo, FrameId, Status};
use crate::engine::history::HistoryEvent;
use crate::engine::step::{step, Command, Event, Transition};
use crate::engine::task::TaskRequest;

/// 2026-01-01T00:00:00Z, ms since the epoch.
const T0: i64 = 1_767_225_600_000;

/// A task the driver handed out and the test has not answered yet.
struct Pending {
    frame: FrameId,
    wait: u64,
    request: TaskRequest,
}

/// An execution driven in memory, one event at a time.
struct Drive {
    exec: Execution,
    now: i64,
    queue: VecDeque<Command>,
    timers: Vec<(i64, FrameId, u64)>,
    history: Vec<HistoryEvent>,
    /// Every task invoked, in order.
    invoked: Vec<TaskRequest>,
    /// Tasks the test chose not to answer at once.
    parked: Vec<Pending>,
}

fn info() -> ExecutionInfo {
    ExecutionInfo {
        arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
        name: "e".into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        state_machine_name: "m".into(),
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        start_time: T0,
        origin: Default::default(),
    }
}

fn machine(definition: Value) -> Arc<StateMachine> {
    Arc::new(StateMachine::from_value(&definition).expect("valid definition"))
}

impl Drive {
    fn new(definition: Value, input: Value) -> Drive {
        Drive {
            exec: Execution::new(machine(definition), info(), input, true),
            now: T0,
            queue: VecDeque::new(),
            timers: Vec::new(),
            history: Vec::new(),
            invoked: Vec::new(),
            parked: Vec::new(),
        }
    }

    fn apply(&mut self, event: Event) -> Transition {
        let t = step(&mut self.exec, event);
        self.history.extend(t.events.iter().cloned());
        self.queue.extend(t.commands.iter().cloned());
        t
    }

    fn start(&mut self) {
        let now = self.now;
        self.apply(Event::Start { time: now });
    }

    /// Carries out commands until none is left. `answer` answers each invoked task, or parks
    /// it with `None`. Timers fire in due order once nothing else is left to do.
    fn run(&mut self, answer: &mut dyn FnMut(&TaskRequest) -> Option<Result<Value, StatesError>>) {
        loop {
            while let Some(command) = self.queue.pop_front() {
                let now = self.now;
                match command {
                    Command::Run(frame) => {
                        self.apply(Event::Run { frame, time: now });
                    }
                    Command::Invoke {
                        frame,
                        wait,
                        request,
                    } => {
                        self.invoked.push((*request).clone());
                        match answer(&request) {
                            Some(result) => {
                                self.apply(Event::TaskDone {
                                    frame,
                                    wait,
                                    result,
                                    time: now,
                                });
                            }
                            None => self.parked.push(Pending {
                                frame,
                                wait,
                                request: *request,
                            }),
                        }
                    }
                    Command::Timer { frame, wait, due } => self.timers.push((due, frame, wait)),
                }
            }
            let Some(next) = (0..self.timers.len()).min_by_key(|&i| self.timers[i].0) else {
                return;
            };
            let (due, frame, wait) = self.timers.remove(next);
            self.now = self.now.max(due);
            let now = self.now;
            self.apply(Event::Timer {
                frame,
                wait,
                time: now,
            });
        }
    }

    fn run_to_end(
        &mut self,
        answer: &mut dyn FnMut(&TaskRequest) -> Option<Result<Value, StatesError>>,
    ) {
        self.start();
        self.run(answer);
    }

    fn types(&self) -> Vec<&str> {
        self.history.iter().map(|e| e.event_type.as_str()).collect()
    }

    fn entered(&self) -> Vec<String> {
        self.history
            .iter()
            .filter(|e| e.event_type.ends_with("StateEntered"))
            .filter_map(|e| {
                e.details
                    .values()
                    .find_map(|d| d.get("name").and_then(Value::as_str).map(str::to_string))
            })
            .collect()
    }
}

fn no_tasks(r: &TaskRequest) -> Option<Result<Value, StatesError>> {
    panic!("no task expected, got {}", r.state_name)
}

const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

// ---- Choice ----

fn choice_machine() -> Value {
    json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
            {"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Medium"}
        ], "Default": "Small"},
        "Big": {"Type": "Pass", "Result": "big", "End": true},
        "Medium": {"Type": "Pass", "Result": "medium", "End": true},
        "Small": {"Type": "Pass", "Result": "small", "End": true}
    }})
}

#[test]
fn choice_takes_the_first_matching_rule_in_order() {
    // 20 matches both rules: the first one wins.
    let mut d = Drive::new(choice_machine(), json!({"n": 20}));
    d.run_to_end(&mut no_tasks);
    assert_eq!(d.exec.output, Some(json!("big")));
    let mut d = Drive::new(choice_machine(), json!({"n": 7}));
    d.run_to_end(&mut no_tasks);
    assert_eq!(d.exec.output, Some(json!("medium")));
    assert_eq!(d.entered(), ["C", "Medium"]);
}

#[test]
fn choice_falls_to_the_default_and_fails_without_one() {
    let mut d = Drive::new(choice_machine(), json!({"n": 1}));
    d.run_to_end(&mut no_tasks);
    assert_eq!(d.exec.output, Some(json!("small")));

    let mut def = choice_machine();
    def["States"]["C"]
        .as_object_mut()
        .expect("object")
        .remove("Default");
    let mut d = Drive::new(def, json!({"n": 1}));
    d.run_to_end(&mut no_tasks);
    assert_eq!(d.exec.status, Status::Failed);
    assert_eq!(
        d.exec.error.as_ref().map(|e| e.error.as_str()),
        Some("States.NoChoiceMatched")
    );
    assert_eq!(d.types().last().copied(), Some("ExecutionFailed"));
}

// ---- Wait ----

fn wait_machine(wait: Value) -> Value {
    let mut state = json!({"Type": "Wait", "Next": "P"});
    for (k, v) in wait.as_object().expect("object") {
        state[k] = v.clone();
    }
    json!({"StartAt": "W", "States": {
        "W": state,
        "P": {"Type": "Pass", "End": true}
    }})
}

/// The timer the Wait state arms, after starting.
fn wait_due(wait: Value, input: Value) -> Vec<i64> {
    let mut d = Drive::new(wait_machine(wait), input);
    d.start();
    let mut dues = Vec::new();
    while let Some(c) = d.queue.pop_front() {
        match c {
            Command::Run(frame) => {
                d.apply(Event::Run { frame, time: T0 });
            }
            Command::Timer { due, .. } => dues.push(due),
            Command::Invoke { .. } => panic!("no task expected"),
        }
    }
    dues
}

#[test]
fn wait_forms_arm_a_timer_at_the_right_time() {
    assert_eq!(wait_due(json!({"Seconds": 30}), json!({})), [T0 + 30_000]);
    assert_eq!(
        wait_due(json!({"SecondsPath": "$.s"}), json!({"s": 12})),
        [T0 + 12_000]
    );
    assert_eq!(
        wait_due(json!({"Timestamp": "2026-01-01T00:01:00Z"}), json!({})),
        [T0 + 60_000]
    );
    assert_eq!(
        wait_due(
            json!({"TimestampPath": "$.t"}),
            json!({"t": "2026-01-01T01:00:00.500Z"})
        ),
        [T0 + 3_600_500]
    );
}

#[test]
fn a_wait_read_from_the_input_past_the_end_of_time_waits_forever_instead_of_wrapping() {
    // Validation caps fixed seconds; values read at run time saturate.
    assert_eq!(
        wait_due(json!({"SecondsPath": "$.s"}), json!({"s": i64::MAX})),
        [i64::MAX]
    );
    assert_eq!(
        wait_due(
            json!({"QueryLanguage": "JSONata", "Seconds": "{% $states.input.s %}"}),
            json!({"s": 9_000_000_000_000_000_000i64})
        ),
        [i64::MAX]
    );
}

#[test]
fn wait_then_resumes_at_the_timer_and_passes_its_input_on() {
    let mut d = Drive::new(wait_machine(json!({"Seconds": 30})), json!({"a": 1}));
    d.run_to_end(&mut no_tasks);
    assert_eq!(d.exec.status, Status::Succeeded);
    assert_eq!(d.exec.output, Some(json!({"a": 1})));
    assert_eq!(d.now, T0 + 30_000);
    let exited = d
        .history
        .iter()
        .find(|e| e.event_type == "WaitStateExited")
        .expect("WaitStateExited");
    assert_eq!(exited.timestamp, T0 + 30_000);
}

#[test]
fn wait_with_a_bad_seconds_path_fails_the_execution() {
    let mut d = Drive::new(
        wait_machine(json!({"SecondsPath": "$.s"})),
        json!({"s": "soon"}),
    );
    d.run_to_end(&mut no_tasks);
    assert_eq!(d.exec.status, Status::Failed);
    assert_eq!(
        d.exec.error.as_ref().map(|e| e.error.as_str()),
        Some("States.Runtime")
    );
}

// ---- Retry and Catch ----

fn retry_machine() -> Value {
    json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": FN,
              "Retry": [
                  {"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 3.0},
                  {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 100, "MaxAttempts": 5}
              ],
              "Catch": [
                  {"ErrorEquals": ["Other"], "Next": "Wrong"},
                  {"ErrorEquals": ["Boom"], "ResultPath": "$.caught", "Next": "Caught"},
                  {"ErrorEquals": ["States.ALL"], "Next": "Wrong"}
              ],
              "End": true},
        "Caught": {"Type": "Pass", "End": true},
        "Wrong": {"Type": "Fail", "Error": "WrongCatcher"}
    }})
}

#[test]
fn retry_uses_the_first_matching_retrier_with_backoff_then_the_first_matching_catcher() {
    let mut d = Drive::new(retry_machine(), json!({"in": 1}));
    let mut fail = |_: &TaskRequest| Some(Err(StatesError::new("Boom", "it broke")));
    d.run_to_end(&mut fail);
    // One try and two retries by the first retrier (States.ALL's 5 attempts are not used).
    let attempts: Vec<u32> = d.invoked.iter().map(|r| r.attempt).collect();
    assert_eq!(attempts, [0, 1, 2]);
    // Waits of 2 s, then 2 * 3 = 6 s.
    assert_eq!(d.now, T0 + 8_000);
    assert_eq!(d.exec.status, Status::Succeeded);
    assert_eq!(
        d.exec.output,
        Some(json!({"in": 1, "caught": {"Error": "Boom", "Cause": "it broke"}}))
    );
    assert_eq!(d.entered(), ["T", "Caught"]);
}

#[test]
fn a_retried_task_that_succeeds_goes_on_with_its_result() {
    let mut d = Drive::new(retry_machine(), json!({}));
    let mut tries = 0;
    let mut flaky = |_: &TaskRequest| {
        tries += 1;
        Some(if tries < 2 {
            Err(StatesError::new("Anything", "x"))
        } else {
            Ok(json!({"ok": tries}))
        })
    };
    d.run_to_end(&mut flaky);
    assert_eq!(d.exec.output, Some(json!({"ok": 2})));
    // The second retrier matched: 100 s.
    assert_eq!(d.now, T0 + 100_000);
    let types = d.types();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "LambdaFunctionFailed")
            .count(),
        1
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "LambdaFunctionSucceeded")
            .count(),
        1
    );
}

#[test]
fn an_uncaught_error_fails_the_execution_with_it() {
    let mut d = Drive::new(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN, "End": true}}}),
        json!({}),
    );
    let mut fail = |_: &TaskRequest| Some(Err(StatesError::new("Nope", "because")));
    d.run_to_end(&mut fail);
    assert_eq!(d.exec.status, Status::Failed);
    let error = d.exec.error.clone().expect("error");
    assert_eq!(
        (error.error.as_str(), error.cause.as_deref()),
        ("Nope", Some("because"))
    );
}

// ---- Parallel ----

#[test]
fn parallel_collects_branch_outputs_in_branch_order_whatever_the_finishing_order() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": FN, "Parameters": {"b": "a"}, "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": FN, "Parameters": {"b": "b"}, "End": true}}}
    ]}}});
    let mut d = Drive::new(def, json!({}));
    d.run_to_end(&mut |_| None);
    assert_eq!(d.parked.len(), 2);
    assert_eq!(d.exec.status, Status::Running);
    // Answer B first, then A.
    while let Some(p) = d.parked.pop() {
        let now = d.now;
        d.apply(Event::TaskDone {
            frame: p.frame,
            wait: p.wait,
            result: Ok(p.request.input.clone()),
            time: now,
        });
        d.run(&mut no_tasks);
    }
    assert_eq!(d.exec.status, Status::Succeeded);
    assert_eq!(d.exec.output, Some(json!([{"b": "a"}, {"b": "b"}])));
    // All branch frames are gone once the Parallel state is done.
    assert_eq!(d.exec.frames.iter().flatten().count(), 0);
}

#[test]
fn a_failing_branch_fails_the_parallel_state_and_its_catcher_sees_the_error() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Done",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
              "Branches": [
                  {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": FN, "End": true}}},
                  {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "BranchFailed", "Cause": "b"}}}
              ]},
        "Done": {"Type": "Pass", "End": true},
        "Handled": {"Type": "Pass", "End": true}
    }});
    let mut d = Drive::new(def, json!({}));
    d.run_to_end(&mut |_| None);
    assert_eq!(d.exec.status, Status::Succeeded);
    assert_eq!(
        d.exec.output,
        Some(json!({"Error": "BranchFailed", "Cause": "b"}))
    );
    // The still-running branch's late answer changes nothing.
    let p = d.parked.pop().expect("branch A's task");
    let before = d.exec.snapshot();
    let t = d.apply(Event::TaskDone {
        frame: p.frame,
        wait: p.wait,
        result: Ok(json!(1)),
        time: d.now,
    });
    assert_eq!(t, Transition::default());
    assert_eq!(d.exec.snapshot().last_event_id, before.last_event_id);
}

// ---- Map ----

fn map_machine(max_concurrency: u64) -> Value {
    json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "MaxConcurrency": max_concurrency,
        "ItemProcessor": {"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": FN, "End": true}}}}}})
}

#[test]
fn map_keeps_item_order_whatever_the_finishing_order() {
    let mut d = Drive::new(map_machine(0), json!([1, 2, 3]));
    d.run_to_end(&mut |_| None);
    assert_eq!(d.parked.len(), 3, "all iterations run at once");
    // Answer the last item first.
    while let Some(p) = d.parked.pop() {
        let n = p.request.input.as_i64().expect("item");
        let now = d.now;
        d.apply(Event::TaskDone {
            frame: p.frame,
            wait: p.wait,
            result: Ok(json!(n * 10)),
            time: now,
        });
        d.run(&mut no_tasks);
    }
    assert_eq!(d.exec.output, Some(json!([10, 20, 30])));
    let types = d.types();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "MapIterationStarted")
            .count(),
        3
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "MapIterationSucceeded")
            .count(),
        3
    );
}

#[test]
fn map_max_concurrency_starts_an_iteration_only_when_one_ends() {
    let mut d = Drive::new(map_machine(2), json!(["a", "b", "c", "d", "e"]));
    d.run_to_end(&mut |_| None);
    assert_eq!(d.parked.len(), 2);
    let mut seen = Vec::new();
    while let Some(p) = d.parked.pop() {
        seen.push(p.request.input.clone());
        let now = d.now;
        d.apply(Event::TaskDone {
            frame: p.frame,
            wait: p.wait,
            result: Ok(p.request.input.clone()),
            time: now,
        });
        d.run(&mut |_| None);
        assert!(d.parked.len() <= 2, "at most 2 iterations in flight");
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(d.exec.output, Some(json!(["a", "b", "c", "d", "e"])));
}

#[test]
fn an_empty_map_succeeds_with_an_empty_array() {
    let mut d = Drive::new(map_machine(0), json!([]));
    d.run_to_end(&mut no_tasks);
    assert_eq!(d.exec.output, Some(json!([])));
}

#[test]
fn map_tolerated_failures_let_the_map_succeed_with_the_errors_in_place() {
    let mut def = map_machine(1);
    def["States"]["M"]["ToleratedFailureCount"] = json!(1);
    let mut d = Drive::new(def, json!([1, 2, 3]));
    let mut answer = |r: &TaskRequest| {
        Some(if r.input == json!(2) {
            Err(StatesError::new("Bad", "two"))
        } else {
            Ok(r.input.clone())
        })
    };
    d.run_to_end(&mut answer);
    assert_eq!(d.exec.status, Status::Succeeded, "{:?}", d.exec.error);
    let output = d.exec.output.clone().expect("output");
    assert_eq!(output[0], json!(1));
    assert_eq!(output[2], json!(3));
    assert_eq!(output[1]["Error"], json!("Bad"));
}

// ---- Determinism ----

/// A machine whose JSONata reads the time and the execution's randomness, after a task.
fn random_machine() -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": FN, "Next": "R"},
        "R": {"Type": "Pass", "End": true, "Output": {
            "now": "{% $now() %}",
            "millis": "{% $millis() %}",
            "uuid": "{% $uuid() %}",
            "random": "{% $random() %}",
            "shuffled": "{% $shuffle([1, 2, 3, 4, 5, 6, 7, 8]) %}",
            "entered": "{% $states.context.State.EnteredTime %}"
        }}
    }})
}

#[test]
fn the_same_event_on_the_same_snapshot_gives_the_same_transition() {
    let mut d = Drive::new(random_machine(), json!({}));
    d.run_to_end(&mut |_| None);
    let p = d.parked.pop().expect("the task");
    let snapshot = d.exec.snapshot();
    let event = Event::TaskDone {
        frame: p.frame,
        wait: p.wait,
        result: Ok(json!({"r": 1})),
        time: T0 + 1234,
    };
    let replay = || {
        let mut exec = Execution::restore(
            d.exec.machine.clone(),
            info(),
            json!({}),
            snapshot.clone(),
            true,
        );
        let t = step(&mut exec, event.clone());
        (t, exec.output.clone(), exec.snapshot())
    };
    let (first, output, after) = replay();
    let (second, output2, after2) = replay();
    assert!(!first.events.is_empty());
    assert_eq!(first, second);
    assert_eq!(output, output2);
    assert_eq!(after.last_event_id, after2.last_event_id);
    let output = output.expect("succeeded");
    // Time comes from the event, not the OS clock.
    assert_eq!(output["millis"], json!(T0 + 1234));
    assert_eq!(output["now"], output["entered"]);
    assert_eq!(output["now"], json!("2026-01-01T00:00:01.234Z"));
    // Another execution (another seed) draws other values.
    let mut other_info = info();
    other_info.arn.push('2');
    let mut other = Execution::restore(
        d.exec.machine.clone(),
        other_info,
        json!({}),
        snapshot.clone(),
        true,
    );
    step(&mut other, event.clone());
    let other = other.output.expect("succeeded");
    assert_ne!(other["uuid"], output["uuid"]);
}

// ---- History as AWS writes it ----

impl Drive {
    /// (id, previousEventId, type) of every event.
    fn links(&self) -> Vec<(u64, u64, &str)> {
        self.history
            .iter()
            .map(|e| (e.id, e.previous_event_id, e.event_type.as_str()))
            .collect()
    }

    fn details(&self, event_type: &str) -> Value {
        self.history
            .iter()
            .find(|e| e.event_type == event_type)
            .and_then(|e| e.details.values().next().cloned())
            .unwrap_or(Value::Null)
    }
}

#[test]
fn the_first_state_follows_no_event_and_map_events_link_as_aws_links_them() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "Next": "F"}, "F": {"Type": "Pass", "End": true}}});
    let mut d = Drive::new(def, json!([1, 2]));
    d.run_to_end(&mut no_tasks);
    assert_eq!(
        d.links(),
        vec![
            (1, 0, "ExecutionStarted"),
            (2, 0, "MapStateEntered"),
            (3, 2, "MapStateStarted"),
            (4, 3, "MapIterationStarted"),
            (5, 4, "PassStateEntered"),
            (6, 5, "PassStateExited"),
            // An iteration's end and the next iteration's start follow its last event.
            (7, 6, "MapIterationSucceeded"),
            (8, 6, "MapIterationStarted"),
            (9, 8, "PassStateEntered"),
            (10, 9, "PassStateExited"),
            (11, 10, "MapIterationSucceeded"),
            // MapStateSucceeded follows the last iteration; MapStateExited follows the same.
            (12, 11, "MapStateSucceeded"),
            (13, 11, "MapStateExited"),
            (14, 13, "PassStateEntered"),
            (15, 14, "PassStateExited"),
            (16, 15, "ExecutionSucceeded"),
        ]
    );
}

#[test]
fn a_caught_map_failure_writes_map_state_failed_linked_to_the_failed_iteration() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map",
        "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Fail", "Error": "E"}}},
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}], "Next": "C"},
        "C": {"Type": "Pass", "End": true}}});
    let mut d = Drive::new(def, json!([1]));
    d.run_to_end(&mut no_tasks);
    assert_eq!(
        d.links()[4..9],
        [
            (5, 4, "FailStateEntered"),
            (6, 5, "MapIterationFailed"),
            (7, 5, "MapStateFailed"),
            (8, 7, "MapStateExited"),
            (9, 8, "PassStateEntered"),
        ]
    );
}

#[test]
fn a_jsonata_evaluation_failure_writes_evaluation_failed_with_its_field() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": {"result": "{% $nothing %}"}, "End": true}}});
    let mut d = Drive::new(def, json!({}));
    d.run_to_end(&mut no_tasks);
    assert_eq!(
        d.links(),
        vec![
            (1, 0, "ExecutionStarted"),
            (2, 0, "PassStateEntered"),
            (3, 0, "EvaluationFailed"),
            (4, 3, "ExecutionFailed"),
        ]
    );
    let details = d.details("EvaluationFailed");
    assert_eq!(details["error"], "States.QueryEvaluationError");
    assert_eq!(details["location"], "Output/result");
    assert_eq!(details["state"], "P");
    assert!(details["cause"]
        .as_str()
        .is_some_and(|c| c.starts_with("An error occurred while executing the state 'P'")));
}

#[test]
fn a_state_that_assigns_lists_the_variables_on_its_exited_event() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Assign": {"x": 42, "s": "a"}, "End": true}}});
    let mut d = Drive::new(def, json!({}));
    d.run_to_end(&mut no_tasks);
    let exited = d.details("PassStateExited");
    assert_eq!(
        exited["assignedVariables"],
        json!({"x": "42", "s": "\"a\""})
    );
    assert_eq!(
        exited["assignedVariablesDetails"],
        json!({"truncated": false})
    );
}

#[test]
fn the_callers_input_text_is_shown_until_a_state_changes_the_value() {
    let text = "[[1, 2], {\"a\": 3}]";
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Next": "Par"},
        "Par": {"Type": "Parallel", "Next": "Changed", "Branches": [
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}]},
        "Changed": {"Type": "Pass", "Result": [1, 2], "End": true}}});
    let mut d = Drive::new(def, serde_json::from_str(text).expect("JSON"));
    d.exec.input_text = Some(Arc::from(text));
    d.run_to_end(&mut no_tasks);
    let shown: Vec<(String, String)> = d
        .history
        .iter()
        .filter_map(|e| {
            let details = e.details.values().next()?;
            let text = details.get("input").or_else(|| details.get("output"))?;
            Some((e.event_type.clone(), text.as_str()?.to_string()))
        })
        .collect();
    let wrapped = format!("[{text}]");
    let expected: Vec<(&str, &str)> = vec![
        ("ExecutionStarted", text),
        ("PassStateEntered", text),
        ("PassStateExited", text),
        ("ParallelStateEntered", text),
        ("PassStateEntered", text),
        ("PassStateExited", text),
        // The branch outputs joined as AWS joins them, the caller's spacing kept.
        ("ParallelStateExited", &wrapped),
        ("PassStateEntered", &wrapped),
        ("PassStateExited", "[1,2]"),
        ("ExecutionSucceeded", "[1,2]"),
    ];
    let shown: Vec<(&str, &str)> = shown
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(shown, expected);
}

#[test]
fn a_retried_task_is_scheduled_when_its_retry_starts_so_history_never_runs_backwards() {
    let mut d = Drive::new(retry_machine(), json!({"in": 1}));
    let mut fail = |_: &TaskRequest| Some(Err(StatesError::new("Boom", "it broke")));
    d.run_to_end(&mut fail);
    let scheduled: Vec<i64> = d
        .history
        .iter()
        .filter(|e| e.event_type == "LambdaFunctionScheduled")
        .map(|e| e.timestamp)
        .collect();
    assert_eq!(scheduled, [T0, T0 + 2_000, T0 + 8_000]);
    assert!(d
        .history
        .windows(2)
        .all(|w| w[0].timestamp <= w[1].timestamp));
}

// ---- JSONPath as AWS evaluates it ----

#[test]
fn jayway_path_forms_run_in_every_path_field() {
    let mut d = Drive::new(
        json!({"StartAt": "Homes", "States": {
            "Homes": {"Type": "Pass", "InputPath": "$..interests[?(@.category==home)]",
                      "Parameters": {
                          "first.$": "$.[0].type",
                          "last.$": "$[(@.length-1)]['type','yearBuilt']",
                          "count.$": "$.length()",
                          "old.$": "$[?(@.yearBuilt < 2005)].type"
                      },
                      "OutputPath": "$.['first','last','count','old']",
                      "End": true}
        }}),
        json!({"data": {"interests": [
            {"category": "home", "type": "own", "yearBuilt": 2004},
            {"category": "auto", "type": "car", "yearBuilt": 2012},
            {"category": "home", "type": "business", "yearBuilt": 2009}
        ]}}),
    );
    d.run_to_end(&mut no_tasks);
    assert_eq!(d.exec.status, Status::Succeeded);
    assert_eq!(
        d.exec.output,
        Some(json!({
            "first": "own",
            "last": {"type": "business", "yearBuilt": 2009},
            "count": 2,
            "old": ["own"]
        }))
    );
}

#[test]
fn a_path_that_finds_nothing_fails_with_the_fields_wording() {
    let cause = |state: Value| {
        let mut d = Drive::new(
            json!({"StartAt": "S", "States": {"S": state}}),
            json!({"a": 1}),
        );
        d.run_to_end(&mut |_| Some(Ok(json!({}))));
        assert_eq!(d.exec.status, Status::Failed);
        d.exec.error.and_then(|e| e.cause).unwrap_or_default()
    };
    let input_path = cause(json!({"Type": "Pass", "InputPath": "$.NoSuchInputPath", "End": true}));
    assert!(
        input_path.ends_with(
            "Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']"
        ),
        "{input_path}"
    );
    let timeout = cause(json!({"Type": "Task", "Resource": FN,
        "TimeoutSecondsPath": "$.NoSuchTimeoutSecondsPath", "End": true}));
    assert!(
        timeout.ends_with("Invalid path '$.NoSuchTimeoutSecondsPath' : No results for path: $['NoSuchTimeoutSecondsPath']"),
        "{timeout}"
    );
    let parameters = cause(json!({"Type": "Pass", "Parameters": {"v.$": "$.b.c"}, "End": true}));
    assert!(
        parameters.ends_with("The JSONPath '$.b.c' specified for the field 'v.$' could not be found in the input '{\"a\":1}'"),
        "{parameters}"
    );
    let choice = cause(json!({"Type": "Choice", "Choices": [
        {"Variable": "$.x", "NumericEquals": 1, "Next": "S"}]}));
    assert!(
        choice.ends_with(
            "Invalid path '$.x': The choice state's condition path references an invalid value."
        ),
        "{choice}"
    );
}

mod history_limit;

// ---- Variables ----

#[test]
fn one_assign_over_256_kib_fails_the_state_with_data_limit_exceeded() {
    let s = "x".repeat(150 * 1024);
    let jsonpath = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"a.$": "$.s", "b.$": "$.s"}, "End": true}}});
    let jsonata = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"a": "{% $states.input.s %}", "b": "{% $states.input.s %}"},
              "End": true}}});
    for definition in [jsonpath, jsonata] {
        let mut d = Drive::new(definition.clone(), json!({"s": s}));
        d.run_to_end(&mut no_tasks);
        assert_eq!(d.exec.status, Status::Failed, "{definition}");
        let error = d.exec.error.as_ref().expect("an error");
        assert_eq!(error.error, "States.DataLimitExceeded");
        // One variable of 150 KiB is within the limit.
        let mut one = definition.clone();
        let assign = one["States"]["A"]["Assign"]
            .as_object_mut()
            .expect("object");
        assign.remove("b");
        assign.remove("b.$");
        let mut d = Drive::new(one, json!({"s": s}));
        d.run_to_end(&mut no_tasks);
        assert_eq!(d.exec.status, Status::Succeeded, "{:?}", d.exec.error);
    }
}

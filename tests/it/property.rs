//! A property of the two stores: a definition run through the durable path (`start`, then a
//! worker driving it to the end) gives the same status, output, error and cause, and the same
//! history (event types, ids, previous ids and details; timestamps aside) on the memory store
//! and on DynamoDB Local.
//!
//! The definitions are random but valid: chains of Pass, Choice, Wait (0 s), Parallel, inline
//! Map, Fail and Succeed, with variables (`Assign`) and Catchers, in JSONPath or JSONata,
//! nested up to two levels. Every transition goes forward, so each one terminates. The seed is
//! random per run (`STEPFN_PROPERTY_SEED` fixes it) and printed, with the definition, on a
//! difference.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use stepfn::runtime::commands;
use stepfn::runtime::durable::DurableOptions;
use stepfn::runtime::invokers::{Invokers, Mocks, Setup};
use stepfn::store::dynamodb::DynamoStore;
use stepfn::store::memory::MemoryStore;
use stepfn::store::{AnyStore, Store};

use crate::durable::{endpoint, report, uuid_like};

/// Definitions run per test.
const DEFINITIONS: u64 = 300;

/// Definitions run at once on each store.
const CONCURRENCY: usize = 16;

/// Deepest nesting of Parallel branches and Map processors.
const MAX_DEPTH: u32 = 2;

/// Which language a generated definition is written in.
#[derive(Clone, Copy, PartialEq)]
enum Lang {
    JsonPath,
    Jsonata,
}

/// Writes random valid definitions. The data between states always has the shape
/// `{"n": number, "s": string, "a": [numbers]}` (plus fields results are put in), so paths
/// and expressions find what they read; variables `x` and `y` are assigned by the first state.
struct Generator {
    rng: StdRng,
    lang: Lang,
}

impl Generator {
    fn definition(&mut self) -> Value {
        let states = self.chain(0, "");
        let mut machine = json!({"StartAt": "S0", "States": states});
        if self.lang == Lang::Jsonata {
            machine["QueryLanguage"] = json!("JSONata");
        }
        machine
    }

    /// A chain of states `{prefix}S0` .. `{prefix}Sk`, the first assigning the variables,
    /// the last a Succeed or a Fail; every transition goes to a later state.
    fn chain(&mut self, depth: u32, prefix: &str) -> Value {
        let len = self.rng.random_range(2..=if depth == 0 { 7 } else { 4 });
        let name = |i: usize| format!("{prefix}S{i}");
        let mut states = Map::new();
        states.insert(name(0), self.init_vars(&name(1)));
        for i in 1..len - 1 {
            let next = name(i + 1);
            // A second way forward, for a Choice's default and a Catcher.
            let skip = name(self.rng.random_range(i + 1..len));
            let state = match self.rng.random_range(0..10) {
                0..=2 => self.pass(&next),
                3..=4 => self.choice(&next, &skip),
                5 => self.wait(&next),
                6..=7 if depth < MAX_DEPTH => self.parallel(depth, &next, &skip, prefix, i),
                8..=9 if depth < MAX_DEPTH => self.map(depth, &next, &skip, prefix, i),
                _ => self.pass(&next),
            };
            states.insert(name(i), state);
        }
        let last = if self.rng.random_range(0..5) == 0 {
            self.fail()
        } else {
            json!({"Type": "Succeed"})
        };
        states.insert(name(len - 1), last);
        Value::Object(states)
    }

    fn k(&mut self) -> i64 {
        self.rng.random_range(-3..=5)
    }

    fn init_vars(&mut self, next: &str) -> Value {
        let x = self.k();
        match self.lang {
            Lang::JsonPath => json!({"Type": "Pass", "Next": next,
                "Assign": {"x": x, "y.$": "$.s"}}),
            Lang::Jsonata => json!({"Type": "Pass", "Next": next,
                "Assign": {"x": x, "y": "{% $states.input.s %}"}}),
        }
    }

    fn pass(&mut self, next: &str) -> Value {
        let k = self.k();
        let variant = self.rng.random_range(0..3);
        let mut state = match (self.lang, variant) {
            (Lang::JsonPath, 0) => json!({"Type": "Pass",
                "Parameters": {"n.$": format!("States.MathAdd($.n, {k})"),
                               "s.$": "States.Format('{}-{}', $.s, $x)", "a.$": "$.a"}}),
            (Lang::JsonPath, 1) => json!({"Type": "Pass", "Result": {"k": k, "t": [k, "v"]},
                "ResultPath": "$.r"}),
            (Lang::JsonPath, _) => json!({"Type": "Pass",
                "Parameters": {"n.$": "States.ArrayLength($.a)", "s.$": "$.s",
                               "a.$": format!("States.Array($.n, {k})"), "ctx.$": "$$.State.Name"}}),
            (Lang::Jsonata, 0) => json!({"Type": "Pass", "Output": {
                "n": format!("{{% $states.input.n + {k} %}}"),
                "s": "{% $states.input.s & '-' & $string($x) %}",
                "a": "{% $states.input.a %}"}}),
            (Lang::Jsonata, 1) => {
                json!({"Type": "Pass", "Output": "{% $merge([$states.input, {'r': $y}]) %}"})
            }
            (Lang::Jsonata, _) => json!({"Type": "Pass", "Output": {
                "n": "{% $count($states.input.a) %}", "s": "{% $states.context.State.Name %}",
                "a": format!("{{% [$states.input.n, {k}] %}}")}}),
        };
        if self.rng.random_bool(0.4) {
            state["Assign"] = match self.lang {
                // A Pass state's Assign reads its result: `Result` has no `n`.
                Lang::JsonPath if variant == 1 => json!({"x.$": "$.k", "y": "r"}),
                Lang::JsonPath => json!({"x.$": "$.n"}),
                Lang::Jsonata => json!({"x": "{% $states.input.n %}", "y": "{% $y & 'y' %}"}),
            };
        }
        state["Next"] = json!(next);
        state
    }

    fn choice(&mut self, next: &str, skip: &str) -> Value {
        let k = self.k();
        match self.lang {
            Lang::JsonPath => json!({"Type": "Choice", "Default": skip,
                "Choices": [
                    {"Variable": "$.n", "NumericGreaterThan": k, "Next": next,
                     "Assign": {"x.$": "$.n"}},
                    {"Variable": "$x", "NumericEquals": k, "Next": skip}]}),
            Lang::Jsonata => json!({"Type": "Choice", "Default": skip,
                "Choices": [
                    {"Condition": format!("{{% $states.input.n > {k} %}}"), "Next": next,
                     "Assign": {"x": "{% $states.input.n %}"}},
                    {"Condition": format!("{{% $x = {k} %}}"), "Next": skip}]}),
        }
    }

    fn wait(&mut self, next: &str) -> Value {
        json!({"Type": "Wait", "Seconds": 0, "Next": next})
    }

    fn fail(&mut self) -> Value {
        let code = self.rng.random_range(0..3);
        match self.lang {
            Lang::JsonPath => json!({"Type": "Fail", "Error": format!("Prop.E{code}"),
                "Cause": "generated"}),
            Lang::Jsonata => json!({"Type": "Fail", "Error": format!("Prop.E{code}"),
                "Cause": "{% 'n is ' & $string($states.input.n) %}"}),
        }
    }

    /// A Catcher of every error, to `skip`, some of the time.
    fn catch(&mut self, state: &mut Value, skip: &str) {
        if self.rng.random_bool(0.5) {
            state["Catch"] = match self.lang {
                Lang::JsonPath => json!([{"ErrorEquals": ["States.ALL"], "Next": skip,
                    "ResultPath": "$.caught"}]),
                Lang::Jsonata => json!([{"ErrorEquals": ["States.ALL"], "Next": skip,
                    "Output": "{% $merge([$states.input, {'caught': $states.errorOutput}]) %}"}]),
            };
        }
    }

    fn parallel(&mut self, depth: u32, next: &str, skip: &str, prefix: &str, i: usize) -> Value {
        let branches: Vec<Value> = (0..self.rng.random_range(1..=3))
            .map(|b| {
                let inner = format!("{prefix}P{i}b{b}");
                json!({"StartAt": format!("{inner}S0"),
                       "States": self.chain(depth + 1, &inner)})
            })
            .collect();
        let mut state = match self.lang {
            Lang::JsonPath => json!({"Type": "Parallel", "Branches": branches,
                "ResultSelector": {"count.$": "States.ArrayLength($)", "first.$": "$[0]"},
                "ResultPath": "$.p"}),
            Lang::Jsonata => json!({"Type": "Parallel", "Branches": branches,
                "Output": "{% $merge([$states.input, {'p': $states.result}]) %}"}),
        };
        self.catch(&mut state, skip);
        state["Next"] = json!(next);
        state
    }

    fn map(&mut self, depth: u32, next: &str, skip: &str, prefix: &str, i: usize) -> Value {
        let inner = format!("{prefix}M{i}");
        let processor = json!({"ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": format!("{inner}S0"), "States": self.chain(depth + 1, &inner)});
        let concurrency = self.rng.random_range(0..=3);
        let mut state = match self.lang {
            Lang::JsonPath => json!({"Type": "Map", "ItemsPath": "$.a",
                "ItemSelector": {"n.$": "$$.Map.Item.Value", "s.$": "$.s", "a": [1, 2]},
                "ItemProcessor": processor, "MaxConcurrency": concurrency,
                "ResultPath": "$.m"}),
            Lang::Jsonata => json!({"Type": "Map", "Items": "{% $states.input.a %}",
                "ItemSelector": {"n": "{% $states.context.Map.Item.Value %}",
                                 "s": "{% $states.input.s %}", "a": [1, 2]},
                "ItemProcessor": processor, "MaxConcurrency": concurrency,
                "Output": "{% $merge([$states.input, {'m': $states.result}]) %}"}),
        };
        self.catch(&mut state, skip);
        state["Next"] = json!(next);
        state
    }
}

/// What a run ends with, as compared between the stores.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: String,
    output: Option<Value>,
    error: Option<(String, Option<String>)>,
    /// Every event as GetExecutionHistory gives it, its timestamp removed.
    history: Vec<Value>,
}

async fn run(store: &AnyStore, machine: &str, definition: Value, input: Value) -> Outcome {
    let invoker = Invokers::new(Setup {
        store: store.clone(),
        integrations: None,
        mocks: Mocks::None,
        virtual_clock: true,
    })
    .expect("invokers");
    let now = 1_700_000_000_000;
    let record = commands::machine_record(machine, definition, now);
    let started = commands::start(store, &record, "run", input, now)
        .await
        .unwrap_or_else(|e| panic!("{machine} starts: {e}"));
    let options = DurableOptions {
        owner: "property".into(),
        lease_ms: 60_000,
        park_after_ms: None,
        deadline_ms: None,
        virtual_clock: true,
    };
    let done = commands::run_durably(store, &started.info.arn, invoker, &options)
        .await
        .unwrap_or_else(|e| panic!("{machine} runs: {e}"));
    let history = store
        .history(&started.info.arn)
        .await
        .unwrap_or_else(|e| panic!("{machine} history: {e}"))
        .iter()
        .map(|event| {
            let mut event = event.to_api_json();
            if let Some(event) = event.as_object_mut() {
                event.remove("timestamp");
            }
            event
        })
        .collect();
    Outcome {
        status: format!("{:?}", done.status),
        output: done.output,
        error: done.error.map(|e| (e.error, e.cause)),
        history,
    }
}

/// The `i`th definition of the run seeded `seed`, and its input.
fn case(seed: u64, i: u64) -> (Value, Value) {
    let mut rng = StdRng::seed_from_u64(seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let lang = if rng.random_bool(0.5) {
        Lang::JsonPath
    } else {
        Lang::Jsonata
    };
    let items: Vec<i64> = (0..rng.random_range(0..=3) * 2)
        .map(|_| rng.random_range(0..9))
        .collect();
    let input = json!({"n": rng.random_range(-2..6), "s": "in", "a": items});
    let mut generator = Generator { rng, lang };
    (generator.definition(), input)
}

/// Runs every definition on `store`, `CONCURRENCY` at a time; the outcomes in order.
async fn run_all(store: &AnyStore, seed: u64, tag: &str) -> Vec<Outcome> {
    let store = Arc::new(store.clone());
    let mut outcomes = Vec::new();
    let ids: Vec<u64> = (0..DEFINITIONS).collect();
    for batch in ids.chunks(CONCURRENCY) {
        let mut tasks = tokio::task::JoinSet::new();
        for &i in batch {
            let store = Arc::clone(&store);
            let tag = tag.to_string();
            tasks.spawn(async move {
                let (definition, input) = case(seed, i);
                (
                    i,
                    run(&store, &format!("prop-{tag}-{i}"), definition, input).await,
                )
            });
        }
        let mut done = tasks.join_all().await;
        done.sort_by_key(|(i, _)| *i);
        outcomes.extend(done.into_iter().map(|(_, outcome)| outcome));
    }
    outcomes
}

#[test]
fn random_definitions_run_alike_on_the_memory_store_and_dynamodb_local() {
    let endpoint = endpoint();
    let seed = std::env::var("STEPFN_PROPERTY_SEED")
        .ok()
        .map(|s| {
            s.parse::<u64>()
                .unwrap_or_else(|_| panic!("STEPFN_PROPERTY_SEED {s:?} is not a number"))
        })
        .unwrap_or_else(|| rand::rng().random());
    report(&format!(
        "property: seed {seed} (STEPFN_PROPERTY_SEED={seed} runs these definitions again)"
    ));
    let tag = uuid_like();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (memory, dynamo) = runtime.block_on(async {
        let dynamo = DynamoStore::connect(&format!("prop{tag}"), Some(&endpoint))
            .await
            .expect("DynamoDB Local client");
        dynamo.init().await.expect("table created");
        let memory = run_all(&AnyStore::Memory(MemoryStore::new()), seed, &tag).await;
        let dynamo = run_all(&AnyStore::Dynamo(dynamo), seed, &tag).await;
        (memory, dynamo)
    });
    let mut statuses = std::collections::BTreeMap::new();
    for (i, (m, d)) in memory.iter().zip(&dynamo).enumerate() {
        let (definition, input) = case(seed, i as u64);
        assert_eq!(
            m, d,
            "seed {seed}, definition {i}: the memory store (left) and DynamoDB Local (right) differ\n\
             definition: {definition}\ninput: {input}"
        );
        let ending = match &m.error {
            Some((error, _)) => format!("{} {error}", m.status),
            None => m.status.clone(),
        };
        *statuses.entry(ending).or_insert(0) += 1;
    }
    assert_eq!(memory.len() as u64, DEFINITIONS);
    let events: Vec<&Value> = memory.iter().flat_map(|m| &m.history).collect();
    let count = |kind: &str| events.iter().filter(|e| e["type"] == kind).count();
    let (maps, parallels, caught) = (
        count("MapStateEntered"),
        count("ParallelStateEntered"),
        events
            .iter()
            .filter(|e| e.to_string().contains("\\\"caught\\\""))
            .count(),
    );
    assert!(
        maps > 0 && parallels > 0,
        "seed {seed}: no Map ({maps}) or no Parallel ({parallels}) state ran"
    );
    // The generator must reach both ends: a change that made every run fail (or none) would
    // leave the property tested on a sliver of the engine.
    assert!(
        statuses.contains_key("Succeeded") && statuses.len() >= 2,
        "seed {seed}: every run ended alike: {statuses:?}"
    );
    report(&format!(
        "property: {DEFINITIONS} random definitions alike on both stores ({} events, {maps} Map and \
         {parallels} Parallel states entered, {caught} events after a Catch), by ending {statuses:?}",
        events.len()
    ));
}

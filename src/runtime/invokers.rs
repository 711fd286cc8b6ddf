//! The one invoker stack that runs Task states, the same for `stepfn run`, `stepfn worker`,
//! `stepfn serve`, the Lambda function and the conformance runner, built by
//! [`Invokers::new`]. A task goes down the stack until a layer answers it:
//!
//! 0. **Map Runs** (the engine's requests for a Distributed Map, [`MapRuns`]): their
//!    children's tasks go through the whole stack again, mocks included.
//! 1. **Mocks** (a MockConfigFile): the test case of the whole run (`run --mocks --test-case`,
//!    `worker`), or the one an execution was started with (`stateMachineArn#TestCase`, as Step
//!    Functions Local has it). A test case answers the states it names; the rest go down.
//! 2. **Activities**: a task on an activity ARN is queued in the store for `GetActivityTask`;
//!    the driver awaits the enqueue (so a worker that parks the execution right after has
//!    queued it), then the task waits for `SendTaskSuccess`/`SendTaskFailure`.
//! 3. **Nested executions** (`states:startExecution`), on the same store; their children's
//!    tasks go through the stack below the mocks.
//! 4. **Integrations** ([`crate::tasks::integrations::Integrations`]: HTTP, DynamoDB, Lambda),
//!    or none ([`NoIntegrations`]: callbacks wait, the rest fail naming their resource).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use serde_json::Value;

use crate::asl::error::{self, StatesError};
use crate::engine::task::is_map_run;
use crate::engine::task::TaskRequest;
use crate::runtime::clock::real_now;
use crate::runtime::map_run::MapRuns;
use crate::runtime::nested::{nested_pattern, StatesTasks};
use crate::store::{ActivityTask, AnyStore, Store};
use crate::tasks::mock::{MockError, MockInvoker, TestCase};
use crate::tasks::{Invocation, NoIntegrations, TaskInvoker};

/// Which mocked responses answer tasks.
#[derive(Debug, Clone, Default)]
pub enum Mocks {
    /// No mocks.
    #[default]
    None,
    /// One test case of a MockConfigFile for every execution (`run --mocks --test-case`,
    /// `worker`): `machine` names the config's state machine entry.
    Case {
        /// The MockConfigFile.
        config: Value,
        /// Its `StateMachines` entry.
        machine: String,
        /// Its test case.
        case: String,
    },
    /// Test cases chosen per execution with [`Invokers::route`] (`serve`, the Lambda function);
    /// `None`: no config, so every route is refused.
    Routed(Option<Value>),
}

/// What the stack is built from.
#[derive(Clone)]
pub struct Setup {
    /// Where activity tasks are queued and nested executions live.
    pub store: AnyStore,
    /// The integrations at the bottom of the stack (`None`: [`NoIntegrations`]).
    pub integrations: Option<Arc<dyn TaskInvoker>>,
    /// The mocks on top.
    pub mocks: Mocks,
    /// Nested executions skip their waits (`run --virtual-clock`).
    pub virtual_clock: bool,
}

/// Why a test case cannot be routed to an execution.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The stack has no MockConfigFile.
    #[error("test case '{0}' requested but the server has no --mocks config")]
    NoConfig(String),
    /// The config has no such test case.
    #[error(transparent)]
    Mock(#[from] MockError),
}

/// The invoker stack.
pub struct Invokers {
    /// The whole run's test case.
    case: Option<Arc<MockInvoker>>,
    /// The config test cases are routed from.
    routed: Option<Value>,
    /// Test cases by execution ARN.
    routes: Mutex<HashMap<String, Arc<MockInvoker>>>,
    /// Everything below the mocks.
    unmocked: Arc<Unmocked>,
    /// Distributed Map runs.
    map_runs: Arc<MapRuns>,
}

/// The layers below the mocks: activities, nested executions, integrations.
struct Unmocked {
    store: AnyStore,
    nested: Arc<StatesTasks>,
    integrations: Arc<dyn TaskInvoker>,
}

impl Invokers {
    /// Builds the stack.
    ///
    /// # Errors
    /// [`MockError`] when [`Mocks::Case`] names a state machine or test case the config lacks.
    pub fn new(setup: Setup) -> Result<Arc<Invokers>, MockError> {
        let integrations = setup
            .integrations
            .unwrap_or_else(|| Arc::new(NoIntegrations));
        let store = setup.store;
        let virtual_clock = setup.virtual_clock;
        let unmocked = Arc::new_cyclic(|me: &Weak<Unmocked>| {
            let children: Weak<dyn TaskInvoker> = me.clone();
            Unmocked {
                nested: Arc::new(StatesTasks::new(store.clone(), children, virtual_clock)),
                store,
                integrations,
            }
        });
        let below: Arc<dyn TaskInvoker> = Arc::clone(&unmocked) as Arc<dyn TaskInvoker>;
        let map_store = unmocked.store.clone();
        let (case, routed) = match setup.mocks {
            Mocks::None => (None, None),
            Mocks::Case {
                config,
                machine,
                case,
            } => {
                let case = TestCase::from_config(&config, &machine, &case)?;
                (Some(Arc::new(MockInvoker::new(case, below))), None)
            }
            Mocks::Routed(config) => (None, config),
        };
        Ok(Arc::new_cyclic(|me: &Weak<Invokers>| {
            let top: Weak<dyn TaskInvoker> = me.clone();
            Invokers {
                case,
                routed,
                routes: Mutex::new(HashMap::new()),
                unmocked,
                map_runs: Arc::new(MapRuns::new(map_store, top, virtual_clock)),
            }
        }))
    }

    /// Runs the tasks of execution `execution_arn` (of the config's state machine `machine`)
    /// with test case `case` of the MockConfigFile.
    ///
    /// # Errors
    /// When there is no config, it has no such state machine or test case, or the case
    /// mocks a state `definition` does not have.
    pub fn route(
        &self,
        execution_arn: &str,
        machine: &str,
        case: &str,
        definition: &Value,
    ) -> Result<(), RouteError> {
        let Some(config) = &self.routed else {
            return Err(RouteError::NoConfig(case.to_string()));
        };
        let name = case;
        let case = TestCase::from_config(config, machine, case)?;
        case.check_states(definition, name)?;
        let below: Arc<dyn TaskInvoker> = Arc::clone(&self.unmocked) as Arc<dyn TaskInvoker>;
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                execution_arn.to_string(),
                Arc::new(MockInvoker::new(case, below)),
            );
        Ok(())
    }
}

impl TaskInvoker for Invokers {
    fn invoke(&self, request: &TaskRequest) -> Invocation {
        if is_map_run(request) {
            return self.map_runs.invoke(request);
        }
        if let Some(case) = &self.case {
            return case.invoke(request);
        }
        if self.routed.is_some() {
            let route = self
                .routes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&*request.execution_arn)
                .cloned();
            if let Some(invoker) = route {
                return invoker.invoke(request);
            }
        }
        self.unmocked.invoke(request)
    }
}

impl TaskInvoker for Unmocked {
    fn invoke(&self, request: &TaskRequest) -> Invocation {
        if request.resource.is_activity() {
            if let Some(token) = &request.token {
                return Invocation::Queued(queue_activity_task(self.store.clone(), request, token));
            }
        }
        if let Some(pattern) = nested_pattern(&request.resource) {
            return self.nested.invoke(pattern, request);
        }
        self.integrations.invoke(request)
    }
}

/// Queues an activity task for `GetActivityTask`. The enqueue is idempotent on the token, so
/// a worker that takes the execution over and invokes the task again queues nothing twice.
fn queue_activity_task(
    store: AnyStore,
    request: &TaskRequest,
    token: &str,
) -> crate::tasks::QueueFuture {
    let activity = request.resource.to_string();
    let task = ActivityTask {
        token: token.to_string(),
        input: request.input.clone(),
        enqueued: real_now(),
    };
    Box::pin(async move {
        store
            .enqueue_activity_task(&activity, &task)
            .await
            .map_err(|e| {
                StatesError::new(
                    error::RUNTIME,
                    format!("The activity task could not be queued for {activity}: {e}"),
                )
            })
    })
}

//! Map states: the items, the iterations started up to `MaxConcurrency`, and the tolerated
//! failures.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::asl::error::{self, StatesError};
use crate::asl::jsonata::{self, Moment};
use crate::asl::model::{MapState, PathField, QueryLanguage, State};
use crate::asl::path::Path;
use crate::asl::payload::json_len;
use crate::asl::template::Template;
use crate::engine::execution::{body_at, Children, DeferredInput, FrameId, FrameInput, Phase};
use crate::engine::history::Details;
use crate::engine::rng::LazyRng;
use crate::engine::states::children::add_result_bytes;
use crate::engine::states::io::*;
use crate::engine::step::{Command, Outcome, Stepper};

/// The largest iteration input (bytes of JSON text) kept from an iteration's start until it
/// first runs; a larger one is built again then.
const KEPT_INPUT_BYTES: usize = 1024;

/// A Map state's `MaxConcurrency` (0: no limit) and tolerated failures, as given.
pub(crate) struct MapLimits {
    pub(crate) max_concurrency: usize,
    pub(crate) count: Option<i64>,
    pub(crate) pct: Option<f64>,
}

/// A Map state's work list.
pub(crate) struct MapSetup {
    pub(crate) items: Vec<Value>,
    /// The ItemSelector's `$` when InputPath selected it; `None`: the state's raw input.
    pub(crate) selector_input: Option<Value>,
    pub(crate) max_concurrency: usize,
    pub(crate) tolerated: f64,
    pub(crate) has_tolerance: bool,
    /// `items` are placeholders: see [`Children::items_in_input`].
    pub(crate) items_in_input: bool,
}

impl Stepper<'_> {
    pub(crate) fn run_map(
        &mut self,
        id: FrameId,
        name: &str,
        m: &MapState,
        time: i64,
    ) -> Result<Outcome, StatesError> {
        if m.is_distributed() {
            return self.run_distributed_map(id, name, m, time);
        }
        let setup = self.map_setup(id, name, m)?;
        let n = setup.items.len();
        self.emit(Some(id), time, "MapStateStarted", || Details::MapStarted {
            length: n,
        });
        if let Some(f) = self.frame_mut(id) {
            f.phase = Phase::Children;
            f.children = Some(Box::new(Children {
                results: vec![Value::Null; n],
                live: Default::default(),
                items: setup.items,
                next: 0,
                selector_input: setup.selector_input,
                max_concurrency: setup.max_concurrency,
                finished: 0,
                failed: 0,
                tolerated: setup.tolerated,
                has_tolerance: setup.has_tolerance,
                child_body: None,
                failed_slots: Vec::new(),
                kept: Vec::new(),
                texts: Vec::new(),
                result_bytes: 0,
                defer_inputs: false,
                items_in_input: setup.items_in_input,
            }));
        }
        if n == 0 {
            self.complete_children(id, time);
            return Ok(Outcome::Blocked);
        }
        // A redrive runs only the iterations that did not succeed.
        let kept = self.take_kept(id);
        if let Some(ch) = self.frame_mut(id).and_then(|f| f.children.as_mut()) {
            ch.kept = kept;
        }
        self.start_iterations(id, name, m, time)?;
        Ok(Outcome::Blocked)
    }

    /// Starts Map iterations up to the concurrency limit.
    pub(crate) fn start_iterations(
        &mut self,
        id: FrameId,
        name: &str,
        m: &MapState,
        time: i64,
    ) -> Result<(), StatesError> {
        loop {
            let Some(frame) = self.frame(id) else {
                return Ok(());
            };
            let Some(ch) = frame.children.as_ref() else {
                return Ok(());
            };
            if ch.next >= ch.items.len()
                || (ch.max_concurrency > 0 && ch.live.len() >= ch.max_concurrency)
            {
                if ch.live.is_empty() && ch.finished >= ch.results.len() {
                    // The last iterations were kept from before a redrive.
                    self.complete_children(id, time);
                }
                return Ok(());
            }
            let index = ch.next;
            if ch.kept.get(index).is_some_and(Option::is_some) {
                if let Some(ch) = self.frame_mut(id).and_then(|f| f.children.as_mut()) {
                    let value = ch.kept[index].take().unwrap_or_default();
                    ch.result_bytes = add_result_bytes(ch.result_bytes, &value);
                    ch.results[index] = value;
                    ch.finished += 1;
                    ch.next += 1;
                }
                continue;
            }
            let Some(frame) = self.frame(id) else {
                return Ok(());
            };
            let Some(ch) = frame.children.as_ref() else {
                return Ok(());
            };
            let defer = ch.defer_inputs;
            // The first input is evaluated now (its failure fails the state now, as AWS fails
            // it). When it is large, every input is built when its iteration first runs
            // instead: all of them at once (with `MaxConcurrency` 0) would take memory of the
            // square of the state's input when each is the whole input.
            let at = DeferredInput {
                time: self.now,
                seed: self.seed_now(),
            };
            // Each item is read once, by the iteration that starts now (or, deferred, by its
            // first run): move it out, and back when its input is deferred.
            let in_input = ch.items_in_input;
            let item = match (&m.item_selector, defer) {
                (Some(_), true) => Value::Null,
                _ if in_input => Value::Null,
                _ => self
                    .frame_mut(id)
                    .and_then(|f| f.children.as_mut())
                    .and_then(|ch| ch.items.get_mut(index))
                    .map(std::mem::take)
                    .unwrap_or_default(),
            };
            let (input, deferred) = match &m.item_selector {
                None => (FrameInput::from(item), None),
                Some(_) if defer => (FrameInput::default(), Some(at)),
                Some(_) => {
                    let Some(frame) = self.frame(id) else {
                        return Ok(());
                    };
                    let Some(ch) = frame.children.as_ref() else {
                        return Ok(());
                    };
                    let selector_input = ch.selector_input.as_ref().unwrap_or(&frame.input);
                    let (input, item) = if in_input {
                        let item = item_at(m, selector_input, index);
                        let input =
                            self.input_in_place(id, name, m, index, item, selector_input, at)?;
                        (input, Value::Null)
                    } else {
                        self.selected_input(id, name, m, index, item, selector_input, at)?
                    };
                    let len = json_len(&input, KEPT_INPUT_BYTES);
                    if len > KEPT_INPUT_BYTES {
                        if let Some(slot) = self
                            .frame_mut(id)
                            .and_then(|f| f.children.as_mut())
                            .and_then(|ch| ch.items.get_mut(index))
                        {
                            *slot = item;
                        }
                        (FrameInput::default(), Some(at))
                    } else {
                        (FrameInput::sized(input, len), None)
                    }
                }
            };
            let Some(frame) = self.frame(id) else {
                return Ok(());
            };
            let Some(ch) = frame.children.as_ref() else {
                return Ok(());
            };
            let vars = Arc::clone(&frame.vars);
            let path = match &ch.child_body {
                Some(p) => Arc::clone(p),
                None => {
                    let mut path: Vec<(u32, u32)> = frame.body.to_vec();
                    path.push((frame.current as u32, 0));
                    Arc::from(path)
                }
            };
            let start = m.item_processor.start;
            self.emit(Some(id), time, "MapIterationStarted", || {
                Details::MapIteration {
                    name: name.to_string(),
                    index,
                }
            });
            let child = self.new_frame(
                Some((id, index)),
                Arc::clone(&path),
                start,
                input,
                Some(index),
                vars,
            );
            if let Some(f) = self.frame_mut(child) {
                f.deferred_input = deferred;
            }
            if let Some(ch) = self.frame_mut(id).and_then(|f| f.children.as_mut()) {
                ch.next += 1;
                ch.defer_inputs |= deferred.is_some();
                ch.live.insert(child);
                ch.child_body.get_or_insert(path);
            }
            self.out.commands.push(Command::Run(child));
        }
    }

    /// A Map state's items, concurrency and failure tolerance.
    pub(crate) fn map_setup(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
    ) -> Result<MapSetup, StatesError> {
        let in_place = self.items_in_place(id, m);
        let items_in_input = in_place.is_some();
        let (items, selector_input) = match in_place {
            Some(n) => (vec![Value::Null; n], None),
            None => self.map_items(id, name, m)?,
        };
        let limits = self.map_limits(id, name, m)?;
        let (tolerated, has_tolerance) = tolerance_from(limits.count, limits.pct, items.len())?;
        Ok(MapSetup {
            items,
            selector_input,
            max_concurrency: limits.max_concurrency,
            tolerated,
            has_tolerance,
            items_in_input,
        })
    }

    /// The number of items, when each iteration can read its item where it is: a JSONPath
    /// Map without InputPath or ItemReader whose ItemsPath is a reference path on `$` (or
    /// absent) naming an array, and whose ItemSelector reads the item only in the forms a
    /// scope serves ([`Path::reads_map_item_directly`]). The items are then not copied out.
    fn items_in_place(&self, id: FrameId, m: &MapState) -> Option<usize> {
        let selector = m.item_selector.as_ref()?;
        if m.common.lang != QueryLanguage::JSONPath
            || m.item_reader.is_some()
            || !matches!(m.common.input_path, PathField::Default)
            || !selector.all_paths(&Path::reads_map_item_directly)
        {
            return None;
        }
        let input = &self.frame(id)?.input;
        item_list(m, input).map(<[Value]>::len)
    }

    /// A Map state's items (`Items`, `ItemsPath` or the input), and the ItemSelector's `$`
    /// when InputPath selected one.
    pub(crate) fn map_items(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
    ) -> Result<(Vec<Value>, Option<Value>), StatesError> {
        let Some(frame) = self.frames.get(id).and_then(Option::as_ref) else {
            return Err(StatesError::runtime("the Map state's frame is gone"));
        };
        if m.common.lang == QueryLanguage::JSONata {
            let env = self.env(id, name, true, true);
            let states = env.states(&frame.input, None);
            let items = match &m.items {
                Some(v) => {
                    let items =
                        jsonata::eval_template(v, "Items", &states, &env.vars, &env.moment)?;
                    if let Value::String(s) = v {
                        let expr = jsonata::expression_text(s).unwrap_or(s);
                        jsonata::expect_type(expr, "Items", &items, "array")?;
                    }
                    items
                }
                None if m.item_reader.is_some() => Value::Array(Vec::new()),
                None => Value::clone(&frame.input),
            };
            let Value::Array(items) = items else {
                return Err(StatesError::new(
                    error::QUERY_EVALUATION_ERROR,
                    format!(
                        "Map state input must be an array but was: {}",
                        serde_json::to_string(&items).unwrap_or_default()
                    ),
                ));
            };
            return Ok((items, None));
        }
        let env = self.env(id, name, common_uses_context(&m.common), true);
        let selected = match &m.common.input_path {
            PathField::Default => None,
            f => Some(apply_path(f, Value::clone(&frame.input), &env)?),
        };
        if m.item_reader.is_some() {
            // The items come from the reader.
            return Ok((Vec::new(), selected));
        }
        let effective = selected.as_ref().unwrap_or(&frame.input);
        let scope = env.scope(effective);
        let items_value = match &m.items_path {
            PathField::Default | PathField::Null => effective.clone(),
            PathField::Path(p) => p
                .eval(&scope)
                .map_err(|e| StatesError::runtime(e.to_string()))?,
        };
        let Value::Array(items) = items_value else {
            return Err(StatesError::runtime(format!(
                "Map state input must be an array but was: {}",
                serde_json::to_string(&items_value).unwrap_or_default()
            )));
        };
        Ok((items, selected))
    }

    /// A Map state's `MaxConcurrency` and tolerated failures, as given (the tolerance is
    /// checked by [`tolerance_from`]).
    pub(crate) fn map_limits(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
    ) -> Result<MapLimits, StatesError> {
        let Some(frame) = self.frames.get(id).and_then(Option::as_ref) else {
            return Err(StatesError::runtime("the Map state's frame is gone"));
        };
        if m.common.lang == QueryLanguage::JSONata {
            let env = self.env(id, name, true, true);
            let states = env.states(&frame.input, None);
            let number = |field: &str, v: &Option<Value>| -> Result<Option<Value>, StatesError> {
                v.as_ref()
                    .map(|v| eval_field(v, field, &states, &env))
                    .transpose()
            };
            let max_concurrency = number("MaxConcurrency", &m.max_concurrency)?
                .and_then(|v| v.as_u64())
                .unwrap_or(0) as usize;
            let count = number("ToleratedFailureCount", &m.tolerated_failure_count)?;
            let pct = number(
                "ToleratedFailurePercentage",
                &m.tolerated_failure_percentage,
            )?;
            return Ok(MapLimits {
                max_concurrency,
                count: count.map(|c| c.as_i64().unwrap_or(0)),
                pct: pct.and_then(|p| p.as_f64()),
            });
        }
        let env = self.env(id, name, common_uses_context(&m.common), true);
        let selected = match &m.common.input_path {
            PathField::Default => None,
            f => Some(apply_path(f, Value::clone(&frame.input), &env)?),
        };
        let effective = selected.as_ref().unwrap_or(&frame.input);
        let scope = env.scope(effective);
        let max_concurrency = match (&m.max_concurrency, &m.max_concurrency_path) {
            (Some(v), _) => v.as_u64().unwrap_or(0) as usize,
            (None, Some(p)) => {
                let v = p.lookup(&scope).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The MaxConcurrencyPath field refers to a missing value: {p}"
                    ))
                })?;
                match v.as_i64() {
                    Some(n) if n >= 0 => n as usize,
                    _ => {
                        return Err(StatesError::runtime(format!(
                            "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {p}",
                            render_plain(v)
                        )))
                    }
                }
            }
            (None, None) => 0,
        };
        let count = match (&m.tolerated_failure_count, &m.tolerated_failure_count_path) {
            (Some(v), _) => Some(v.as_i64().unwrap_or(0)),
            (None, Some(p)) => {
                let v = p.lookup(&scope).cloned().unwrap_or(Value::Null);
                match integer_like(&v) {
                    Some(c) => Some(c),
                    None => {
                        return Err(StatesError::runtime(format!(
                            "The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: {p}",
                            render_plain(&v)
                        )))
                    }
                }
            }
            (None, None) => None,
        };
        let pct = match (
            &m.tolerated_failure_percentage,
            &m.tolerated_failure_percentage_path,
        ) {
            (Some(v), _) => Some(v.as_f64().unwrap_or(0.0)),
            (None, Some(p)) => {
                let v = p.lookup(&scope).cloned().unwrap_or(Value::Null);
                match float_like(&v) {
                    Some(c) => Some(c),
                    None => {
                        return Err(StatesError::runtime(format!(
                            "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {p}",
                            render_plain(&v)
                        )))
                    }
                }
            }
            (None, None) => None,
        };
        Ok(MapLimits {
            max_concurrency,
            count,
            pct,
        })
    }

    /// The input of Map iteration `index` (ItemSelector, or the item itself).
    pub(crate) fn iteration_input(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
        index: usize,
        item: Value,
        selector_input: &Value,
    ) -> Result<Value, StatesError> {
        let at = DeferredInput {
            time: self.now,
            seed: self.seed_now(),
        };
        self.iteration_input_at(id, name, m, index, item, selector_input, at)
    }

    /// The input of Map iteration `index` as a step at `at` builds it (its time and seed).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn iteration_input_at(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
        index: usize,
        item: Value,
        selector_input: &Value,
        at: DeferredInput,
    ) -> Result<Value, StatesError> {
        self.selected_input(id, name, m, index, item, selector_input, at)
            .map(|(input, _)| input)
    }

    /// [`Self::iteration_input_at`], giving the item back beside the input (when the state
    /// has an ItemSelector): the caller keeps it when the input is built again later.
    #[allow(clippy::too_many_arguments)]
    fn selected_input(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
        index: usize,
        item: Value,
        selector_input: &Value,
        at: DeferredInput,
    ) -> Result<(Value, Value), StatesError> {
        let Some(selector) = &m.item_selector else {
            return Ok((item, Value::Null));
        };
        if m.common.lang == QueryLanguage::JSONata {
            let mut env = self.env(id, name, true, true);
            env.moment = Moment::new(at.time, at.seed);
            if let Value::Object(ctx) = &mut env.context {
                ctx.insert("Map".into(), map_context(index, item));
            }
            let mut states = env.states(selector_input, None);
            let raw = match selector {
                Template::Literal(v) => v,
                _ => {
                    return Err(StatesError::runtime(
                        "ItemSelector uses JSONPath in a JSONata state",
                    ))
                }
            };
            let input =
                jsonata::eval_template(raw, "ItemSelector", &states, &env.vars, &env.moment)?;
            // The item, back out of the context object the selector read it from.
            let item = states
                .get_mut("context")
                .and_then(|c| c.get_mut("Map"))
                .map(take_map_item)
                .unwrap_or_default();
            return Ok((input, item));
        }
        let env = self.env(id, name, selector.uses_context(), true);
        if selector.all_paths(&Path::reads_map_item_directly) {
            let mut rng = LazyRng::from_seed(at.seed);
            if let Some(input) =
                select_from_scope(&env, selector, selector_input, index, &item, &mut rng)
            {
                return Ok((input, item));
            }
        }
        select_from_context(env, selector, selector_input, index, item, at.seed)
    }

    /// The input of iteration `index` from its item read where it is (see
    /// [`Children::items_in_input`]). A failing selector is evaluated again on a copy, for
    /// the cause to show the context object as AWS has it.
    #[allow(clippy::too_many_arguments)]
    fn input_in_place(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
        index: usize,
        item: &Value,
        selector_input: &Value,
        at: DeferredInput,
    ) -> Result<Value, StatesError> {
        let Some(selector) = &m.item_selector else {
            return Ok(item.clone());
        };
        let env = self.env(id, name, selector.uses_context(), true);
        let mut rng = LazyRng::from_seed(at.seed);
        if let Some(input) =
            select_from_scope(&env, selector, selector_input, index, item, &mut rng)
        {
            return Ok(input);
        }
        select_from_context(env, selector, selector_input, index, item.clone(), at.seed)
            .map(|(input, _)| input)
    }

    /// Builds the input of Map iteration `child` that was deferred when it started, as it was
    /// evaluated then. Called when the iteration first runs.
    pub(crate) fn build_deferred_input(&mut self, child: FrameId) -> Result<(), StatesError> {
        let Some(f) = self.frame(child) else {
            return Ok(());
        };
        let (Some(at), Some((parent, _)), Some(index)) = (f.deferred_input, f.parent, f.map_index)
        else {
            return Ok(());
        };
        let machine = Arc::clone(&self.machine);
        let Some(pf) = self.frame(parent) else {
            return Err(StatesError::runtime("the Map state's frame is gone"));
        };
        let (name, state) = body_at(&machine, &pf.body).state(pf.current);
        let State::Map(m) = state else {
            return Err(StatesError::runtime("the Map state's frame is gone"));
        };
        let in_input = self
            .frame(parent)
            .and_then(|f| f.children.as_ref())
            .is_some_and(|ch| ch.items_in_input);
        if in_input {
            let Some(pf) = self.frame(parent) else {
                return Ok(());
            };
            let item = item_at(m, &pf.input, index);
            let input = self.input_in_place(parent, name, m, index, item, &pf.input, at)?;
            if let Some(f) = self.frame_mut(child) {
                f.input = input.into();
                f.deferred_input = None;
            }
            return Ok(());
        }
        // The item is read once, by this first run: move it out.
        let item = self
            .frame_mut(parent)
            .and_then(|f| f.children.as_mut())
            .and_then(|ch| ch.items.get_mut(index))
            .map(std::mem::take)
            .unwrap_or_default();
        let Some(pf) = self.frame(parent) else {
            return Ok(());
        };
        let Some(ch) = pf.children.as_ref() else {
            return Ok(());
        };
        let selector_input = ch.selector_input.as_ref().unwrap_or(&pf.input);
        let input = self.iteration_input_at(parent, name, m, index, item, selector_input, at)?;
        if let Some(f) = self.frame_mut(child) {
            f.input = input.into();
            f.deferred_input = None;
        }
        Ok(())
    }

    /// Every item's input, as [`Self::iteration_input`] gives them one by one, with the
    /// JSONPath context object built once for all of them.
    pub(crate) fn iteration_inputs(
        &self,
        id: FrameId,
        name: &str,
        m: &MapState,
        items: Vec<Value>,
        selector_input: &Value,
    ) -> Result<Vec<Value>, StatesError> {
        let selector = match &m.item_selector {
            None => return Ok(items),
            Some(s) if m.common.lang != QueryLanguage::JSONata => s,
            Some(_) => {
                return items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| self.iteration_input(id, name, m, i, item, selector_input))
                    .collect()
            }
        };
        let mut env = self.env(id, name, selector.uses_context(), true);
        let mut rng = self.rng();
        let mut out = Vec::with_capacity(items.len());
        if selector.all_paths(&Path::reads_map_item_directly) {
            // As `selected_input` does: the item read where it is, while no path fails.
            let mut all = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                match select_from_scope(&env, selector, selector_input, index, item, &mut rng) {
                    Some(v) => all.push(v),
                    None => break,
                }
            }
            if all.len() == items.len() {
                return Ok(all);
            }
            rng = self.rng();
        }
        for (index, item) in items.into_iter().enumerate() {
            if let Value::Object(ctx) = &mut env.context {
                ctx.insert("Map".into(), map_context(index, item));
            }
            out.push(selector.eval(&env.scope(selector_input), &mut rng)?);
        }
        Ok(out)
    }
}

/// Failures tolerated out of `n`: (count, whether any tolerance was set).
pub(crate) fn tolerance_from(
    count: Option<i64>,
    pct: Option<f64>,
    n: usize,
) -> Result<(f64, bool), StatesError> {
    let mut tolerated = 0.0;
    let mut set = false;
    if let Some(c) = count {
        if c < 0 {
            return Err(StatesError::runtime(
                "ToleratedFailureCount cannot be negative.",
            ));
        }
        tolerated = c as f64;
        set = true;
    }
    if let Some(p) = pct {
        if !(0.0..=100.0).contains(&p) {
            return Err(StatesError::runtime(
                "ToleratedFailurePercentage must be between 0 and 100.",
            ));
        }
        let by_pct = (p / 100.0) * n as f64;
        tolerated = if set { tolerated.min(by_pct) } else { by_pct };
        set = true;
    }
    Ok((tolerated, set))
}

/// A JSONPath ItemSelector's output with `$$.Map.Item` read from the scope (no `$$.Map` object
/// built); `None` when it fails, for [`select_from_context`] to fail it with the cause AWS gives
/// (which shows the context object).
fn select_from_scope(
    env: &Env,
    selector: &Template,
    selector_input: &Value,
    index: usize,
    item: &Value,
    rng: &mut LazyRng,
) -> Option<Value> {
    let index_value = Value::from(index);
    let scope = env.scope(selector_input).with_map_item(&index_value, item);
    selector.eval(&scope, rng).ok()
}

/// A JSONPath ItemSelector's output with the item in the context object's `$$.Map`, and the
/// item back out of it.
fn select_from_context(
    mut env: Env,
    selector: &Template,
    selector_input: &Value,
    index: usize,
    item: Value,
    seed: u64,
) -> Result<(Value, Value), StatesError> {
    let mut rng = LazyRng::from_seed(seed);
    let mut map_item = map_context(index, item);
    let Value::Object(ctx) = &mut env.context else {
        // No path reads `$$`: the selector cannot see the item.
        let input = selector.eval(&env.scope(selector_input), &mut rng)?;
        return Ok((input, take_map_item(&mut map_item)));
    };
    ctx.insert("Map".into(), map_item);
    let input = selector.eval(&env.scope(selector_input), &mut rng)?;
    let item = env
        .context
        .get_mut("Map")
        .map(take_map_item)
        .unwrap_or_default();
    Ok((input, item))
}

/// The items of a Map whose items stay in its input: the array at ItemsPath (or the input).
fn item_list<'v>(m: &MapState, input: &'v Value) -> Option<&'v [Value]> {
    let items = match &m.items_path {
        PathField::Path(p) if p.root() == crate::asl::path::Root::Input && p.is_reference() => {
            p.lookup(&crate::asl::path::Scope::new(input, &Value::Null))?
        }
        PathField::Default => input,
        _ => return None,
    };
    items.as_array().map(Vec::as_slice)
}

/// Item `index` of a Map whose items stay in its input.
fn item_at<'v>(m: &MapState, input: &'v Value, index: usize) -> &'v Value {
    static NULL: Value = Value::Null;
    item_list(m, input)
        .and_then(|items| items.get(index))
        .unwrap_or(&NULL)
}

/// The `$$.Map` object of iteration `index`: `{"Item": {"Index": index, "Value": item}}`.
fn map_context(index: usize, item: Value) -> Value {
    let mut entry = Map::with_capacity(2);
    entry.insert("Index".into(), Value::from(index));
    entry.insert("Value".into(), item);
    let mut map = Map::with_capacity(1);
    map.insert("Item".into(), Value::Object(entry));
    Value::Object(map)
}

/// The item out of a `$$.Map` object [`map_context`] built.
fn take_map_item(map: &mut Value) -> Value {
    map.get_mut("Item")
        .and_then(|i| i.get_mut("Value"))
        .map(std::mem::take)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;

    use serde_json::{json, Value};

    use crate::asl::model::StateMachine;
    use crate::engine::execution::{Execution, ExecutionInfo, Status};
    use crate::engine::history::HistoryEvent;
    use crate::engine::step::{step, Command, Event};

    const T0: i64 = 1_767_225_600_000;

    fn execution(definition: Value, input: Value) -> Execution {
        let info = ExecutionInfo {
            arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
            name: "e".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
            state_machine_name: "m".into(),
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            start_time: T0,
            origin: Default::default(),
        };
        let machine = StateMachine::from_value(&definition).expect("valid definition");
        Execution::new(Arc::new(machine), info, input, true)
    }

    /// Runs the frames `queue` names until none is left (the machines here have no tasks or
    /// timers), one millisecond apart; returns the history written.
    fn run(exec: &mut Execution, mut queue: VecDeque<Command>) -> Vec<HistoryEvent> {
        let mut history = Vec::new();
        let mut now = T0;
        while let Some(command) = queue.pop_front() {
            let Command::Run(frame) = command else {
                panic!("only frames to run here: {command:?}");
            };
            now += 1;
            let t = step(exec, Event::Run { frame, time: now });
            history.extend(t.events);
            queue.extend(t.commands);
        }
        history
    }

    /// A Map whose ItemSelector gives each iteration the whole input and a UUID.
    fn whole_input_map() -> Value {
        json!({
            "StartAt": "M",
            "States": {"M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"all.$": "$", "id.$": "States.UUID()", "i.$": "$$.Map.Item.Index"},
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                "End": true
            }}
        })
    }

    #[test]
    fn large_iteration_inputs_are_built_when_their_iteration_runs() {
        let items: Vec<Value> = (0..40)
            .map(|i| json!({"item": i, "pad": "x".repeat(40)}))
            .collect();
        let input = json!({"items": items});
        let mut exec = execution(whole_input_map(), input.clone());
        let t = step(&mut exec, Event::Start { time: T0 });
        let mut history = t.events;
        // Every iteration started; none holds its input yet.
        let waiting: Vec<_> = exec
            .frames
            .iter()
            .flatten()
            .filter(|f| f.map_index.is_some())
            .collect();
        assert_eq!(waiting.len(), 40);
        assert!(waiting
            .iter()
            .all(|f| f.input.is_null() && f.deferred_input.is_some()));
        // A worker taking over from the snapshot builds the same inputs as the first one.
        let snapshot = exec.snapshot();
        let json = serde_json::to_string(&snapshot).expect("snapshot serializes");
        let mut other = Execution::restore(
            Arc::clone(&exec.machine),
            exec.info.clone(),
            input.clone(),
            serde_json::from_str(&json).expect("snapshot deserializes"),
            true,
        );
        let pending = other.pending_work();
        history.extend(run(&mut exec, t.commands.into()));
        let other_history = run(&mut other, pending.into());
        assert_eq!(exec.status, Status::Succeeded);
        assert_eq!(other.output, exec.output);
        let Some(Value::Array(out)) = &exec.output else {
            panic!("{:?}", exec.output)
        };
        assert_eq!(out.len(), 40);
        for (i, o) in out.iter().enumerate() {
            assert_eq!(o["all"], input);
            assert_eq!(o["i"], i);
            assert_eq!(o["id"].as_str().map(str::len), Some(36), "{o}");
        }
        assert_ne!(
            out[0]["id"], out[1]["id"],
            "each iteration draws its own UUID"
        );
        let after_start = history.len() - other_history.len();
        assert_eq!(&history[after_start..], &other_history[..]);
    }

    #[test]
    fn map_results_over_the_payload_limit_fail_the_state_as_they_arrive() {
        // Each iteration's output is ~6 KB: the 256 KiB limit passes at the 44th result.
        let pad = "x".repeat(6_000);
        let items: Vec<Value> = (0..100).map(|_| json!({"pad": pad})).collect();
        let definition = json!({
            "StartAt": "M",
            "States": {"M": {
                "Type": "Map",
                "MaxConcurrency": 0,
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                "End": true
            }}
        });
        let mut exec = execution(definition, Value::Array(items));
        let t = step(&mut exec, Event::Start { time: T0 });
        let history = run(&mut exec, t.commands.into());
        assert_eq!(exec.status, Status::Failed);
        let err = exec.error.clone().expect("error");
        assert_eq!(err.error, "States.DataLimitExceeded");
        assert_eq!(
            err.cause.as_deref(),
            Some("The state/task 'M' returned a result with a size exceeding the maximum number of bytes service limit.")
        );
        let succeeded = history
            .iter()
            .filter(|e| e.event_type == "MapIterationSucceeded")
            .count();
        assert_eq!(succeeded, 44, "the results stop at the limit");
        assert!(history.iter().any(|e| e.event_type == "MapStateFailed"));
    }

    /// An ItemSelector reads `$$.Map.Item` without a `$$.Map` object built for it, and one
    /// whose path finds nothing fails with the context object it read, `Map` and all.
    #[test]
    fn item_selectors_read_the_item_and_a_missing_path_shows_the_map_context() {
        let machine = |selector: Value| {
            json!({"StartAt": "M", "States": {"M": {
                "Type": "Map", "ItemsPath": "$.items", "ItemSelector": selector,
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
                "End": true}}})
        };
        let input = json!({"id": "o-1", "items": [{"sku": "a", "n": [5]}, {"sku": "b", "n": [6]}]});
        let selector = json!({
            "sku.$": "$$.Map.Item.Value.sku", "n.$": "$$.Map.Item.Value.n[0]",
            "i.$": "$$.Map.Item.Index", "whole.$": "$$.Map.Item.Value",
            "label.$": "States.Format('{}-{}', $.id, $$.Map.Item.Value.sku)"
        });
        let mut exec = execution(machine(selector), input.clone());
        let t = step(&mut exec, Event::Start { time: T0 });
        run(&mut exec, t.commands.into());
        assert_eq!(exec.status, Status::Succeeded, "{:?}", exec.error);
        assert_eq!(
            exec.output,
            Some(json!([
                {"sku": "a", "n": 5, "i": 0, "whole": {"sku": "a", "n": [5]}, "label": "o-1-a"},
                {"sku": "b", "n": 6, "i": 1, "whole": {"sku": "b", "n": [6]}, "label": "o-1-b"}
            ]))
        );
        // `$$.Map.Item` whole is read from a context object that holds it.
        let mut exec = execution(machine(json!({"item.$": "$$.Map.Item"})), input.clone());
        let t = step(&mut exec, Event::Start { time: T0 });
        run(&mut exec, t.commands.into());
        assert_eq!(
            exec.output,
            Some(json!([
                {"item": {"Index": 0, "Value": {"sku": "a", "n": [5]}}},
                {"item": {"Index": 1, "Value": {"sku": "b", "n": [6]}}}
            ]))
        );
        let mut exec = execution(machine(json!({"x.$": "$$.Map.Item.Value.nope"})), input);
        let t = step(&mut exec, Event::Start { time: T0 });
        run(&mut exec, t.commands.into());
        assert_eq!(exec.status, Status::Failed);
        let cause = exec.error.and_then(|e| e.cause).unwrap_or_default();
        assert!(
            cause.contains(r#"could not be found in the input '{"Map":{"Item":{"Index":0,"Value":{"sku":"a","n":[5]}}}}'"#),
            "{cause}"
        );
    }
}

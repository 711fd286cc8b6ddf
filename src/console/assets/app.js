// The stepfn console: reads and acts through the Step Functions API served on this address
// (POST / with X-Amz-Target), as any client does. No network beyond this origin.
"use strict";

const $app = document.getElementById("app");
const $crumbs = document.getElementById("crumbs");
let timers = [];

// ---------- API ----------

async function api(operation, body) {
  const r = await fetch("/", {
    method: "POST",
    headers: {
      "X-Amz-Target": "AWSStepFunctions." + operation,
      "Content-Type": "application/x-amz-json-1.0",
    },
    body: JSON.stringify(body || {}),
  });
  const v = await r.json();
  if (!r.ok) {
    throw new Error((v.__type || "error").split("#").pop() + ": " + (v.message || r.status));
  }
  return v;
}

// The events of an execution after event `after`, in one answer (GetExecutionHistory's shape;
// the console's read of a long history, which the API pages 1,000 events a request).
async function historyAfter(executionArn, after) {
  const r = await fetch("/console/history", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ executionArn, after }),
  });
  const v = await r.json();
  if (!r.ok) throw new Error((v.__type || "error") + ": " + (v.message || r.status));
  return v.events;
}

async function all(operation, body, key, limit) {
  const out = [];
  let token = null;
  do {
    const v = await api(operation, Object.assign({}, body, token ? { nextToken: token } : {}));
    out.push(...(v[key] || []));
    token = v.nextToken;
  } while (token && (!limit || out.length < limit));
  return out;
}

// ---------- helpers ----------

function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// Replaces el's children, arrays flattened and null/false left out, as h does.
function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
}

function when(epoch) {
  if (epoch === undefined || epoch === null) return "";
  return new Date(epoch * 1000).toISOString().replace("T", " ").replace("Z", "");
}

function pretty(text) {
  if (text === undefined || text === null) return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    return String(text);
  }
}

function nameOf(arn) {
  return (arn || "").split(":").pop();
}

function machineLink(arn, name) {
  return h("a", { href: "/machine?arn=" + encodeURIComponent(arn) }, name || nameOf(arn));
}

function executionLink(arn, name) {
  return h("a", { href: "/execution?arn=" + encodeURIComponent(arn) }, name || nameOf(arn));
}

function statusWord(s) {
  return h("span", { class: "status st-" + s, "data-status": s }, s);
}

function crumbs(...parts) {
  fill($crumbs, ...parts.flatMap((p) => [" / ", p]));
}

function fail(e) {
  $app.prepend(h("p", { class: "error" }, String(e.message || e)));
}

// ---------- page: state machines ----------

async function machinesPage() {
  document.title = "State machines · stepfn";
  crumbs("State machines");
  const machines = await all("ListStateMachines", { maxResults: 1000 }, "stateMachines");
  const rows = await Promise.all(
    machines.map(async (m) => {
      const count = async (statusFilter) =>
        (await all("ListExecutions", { stateMachineArn: m.stateMachineArn, statusFilter, maxResults: 1000 }, "executions")).length;
      const [running, failed] = await Promise.all([count("RUNNING"), count("FAILED")]);
      return h("tr", {},
        h("td", {}, machineLink(m.stateMachineArn, m.name)),
        h("td", {}, m.type),
        h("td", {}, when(m.creationDate)),
        h("td", { class: "num running-count" }, running),
        h("td", { class: "num failed-count" }, failed));
    }));
  fill($app,
    h("h1", {}, "State machines"),
    machines.length
      ? h("table", { class: "list", id: "machines" },
        h("thead", {}, h("tr", {}, ["Name", "Type", "Created", "Running", "Failed"].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No state machines yet: create one with CreateStateMachine."));
}

// ---------- page: one state machine ----------

async function machinePage(arn) {
  const m = await api("DescribeStateMachine", { stateMachineArn: arn });
  document.title = m.name + " · stepfn";
  crumbs(h("a", { href: "/" }, "State machines"), m.name);
  let definition;
  try {
    definition = JSON.parse(m.definition);
  } catch (_) {
    definition = null;
  }
  const graph = h("div", { class: "graph-wrap" });
  if (definition) drawGraph(graph, definition, null);
  const input = h("textarea", { id: "start-input", rows: 4 }, "{}");
  const execName = h("input", { id: "start-name", placeholder: "name (optional)" });
  const startError = h("span", { class: "error" });
  const start = h("button", {
    id: "start",
    onclick: async () => {
      try {
        JSON.parse(input.value);
      } catch (e) {
        startError.textContent = "input is not JSON: " + e.message;
        return;
      }
      try {
        const body = { stateMachineArn: arn, input: input.value };
        if (execName.value.trim()) body.name = execName.value.trim();
        const r = await api("StartExecution", body);
        location.href = "/execution?arn=" + encodeURIComponent(r.executionArn);
      } catch (e) {
        startError.textContent = e.message;
      }
    },
  }, "Start execution");

  const list = h("div", { id: "executions" });
  const status = h("select", { id: "status-filter" },
    ["", "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"].map((s) => h("option", { value: s }, s || "any status")));
  const search = h("input", { id: "name-search", placeholder: "search by name" });
  const heat = h("div", { id: "heatmap" });
  const pageSize = 20;
  let executions = [];
  let page = 0;
  const render = () => {
    const q = search.value.trim().toLowerCase();
    const shown = q ? executions.filter((e) => e.name.toLowerCase().includes(q)) : executions;
    const pages = Math.max(1, Math.ceil(shown.length / pageSize));
    page = Math.min(page, pages - 1);
    const slice = shown.slice(page * pageSize, page * pageSize + pageSize);
    fill(list,
      h("table", { class: "list" },
        h("thead", {}, h("tr", {}, ["Name", "Status", "Started", "Stopped"].map((t) => h("th", {}, t)))),
        h("tbody", {}, slice.map((e) => h("tr", {},
          h("td", {}, executionLink(e.executionArn, e.name)),
          h("td", {}, statusWord(e.status)),
          h("td", {}, when(e.startDate)),
          h("td", {}, when(e.stopDate)))))),
      h("div", { class: "pager" },
        h("button", { id: "prev-page", disabled: page === 0, onclick: () => { page--; render(); } }, "‹ Prev"),
        ` page ${page + 1} of ${pages} (${shown.length} executions) `,
        h("button", { id: "next-page", disabled: page >= pages - 1, onclick: () => { page++; render(); } }, "Next ›")));
  };
  const load = async () => {
    const body = { stateMachineArn: arn, maxResults: 1000 };
    if (status.value) body.statusFilter = status.value;
    executions = await all("ListExecutions", body, "executions", 10000);
    page = 0;
    render();
  };
  status.addEventListener("change", () => load().catch(fail));
  search.addEventListener("input", () => { page = 0; render(); });

  fill($app,
    h("h1", {}, m.name),
    h("p", { class: "muted" }, m.type, " · created ", when(m.creationDate), " · ", h("code", {}, arn)),
    h("section", {}, h("h2", {}, "Graph"), graph),
    h("section", {}, h("h2", {}, "Start an execution"), h("div", { class: "form" }, execName, input, start, startError)),
    h("section", {}, h("h2", {}, "Executions"), h("div", { class: "filters" }, status, search), list),
    h("section", {}, h("h2", {}, "Failure heatmap"), heat),
    h("section", {}, h("h2", {}, "Definition"), h("pre", { class: "definition" }, pretty(m.definition))));
  await load();
  heatmap(heat, arn).catch((e) => fill(heat, h("p", { class: "error" }, e.message)));
}

// Failures per state over time: for recent failed executions, the state each failed in (the
// state its failure event belongs to), bucketed by the stop time.
async function heatmap(el, arn) {
  const failed = [];
  for (const statusFilter of ["FAILED", "TIMED_OUT"]) {
    failed.push(...await all("ListExecutions", { stateMachineArn: arn, statusFilter, maxResults: 100 }, "executions", 100));
  }
  const recent = failed.sort((a, b) => (b.stopDate || 0) - (a.stopDate || 0)).slice(0, 100);
  if (!recent.length) {
    fill(el, h("p", { class: "muted" }, "No failed executions."));
    return;
  }
  const points = [];
  await Promise.all(recent.map(async (e) => {
    const events = (await api("GetExecutionHistory", { executionArn: e.executionArn, reverseOrder: true, maxResults: 200 })).events || [];
    events.reverse();
    const owners = ownersOf(events);
    let state = null;
    for (const ev of events) {
      if (isFailure(ev.type) && owners.get(ev.id)) state = owners.get(ev.id);
    }
    points.push({ state: state || "(execution)", t: e.stopDate || e.startDate });
  }));
  const t0 = Math.min(...points.map((p) => p.t));
  const t1 = Math.max(...points.map((p) => p.t));
  const buckets = 12;
  const span = Math.max(t1 - t0, 1);
  const states = [...new Set(points.map((p) => p.state))].sort();
  const grid = new Map(states.map((s) => [s, new Array(buckets).fill(0)]));
  for (const p of points) {
    const b = Math.min(buckets - 1, Math.floor(((p.t - t0) / span) * buckets));
    grid.get(p.state)[b]++;
  }
  const max = Math.max(...[...grid.values()].flat());
  fill(el, h("table", { class: "heat" },
    h("thead", {}, h("tr", {}, h("th", {}, "State"),
      [...Array(buckets).keys()].map((b) => h("th", { title: when(t0 + (span * b) / buckets) }, b === 0 ? when(t0).slice(11, 19) : b === buckets - 1 ? when(t1).slice(11, 19) : "")))),
    h("tbody", {}, states.map((s) => h("tr", { "data-state": s }, h("th", {}, s),
      grid.get(s).map((n) => h("td", {
        class: "cell",
        title: n + " failures",
        style: "background: rgba(209, 50, 18, " + (n ? 0.15 + (0.85 * n) / max : 0) + ")",
      }, n || "")))))),
  h("p", { class: "muted" }, `${points.length} failed executions, ${when(t0)} to ${when(t1)}`));
}

// ---------- history analysis ----------

function isFailure(type) {
  return /(Failed|TimedOut)$/.test(type) && !type.startsWith("Execution") && !type.startsWith("MapIteration") && !type.startsWith("MapRun");
}

function detailsOf(ev) {
  for (const [k, v] of Object.entries(ev)) if (k.endsWith("EventDetails")) return v;
  return null;
}

// The state each event belongs to: a state's entry and exit name it; anything else belongs to
// the state of the event before it in its thread (previousEventId).
function ownersOf(events) {
  const owners = new Map();
  for (const ev of events) {
    let owner = null;
    if (ev.stateEnteredEventDetails) owner = ev.stateEnteredEventDetails.name;
    else if (ev.stateExitedEventDetails) owner = ev.stateExitedEventDetails.name;
    else if (ev.previousEventId) {
      const prev = owners.get(ev.previousEventId);
      owner = prev && !prev.exited ? prev.name : null;
    }
    owners.set(ev.id, owner && { name: owner, exited: !!ev.stateExitedEventDetails });
  }
  const names = new Map();
  for (const [id, o] of owners) names.set(id, o && o.name);
  return names;
}

// Per state: entries, exits, failures, retries, caught; and each activation (for the timeline
// and the state panel) with the Map iteration or Parallel branch it ran in.
function analyse(events, definition) {
  const byId = new Map();
  const states = new Map();
  const activations = [];
  const open = new Map(); // state|lane -> activations entered and not exited
  const { branchOf, mapDepth } = placesOf(definition);
  const st = (name) => {
    if (!states.has(name)) states.set(name, { name, entered: 0, exited: 0, failures: 0, retries: 0, caught: 0, open: 0, activations: [] });
    return states.get(name);
  };
  let ctx = null;
  const laneOf = (name) => ctx.iter.concat(branchOf.get(name) ? [branchOf.get(name)] : []).join(" › ");
  for (const ev of events) {
    const prev = ev.previousEventId ? byId.get(ev.previousEventId) : null;
    ctx = { act: prev ? prev.act : null, iter: prev ? prev.iter : [] };
    if (ev.mapIterationStartedEventDetails) {
      const d = ev.mapIterationStartedEventDetails;
      ctx.iter = ctx.iter.slice(0, mapDepth.get(d.name) || 0).concat([d.name + "[" + d.index + "]"]);
      ctx.act = null;
    }
    if (ev.stateEnteredEventDetails) {
      const d = ev.stateEnteredEventDetails;
      const s = st(d.name);
      s.entered++;
      s.open++;
      ctx.iter = ctx.iter.slice(0, mapDepth.get(d.name) || 0);
      const lane = laneOf(d.name);
      const a = { state: d.name, lane, start: ev.timestamp, end: null, input: d.input, output: null, failures: [], attempts: [], status: "running", enteredId: ev.id };
      s.activations.push(a);
      activations.push(a);
      const key = d.name + "|" + lane;
      if (!open.has(key)) open.set(key, []);
      open.get(key).push(a);
      ctx.act = a;
    } else if (ev.stateExitedEventDetails) {
      const d = ev.stateExitedEventDetails;
      const s = st(d.name);
      // A Parallel's or Map's exit follows its last branch or iteration, not its entry: the
      // activation it closes is the open one of that state in the same iteration.
      ctx.iter = ctx.iter.slice(0, mapDepth.get(d.name) || 0);
      const waiting = open.get(d.name + "|" + laneOf(d.name)) || [];
      let a = ctx.act && ctx.act.state === d.name ? ctx.act : null;
      if (a && waiting.includes(a)) waiting.splice(waiting.lastIndexOf(a), 1);
      else a = waiting.pop() || null;
      s.exited++;
      s.open = Math.max(0, s.open - 1);
      if (a) {
        a.end = ev.timestamp;
        a.output = d.output;
        const last = a.attempts[a.attempts.length - 1];
        if (last && last.end === null) last.end = ev.timestamp;
        if (a.lastWasFailure) {
          a.status = "caught";
          s.caught++;
        } else a.status = "succeeded";
      }
      ctx.act = null;
    } else if (ev.type === "ExecutionFailed" && ctx.act) {
      // The state the execution failed in (a Fail state, or a failure nothing caught).
      st(ctx.act.state).failures++;
      ctx.act.failures.push({ type: ev.type, error: (detailsOf(ev) || {}).error, cause: (detailsOf(ev) || {}).cause });
    } else if (ctx.act) {
      const a = ctx.act;
      const s = st(a.state);
      if (/(Scheduled|Started)$/.test(ev.type) && !ev.type.startsWith("Map") && !ev.type.startsWith("Parallel")) {
        const last = a.attempts[a.attempts.length - 1];
        if (ev.type.endsWith("Scheduled") || !last || last.end !== null) {
          if (a.lastWasFailure) s.retries++;
          if (!last || last.end !== null) a.attempts.push({ start: ev.timestamp, end: null });
        }
        a.lastWasFailure = false;
      } else if (isFailure(ev.type)) {
        const d = detailsOf(ev) || {};
        a.failures.push({ type: ev.type, error: d.error, cause: d.cause });
        s.failures++;
        a.lastWasFailure = true;
        const last = a.attempts[a.attempts.length - 1];
        if (last && last.end === null) last.end = ev.timestamp;
      } else if (/Succeeded$/.test(ev.type)) {
        const last = a.attempts[a.attempts.length - 1];
        if (last && last.end === null) last.end = ev.timestamp;
        a.lastWasFailure = false;
      }
    }
    byId.set(ev.id, ctx);
  }
  return { states, activations };
}

// The states of each Distributed Map's processor, by the Map state's name: their runs are child
// executions, so the parent's history holds none of their events, only the Map Run's.
function distributedProcessors(definition) {
  const out = new Map();
  const all = (states, into) => {
    for (const [name, s] of Object.entries(states || {})) {
      into.push(name);
      if (s.Type === "Parallel") (s.Branches || []).forEach((b) => all(b.States, into));
      if (s.Type === "Map") all((s.ItemProcessor || s.Iterator || {}).States, into);
    }
  };
  const walk = (states) => {
    for (const [name, s] of Object.entries(states || {})) {
      if (s.Type === "Parallel") (s.Branches || []).forEach((b) => walk(b.States));
      if (s.Type !== "Map") continue;
      const proc = s.ItemProcessor || s.Iterator || {};
      if ((proc.ProcessorConfig || {}).Mode === "DISTRIBUTED") {
        const names = [];
        all(proc.States, names);
        out.set(name, names);
      } else walk(proc.States);
    }
  };
  if (definition) walk(definition.States);
  return out;
}

// A Distributed Map processor's states as its Map Run counts them: every item entered them,
// those running or pending are open, the failed and timed-out ones failed.
function mapRunStats(name, run) {
  const c = run.itemCounts || {};
  const open = run.status === "RUNNING" ? (c.running || 0) + (c.pending || 0) : 0;
  const failures = (c.failed || 0) + (c.timedOut || 0);
  return { name, entered: c.total || 0, exited: (c.total || 0) - open, failures, retries: 0, caught: 0, open, activations: [], mapRun: run };
}

// Where each state sits: the innermost Parallel branch holding it ("Fan#1") and how many Map
// processors hold it.
function placesOf(definition) {
  const branchOf = new Map();
  const mapDepth = new Map();
  const walk = (states, label, depth) => {
    for (const [name, s] of Object.entries(states || {})) {
      if (label) branchOf.set(name, label);
      mapDepth.set(name, depth);
      if (s.Type === "Parallel") (s.Branches || []).forEach((b, i) => walk(b.States, name + "#" + (i + 1), depth));
      if (s.Type === "Map") walk((s.ItemProcessor || s.Iterator || {}).States, null, depth + 1);
    }
  };
  if (definition) walk(definition.States, null, 0);
  return { branchOf, mapDepth };
}

function stateStatus(s, execStatus) {
  if (!s || s.entered === 0) return "not-entered";
  if (s.open > 0) {
    if (execStatus === "RUNNING") return "in-progress";
    if (execStatus === "ABORTED") return "cancelled";
    return s.failures > s.caught ? "failed" : "cancelled";
  }
  if (s.failures > s.caught + s.retries) return "failed";
  if (s.caught > 0) return "caught";
  return "succeeded";
}

// ---------- the graph ----------

const BOX_W = 170, BOX_H = 34, GAP_X = 24, GAP_Y = 34, PAD = 14, HEAD = 26;

// Lays out a States map top-down: each state's row is its distance from StartAt along Next,
// Choice and Catch edges; a Parallel holds its branches side by side, a Map its processor.
function layout(machine) {
  const states = machine.States || {};
  const names = Object.keys(states);
  const rank = new Map();
  const queue = [];
  if (machine.StartAt in states) {
    rank.set(machine.StartAt, 0);
    queue.push(machine.StartAt);
  }
  const edges = [];
  const targets = (s) => {
    const t = [];
    if (s.Next) t.push(s.Next);
    for (const c of s.Choices || []) if (c.Next) t.push(c.Next);
    if (s.Default) t.push(s.Default);
    for (const c of s.Catch || []) if (c.Next) t.push(c.Next);
    return t;
  };
  for (const n of names) for (const t of targets(states[n])) if (t in states) edges.push([n, t]);
  while (queue.length) {
    const n = queue.shift();
    for (const t of targets(states[n])) {
      if (t in states && !rank.has(t)) {
        rank.set(t, rank.get(n) + 1);
        queue.push(t);
      }
    }
  }
  let maxRank = Math.max(-1, ...rank.values());
  for (const n of names) if (!rank.has(n)) rank.set(n, ++maxRank);
  const nodes = new Map();
  for (const n of names) {
    const s = states[n];
    const node = { name: n, type: s.Type, children: [], w: BOX_W, h: BOX_H };
    if (s.Type === "Parallel") {
      node.children = (s.Branches || []).map(layout);
    } else if (s.Type === "Map") {
      const p = s.ItemProcessor || s.Iterator;
      if (p) node.children = [layout(p)];
    }
    if (node.children.length) {
      node.w = Math.max(BOX_W, node.children.reduce((a, c) => a + c.w, 0) + GAP_X * (node.children.length - 1) + 2 * PAD);
      node.h = HEAD + PAD + Math.max(...node.children.map((c) => c.h)) + PAD;
    }
    nodes.set(n, node);
  }
  const rows = [];
  for (const n of names) (rows[rank.get(n)] = rows[rank.get(n)] || []).push(nodes.get(n));
  let y = 0, width = 0;
  const placed = [];
  for (const row of rows.filter(Boolean)) {
    const rowW = row.reduce((a, n) => a + n.w, 0) + GAP_X * (row.length - 1);
    const rowH = Math.max(...row.map((n) => n.h));
    row.forEach((n) => placed.push(n));
    row.rowW = rowW;
    row.y = y;
    width = Math.max(width, rowW);
    y += rowH + GAP_Y;
  }
  for (const row of rows.filter(Boolean)) {
    let x = (width - row.rowW) / 2;
    for (const n of row) {
      n.x = x;
      n.y = row.y;
      x += n.w + GAP_X;
    }
  }
  return { nodes, edges, w: width, h: Math.max(0, y - GAP_Y) };
}

// Draws the definition into `el`; the boxes are returned by state name for colouring.
function drawGraph(el, definition, onPick) {
  const root = layout(definition);
  const boxes = new Map();
  // Room above for the Start marker and below for the End marker, as the AWS console has.
  const TERM = 44, width = Math.max(root.w, 60) + 2 * PAD, height = root.h + 2 * PAD + 2 * TERM;
  const canvas = h("div", { class: "graph", id: "graph", style: `width:${width}px;height:${height}px` });
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.classList.add("edges");
  canvas.append(svg);
  const edge = (x1, y1, x2, y2) => {
    const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
    const back = y2 <= y1;
    line.setAttribute("d", back
      ? `M${x1},${y1} C${x1 + 60},${y1 + 30} ${x2 + 60},${y2 - 30} ${x2},${y2}`
      : `M${x1},${y1} C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2} ${x2},${y2}`);
    svg.append(line);
  };
  const place = (lay, ox, oy) => {
    for (const [from, to] of lay.edges) {
      const a = lay.nodes.get(from), b = lay.nodes.get(to);
      edge(ox + a.x + a.w / 2, oy + a.y + a.h, ox + b.x + b.w / 2, oy + b.y);
    }
    for (const n of lay.nodes.values()) {
      const box = h("div", {
        class: "state not-entered" + (n.children.length ? " container" : ""),
        "data-state": n.name,
        "data-type": n.type,
        style: `left:${ox + n.x}px;top:${oy + n.y}px;width:${n.w}px;height:${n.h}px`,
      }, h("div", { class: "label" }, h("span", { class: "name" }, n.name), h("span", { class: "count" }), h("span", { class: "type" }, n.type)));
      if (onPick) box.addEventListener("click", (e) => { e.stopPropagation(); onPick(n.name); });
      canvas.append(box);
      boxes.set(n.name, box);
      let cx = ox + n.x + PAD;
      const inner = n.children.reduce((a, c) => a + c.w, 0) + GAP_X * (n.children.length - 1);
      cx += (n.w - 2 * PAD - inner) / 2;
      for (const c of n.children) {
        place(c, cx, oy + n.y + HEAD + PAD);
        cx += c.w + GAP_X;
      }
    }
  };
  place(root, PAD, PAD + TERM);
  const states = definition.States || {};
  const start = root.nodes.get(definition.StartAt);
  const mid = PAD + root.w / 2;
  canvas.append(h("div", { class: "terminal", style: `left:${mid - 30}px;top:${PAD}px` }, "Start"));
  if (start) edge(mid, PAD + 24, PAD + start.x + start.w / 2, PAD + TERM + start.y);
  const endY = PAD + TERM + root.h + TERM - 24;
  canvas.append(h("div", { class: "terminal", style: `left:${mid - 30}px;top:${endY}px` }, "End"));
  for (const n of root.nodes.values()) {
    const s = states[n.name] || {};
    if (!(s.End || s.Type === "Succeed" || s.Type === "Fail")) continue;
    const x1 = PAD + n.x + n.w / 2, y1 = PAD + TERM + n.y + n.h;
    if (Math.abs(x1 - mid) < 30) {
      edge(x1, y1, x1, endY);
    } else {
      // Down beside the states below, then across into the End marker's side.
      const side = x1 < mid ? -1 : 1, y = endY + 12, r = 10;
      const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
      line.setAttribute("d", `M${x1},${y1} V${y - r} Q${x1},${y} ${x1 - side * r},${y} H${mid + side * 30}`);
      svg.append(line);
    }
  }
  fill(el, canvas);
  return boxes;
}

// ---------- page: one execution ----------

async function executionPage(arn) {
  timers.forEach(clearTimeout);
  timers = [];
  // The history is read from the start, beside the descriptions (it is the long one).
  let first = historyAfter(arn, 0);
  first.catch(() => {});
  const [e, m] = await Promise.all([
    api("DescribeExecution", { executionArn: arn }),
    api("DescribeStateMachineForExecution", { executionArn: arn }),
  ]);
  document.title = e.name + " · stepfn";
  const machineArn = e.stateMachineArn;
  crumbs(h("a", { href: "/" }, "State machines"), machineLink(machineArn, nameOf(machineArn)), e.name);
  let definition = null;
  try {
    definition = JSON.parse(m.definition);
  } catch (_) { /* shown as text below */ }

  const status = h("span", { id: "status" });
  const stop = h("button", {
    id: "stop",
    class: "danger",
    onclick: async () => {
      stop.disabled = true;
      try {
        await api("StopExecution", { executionArn: arn, error: "Console.Stopped", cause: "stopped from the console" });
        refresh();
      } catch (err) {
        fail(err);
        stop.disabled = false;
      }
    },
  }, "Stop execution");
  const summary = h("div", { class: "summary" });
  const panel = h("div", { id: "state-panel", class: "panel" }, h("p", { class: "muted" }, "Click a state to see its input, output, error, cause and retries."));
  const graphEl = h("div", { class: "graph-wrap" });
  const timelineEl = h("div", { id: "timeline" });
  const eventsEl = h("div", { id: "events" });
  let picked = null;
  let current = { states: new Map(), activations: [] };
  let events = [];
  let exec = e;
  const boxes = definition ? drawGraph(graphEl, definition, (name) => { picked = name; showState(); }) : new Map();

  const showState = () => {
    if (!picked) return;
    const s = current.states.get(picked);
    const acts = s ? s.activations : [];
    const shown = acts.slice(-20);
    fill(panel,
      h("h3", {}, picked, " ", h("span", { class: "chip " + stateStatus(s, exec.status) }, stateStatus(s, exec.status))),
      h("p", { class: "muted" }, `entered ${s ? s.entered : 0}× · retries ${s ? s.retries : 0} · failures ${s ? s.failures : 0}` + (acts.length > shown.length ? ` · the last ${shown.length} of ${acts.length} shown` : "")),
      s && s.mapRun ? h("p", { class: "map-run" }, "Runs in the child executions of Map Run ", h("code", {}, s.mapRun.mapRunArn), ` (${s.mapRun.status.toLowerCase()}: ` +
        Object.entries(s.mapRun.itemCounts || {}).filter(([k, v]) => v && k !== "resultsWritten").map(([k, v]) => `${k} ${v}`).join(", ") + ")") : null,
      shown.map((a) => h("div", { class: "activation" },
        a.lane ? h("p", { class: "muted" }, a.lane) : null,
        h("div", { class: "io" },
          h("div", {}, h("h4", {}, "Input"), h("pre", { class: "state-input" }, pretty(a.input))),
          h("div", {}, h("h4", {}, "Output"), h("pre", { class: "state-output" }, a.output === null ? "(none yet)" : pretty(a.output)))),
        a.failures.map((f, i) => h("p", { class: "failure" }, h("b", {}, f.type === "ExecutionFailed" ? "the execution failed here: " : `attempt ${i + 1}: ${f.type} `), "error ", h("code", { class: "state-error" }, f.error || ""), " cause ", h("code", { class: "state-cause" }, f.cause || ""))))));
  };

  // Events: filters and pages of 100.
  const typeFilter = h("select", { id: "event-type" }, h("option", { value: "" }, "any type"));
  const stateFilter = h("input", { id: "event-state", placeholder: "state name" });
  let eventsPage = 0;
  const drawEvents = () => {
    const owners = current.owners || new Map();
    const t = typeFilter.value, q = stateFilter.value.trim();
    const shown = events.filter((ev) => (!t || ev.type === t) && (!q || (owners.get(ev.id) || "") === q));
    const pages = Math.max(1, Math.ceil(shown.length / 100));
    eventsPage = Math.min(eventsPage, pages - 1);
    const t0 = events.length ? events[0].timestamp : 0;
    fill(eventsEl,
      h("table", { class: "list events" },
        h("thead", {}, h("tr", {}, ["ID", "Type", "Step", "Elapsed (ms)", "Timestamp", "Details"].map((x) => h("th", {}, x)))),
        h("tbody", {}, shown.slice(eventsPage * 100, eventsPage * 100 + 100).map((ev) => h("tr", { "data-type": ev.type },
          h("td", { class: "num" }, ev.id),
          h("td", {}, ev.type),
          h("td", {}, owners.get(ev.id) || ""),
          h("td", { class: "num" }, Math.round((ev.timestamp - t0) * 1000)),
          h("td", {}, when(ev.timestamp)),
          h("td", {}, h("code", { class: "details" }, JSON.stringify(detailsOf(ev) || {}).slice(0, 300))))))),
      h("div", { class: "pager" },
        h("button", { disabled: eventsPage === 0, onclick: () => { eventsPage--; drawEvents(); } }, "‹ Prev"),
        ` page ${eventsPage + 1} of ${pages} (${shown.length} of ${events.length} events) `,
        h("button", { disabled: eventsPage >= pages - 1, onclick: () => { eventsPage++; drawEvents(); } }, "Next ›")));
  };
  typeFilter.addEventListener("change", () => { eventsPage = 0; drawEvents(); });
  stateFilter.addEventListener("input", () => { eventsPage = 0; drawEvents(); });

  // Timeline: one row per activation lane (state, Map iteration, Parallel branch), only the
  // rows in view are drawn.
  const ROW = 22;
  const tlScroll = h("div", { class: "tl-scroll" });
  const tlInner = h("div", { class: "tl-inner" });
  tlScroll.append(tlInner);
  const tlAxis = h("div", { class: "tl-axis" });
  fill(timelineEl, tlAxis, tlScroll);
  const drawTimeline = () => {
    const acts = current.activations;
    const t0 = events.length ? events[0].timestamp : exec.startDate;
    const t1 = Math.max(exec.stopDate || Date.now() / 1000, ...acts.slice(-1000).map((a) => a.end || 0), t0 + 0.001);
    const span = t1 - t0;
    tlInner.style.height = acts.length * ROW + "px";
    fill(tlAxis, h("span", {}, "0 ms"), h("span", {}, `${acts.length} state runs`), h("span", {}, `${Math.round(span * 1000)} ms`));
    const first = Math.max(0, Math.floor(tlScroll.scrollTop / ROW) - 5);
    const last = Math.min(acts.length, first + Math.ceil((tlScroll.clientHeight || 400) / ROW) + 10);
    const rows = [];
    for (let i = first; i < last; i++) {
      const a = acts[i];
      const end = a.end || (exec.status === "RUNNING" ? Date.now() / 1000 : t1);
      const pct = (t) => ((t - t0) / span) * 100;
      const bars = [];
      if (a.attempts.length > 1) {
        a.attempts.forEach((at, k) => {
          const e2 = at.end || end;
          const w = Math.max(0.3, pct(e2) - pct(at.start));
          bars.push(h("div", { class: "bar attempt " + (k < a.attempts.length - 1 ? "failed" : a.status) + (w < 6 ? " narrow" : ""), style: `left:${pct(at.start)}%;width:${w}%`, title: `attempt ${k + 1}: ${Math.round((e2 - at.start) * 1000)} ms` }, `attempt ${k + 1}`));
        });
      } else {
        const w = Math.max(0.3, pct(end) - pct(a.start));
        bars.push(h("div", { class: "bar " + (a.end ? a.status : exec.status === "RUNNING" ? "in-progress" : exec.status === "ABORTED" ? "cancelled" : "failed") + (w < 6 ? " narrow" : ""), style: `left:${pct(a.start)}%;width:${w}%` }, `${Math.round((end - a.start) * 1000)} ms`));
      }
      rows.push(h("div", { class: "tl-row", "data-state": a.state, style: `top:${i * ROW}px` },
        h("div", { class: "tl-label", title: a.lane }, a.state, a.lane ? h("span", { class: "muted" }, " " + a.lane) : null),
        h("div", { class: "tl-track" }, bars)));
    }
    fill(tlInner, ...rows);
  };
  tlScroll.addEventListener("scroll", () => requestAnimationFrame(drawTimeline));

  const paint = () => {
    fill(status, statusWord(exec.status));
    stop.hidden = exec.status !== "RUNNING";
    fill(summary,
      h("dl", {},
        h("dt", {}, "Started"), h("dd", {}, when(exec.startDate)),
        h("dt", {}, "Stopped"), h("dd", {}, when(exec.stopDate)),
        exec.error ? [h("dt", {}, "Error"), h("dd", { id: "exec-error" }, exec.error)] : null,
        exec.cause ? [h("dt", {}, "Cause"), h("dd", {}, exec.cause)] : null),
      h("details", {}, h("summary", {}, "Input"), h("pre", {}, pretty(exec.input))),
      exec.output !== undefined ? h("details", {}, h("summary", {}, "Output"), h("pre", { id: "exec-output" }, pretty(exec.output))) : null);
    for (const [name, box] of boxes) {
      const s = current.states.get(name);
      const word = stateStatus(s, exec.status);
      box.className = box.className.replace(/\b(not-entered|in-progress|succeeded|failed|caught|cancelled)\b/, word);
      box.dataset.status = word;
      box.querySelector(".count").textContent = s && s.entered > 1 ? ` ×${s.entered}` : "";
      box.title = `${name}: ${word}` + (s ? ` (entered ${s.entered}, retries ${s.retries})` : "");
    }
    const types = [...new Set(events.map((ev) => ev.type))].sort();
    if (typeFilter.dataset.types !== types.join()) {
      typeFilter.dataset.types = types.join();
      const keep = typeFilter.value;
      fill(typeFilter, h("option", { value: "" }, "any type"), types.map((t) => h("option", { value: t }, t)));
      typeFilter.value = keep;
    }
    drawEvents();
    drawTimeline();
    showState();
  };

  // Each Distributed Map's last Map Run, asked again while it runs.
  const processors = distributedProcessors(definition);
  const mapRuns = new Map(); // Map state name -> DescribeMapRun's answer
  const countMapRuns = async () => {
    if (!processors.size) return;
    const latest = new Map();
    for (const ev of events) {
      const d = ev.mapRunStartedEventDetails;
      const owner = d && current.owners.get(ev.id);
      if (owner && processors.has(owner)) latest.set(owner, d.mapRunArn);
    }
    await Promise.all([...latest].map(async ([mapState, mapRunArn]) => {
      const known = mapRuns.get(mapState);
      if (known && known.mapRunArn === mapRunArn && known.status !== "RUNNING") return;
      mapRuns.set(mapState, await api("DescribeMapRun", { mapRunArn }));
    }));
    for (const [mapState, run] of mapRuns) {
      for (const name of processors.get(mapState) || []) current.states.set(name, mapRunStats(name, run));
    }
  };

  const refresh = async () => {
    const after = events.length ? events[events.length - 1].id : 0;
    let more;
    [exec, more] = await Promise.all([
      first ? e : api("DescribeExecution", { executionArn: arn }),
      first || historyAfter(arn, after),
    ]);
    first = null;
    for (const ev of more) events.push(ev);
    current = analyse(events, definition);
    current.owners = ownersOf(events);
    await countMapRuns();
    paint();
    if (exec.status === "RUNNING") timers.push(setTimeout(() => refresh().catch(fail), 700));
  };

  fill($app,
    h("h1", {}, e.name, " ", status, " ", stop),
    summary,
    h("section", { class: "split" },
      h("div", {}, h("h2", {}, "Graph"),
        h("div", { class: "legend" }, ["not-entered", "in-progress", "succeeded", "failed", "caught", "cancelled"].map((s) => h("span", { class: "chip " + s }, s.replace("-", " ")))),
        graphEl),
      panel),
    h("section", {}, h("h2", {}, "Timeline"), timelineEl),
    h("section", {}, h("h2", {}, "Events"), h("div", { class: "filters" }, typeFilter, stateFilter), eventsEl));
  await refresh();
}

// ---------- routing ----------

(async () => {
  const params = new URLSearchParams(location.search);
  try {
    if (location.pathname === "/machine" && params.get("arn")) await machinePage(params.get("arn"));
    else if (location.pathname === "/execution" && params.get("arn")) await executionPage(params.get("arn"));
    else await machinesPage();
    document.body.dataset.ready = "true";
  } catch (e) {
    fill($app, h("p", { class: "error" }, String(e.message || e)));
    document.body.dataset.ready = "error";
  }
})();

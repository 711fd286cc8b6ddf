// The Node side of benches/peer.sh: runs the peer (aws-local-stepfunctions) on the machines of
// benches/machines, reads stepfn's figures for the same machines from criterion's estimates,
// times the whole-process start-up of both CLIs, and prints the comparison.
//
// Run by benches/peer.sh with the pinned Node 22 it installs; see that script for the options.

import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';

function usage(msg) {
  console.error(`driver.mjs: ${msg}`);
  console.error(
    'usage: node driver.mjs --peer-dir DIR --machines DIR --criterion DIR --stepfn BIN --hello FILE ' +
      '[--samples N] [--startup-runs N] [--only NAME]',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { samples: 5, startupRuns: 30, only: null };
  for (let i = 0; i < argv.length; i += 1) {
    const key = argv[i];
    const value = argv[i + 1];
    if (value === undefined) usage(`${key} needs a value`);
    i += 1;
    switch (key) {
      case '--peer-dir': opts.peerDir = resolve(value); break;
      case '--machines': opts.machines = resolve(value); break;
      case '--criterion': opts.criterion = resolve(value); break;
      case '--stepfn': opts.stepfn = resolve(value); break;
      case '--hello': opts.hello = resolve(value); break;
      case '--samples': opts.samples = Number(value); break;
      case '--startup-runs': opts.startupRuns = Number(value); break;
      case '--only': opts.only = value; break;
      default: usage(`unknown option ${key}`);
    }
  }
  for (const k of ['peerDir', 'machines', 'criterion', 'stepfn', 'hello']) {
    if (!opts[k]) usage(`missing --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  }
  if (!(opts.samples >= 1) || !(opts.startupRuns >= 1)) usage('--samples and --startup-runs take a count >= 1');
  return opts;
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: ${e.message}`);
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Every state of a definition, nested ones (Parallel branches, Map processors) included. */
function* allStates(machine) {
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    yield [name, state];
    for (const branch of state.Branches ?? []) yield* allStates(branch);
    for (const key of ['ItemProcessor', 'Iterator']) {
      if (state[key]) yield* allStates(state[key]);
    }
  }
}

/**
 * The peer's Task overrides for one test case of an AWS Step Functions Local MockConfigFile:
 * each mocked state answers its responses in order ("0", "1-2", ...), the last one again once
 * they run out, counted per execution. A Lambda function ARN's result is the mocked Payload.
 */
function mockHandlers(definition, config, machineName, testCase) {
  const cases = config.StateMachines?.[machineName]?.TestCases;
  const mapping = cases?.[testCase];
  if (!mapping) throw new Error(`mock config: no test case ${testCase} for ${machineName}`);
  const resources = new Map([...allStates(definition)].map(([n, s]) => [n, s.Resource]));
  const counts = new Map();
  const handlers = {};
  for (const [state, responseName] of Object.entries(mapping)) {
    const responses = config.MockedResponses?.[responseName];
    if (!responses) throw new Error(`mock config: no MockedResponses.${responseName}`);
    const ranges = Object.entries(responses).map(([key, response]) => {
      const [from, to] = key.split('-').map(Number);
      return { from, to: to ?? from, response };
    });
    const wholeResponse = resources.get(state) === 'arn:aws:states:::lambda:invoke';
    handlers[state] = async () => {
      const n = counts.get(state) ?? 0;
      counts.set(state, n + 1);
      const { response } = ranges.find((r) => n >= r.from && n <= r.to) ?? ranges[ranges.length - 1];
      if (response.Throw) {
        const error = new Error(response.Throw.Cause ?? '');
        error.name = response.Throw.Error;
        throw error;
      }
      const value = response.Return;
      return !wholeResponse && value && typeof value === 'object' && 'Payload' in value ? value.Payload : value;
    };
  }
  return { handlers, reset: () => counts.clear() };
}

/** The peer's transitions/s on one bench: the median of `samples` timed samples. */
async function peerThroughput(StateMachine, dir, bench, samples) {
  const definition = readJson(join(dir, bench.definition));
  const input = readJson(join(dir, bench.input));
  const check = new Function('output', `return (${bench.check_js});`);
  const overrides = { retryIntervalOverrides: {}, waitTimeOverrides: {} };
  for (const [name, state] of allStates(definition)) {
    if (state.Retry) overrides.retryIntervalOverrides[name] = 0;
    if (state.Type === 'Wait') overrides.waitTimeOverrides[name] = 0;
  }
  let reset = () => {};
  if (bench.mocks) {
    const mocks = mockHandlers(definition, readJson(join(dir, bench.mocks)), bench.name, bench.mock_test_case);
    overrides.taskResourceLocalHandlers = mocks.handlers;
    reset = mocks.reset;
  }
  const machine = new StateMachine(definition);
  const runOnce = async () => {
    reset();
    return machine.run(structuredClone(input), { overrides }).result;
  };
  const first = await runOnce();
  if (!check(first)) {
    throw new Error(`peer: ${bench.name}: the output fails its check ${bench.check_js}: ${JSON.stringify(first).slice(0, 500)}`);
  }
  const perSample = bench.executions_per_sample;
  const times = [];
  // One untimed sample warms the JIT, then the timed ones.
  for (let s = 0; s <= samples; s += 1) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perSample; i += 1) await runOnce();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (s > 0) times.push(seconds);
  }
  return (bench.states_entered_per_execution * perSample) / median(times);
}

/** stepfn's transitions/s on one bench, from `cargo bench --bench engine`'s criterion estimates
 * (the median of its samples, each of `executions_per_sample` executions). */
function stepfnThroughput(criterion, bench) {
  const failed = join(criterion, 'transitions', bench.name, 'FAILED');
  if (existsSync(failed)) return { failed: readFileSync(failed, 'utf8').trim() };
  const path = join(criterion, 'transitions', bench.name, 'new', 'estimates.json');
  if (!existsSync(path)) {
    throw new Error(`stepfn: no criterion estimates for ${bench.name} at ${path} (did cargo bench --bench engine run it?)`);
  }
  const nsPerIteration = readJson(path).median.point_estimate;
  return { rate: (bench.states_entered_per_execution * bench.executions_per_sample) / (nsPerIteration / 1e9) };
}

/** Whole-process wall time of each command, run in turn (A B A B ...), after 3 warm-ups each. */
function startup(commands, runs) {
  const times = commands.map(() => []);
  const outputs = [];
  for (let r = -3; r < runs; r += 1) {
    commands.forEach((cmd, i) => {
      const start = process.hrtime.bigint();
      const out = spawnSync(cmd.argv[0], cmd.argv.slice(1), { encoding: 'utf8', input: cmd.stdin ?? '' });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (out.error || out.status !== 0) {
        throw new Error(`${cmd.name}: ${cmd.argv.join(' ')} failed (${out.error?.message ?? `exit ${out.status}`}): ${out.stderr}`);
      }
      if (r < 0) outputs[i] = out.stdout;
      else times[i].push(ms);
    });
  }
  return { medians: times.map(median), mins: times.map((t) => Math.min(...t)), outputs };
}

function fmt(n) {
  return Math.round(n).toLocaleString('en-US');
}

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r) => `| ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  const sep = `| ${widths.map((w, c) => (c === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const require = createRequire(join(opts.peerDir, 'package.json'));
  const peerRoot = join(opts.peerDir, 'node_modules', 'aws-local-stepfunctions');
  const peerPackage = readJson(join(peerRoot, 'package.json'));
  const { StateMachine } = require('aws-local-stepfunctions');
  const peerCli = join(peerRoot, peerPackage.bin['local-sfn']);

  const index = readJson(join(opts.machines, 'bench.json'));
  const rows = [['machine', `aws-local-stepfunctions ${peerPackage.version} transitions/s`, 'stepfn transitions/s', 'ratio']];
  const failures = [];
  for (const bench of index) {
    if (opts.only && !bench.name.includes(opts.only)) continue;
    const peer = await peerThroughput(StateMachine, opts.machines, bench, opts.samples);
    const ours = stepfnThroughput(opts.criterion, bench);
    if (ours.failed) {
      failures.push(`${bench.name}: ${ours.failed}`);
      rows.push([bench.name, fmt(peer), 'failed', '-']);
    } else {
      rows.push([bench.name, fmt(peer), fmt(ours.rate), `${(ours.rate / peer).toFixed(1)}x`]);
    }
    console.error(`  ${bench.name}: peer ${fmt(peer)}/s, stepfn ${ours.failed ? 'failed' : `${fmt(ours.rate)}/s`}`);
  }

  const input = '{"name": "Ada Lovelace"}';
  const commands = [
    // local-sfn reads its inputs from stdin whenever stdin is not a terminal.
    { name: 'local-sfn', argv: [process.execPath, peerCli, '-f', opts.hello], stdin: input },
    { name: 'stepfn', argv: [opts.stepfn, 'run', opts.hello, '--input', input] },
  ];
  const { medians, mins, outputs } = startup(commands, opts.startupRuns);
  // local-sfn prints the output as console.log shows an object; stepfn prints JSON.
  const [peerOut, ourOut] = outputs;
  if (peerOut.trim() !== inspect(JSON.parse(ourOut))) {
    throw new Error(`start-up: the two CLIs disagree on the output: local-sfn ${peerOut}, stepfn ${ourOut}`);
  }

  console.log(`\nThroughput in memory (waits and retry pauses 0; peer: median of ${opts.samples} samples, stepfn: criterion's median)\n`);
  console.log(table(rows));
  console.log(`\nWhole-process start-up, ${opts.hello.split('/').pop()} with input ${input} (median of ${opts.startupRuns} runs, exec to exit)\n`);
  console.log(table([
    ['command', 'median ms', 'min ms'],
    [`local-sfn (Node ${process.versions.node})`, medians[0].toFixed(1), mins[0].toFixed(1)],
    ['stepfn run', medians[1].toFixed(1), mins[1].toFixed(1)],
  ]));
  console.log(`\nstart-up ratio: local-sfn / stepfn = ${(medians[0] / medians[1]).toFixed(1)}x`);
  if (failures.length) {
    console.log(`\nstepfn's engine bench failed on ${failures.length} machine(s):`);
    for (const f of failures) console.log(`  ${f}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(`peer bench failed: ${e.stack ?? e}`);
  process.exit(1);
});

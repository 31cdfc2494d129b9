// Where the edge worker's time goes: a V8 CPU profile of workerd (through its inspector)
// while a bounded load runs one path, summarised as self time by function and by kind
// (the worker's wasm, its JS glue, the runtime's builtins, garbage collection, idle).
//
// WORKER_URL: the worker's base URL; INSPECTOR: host:port of workerd's inspector;
// TARGET: the path and query to load (default: the recipe); REQUESTS (default 5000),
// CONCURRENCY (default 16); TOP (default 30) rows; PROFILE_OUT: also write the raw
// .cpuprofile there (Chromium's DevTools opens it). The wasm has names only when built
// with them (`cargo xtask bench --only profile` does). Node 20 needs --experimental-websocket.

import { writeFileSync } from 'node:fs';
import { connect, load } from './inspector.mjs';

const base = process.env.WORKER_URL;
const target = process.env.TARGET ?? '/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training';
const REQUESTS = Number(process.env.REQUESTS ?? 5000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const TOP = Number(process.env.TOP ?? 30);

const inspector = await connect(process.env.INSPECTOR);
await load(base, [target], 200, 4); // warm: lazily built state exists, code is optimised
await inspector.call('Profiler.enable');
await inspector.call('Profiler.setSamplingInterval', { interval: Number(process.env.INTERVAL_US ?? 50) });
await inspector.call('Profiler.start');
const started = performance.now();
await load(base, [target], REQUESTS, CONCURRENCY);
const wallMs = performance.now() - started;
const { result } = await inspector.call('Profiler.stop', {}, 60000);
inspector.close();
const profile = result.profile;
if (process.env.PROFILE_OUT) writeFileSync(process.env.PROFILE_OUT, JSON.stringify(profile));

// Sample counts → time: each sample stands for the interval that follows it.
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i + 1] ?? 0;
  selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + dt);
}
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function kind(frame) {
  const { functionName: name, url } = frame;
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(program)' || name === '(root)') return 'runtime (outside JS and wasm)';
  if (url.startsWith('wasm://')) return 'worker wasm';
  if (url.endsWith('index.js')) return 'worker JS (entry module, wasm-bindgen glue)';
  return 'runtime builtins and other JS';
}
const label = (f) => `${f.functionName || '(anonymous)'}${f.url.startsWith('wasm://') ? '' : ` ${f.url.split('/').pop()}:${f.lineNumber + 1}`}`;

const byFunction = new Map();
const byKind = new Map();
const inclusive = new Map();
let total = 0;
for (const [id, us] of selfUs) {
  const frame = nodes.get(id).callFrame;
  total += us;
  byFunction.set(label(frame), (byFunction.get(label(frame)) ?? 0) + us);
  byKind.set(kind(frame), (byKind.get(kind(frame)) ?? 0) + us);
  // Inclusive time: every function on the sample's stack, once each.
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const name = label(nodes.get(at).callFrame);
    if (!seen.has(name)) { seen.add(name); inclusive.set(name, (inclusive.get(name) ?? 0) + us); }
  }
}
const busy = total - (byKind.get('idle') ?? 0);
const pct = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
const perRequest = (us) => `${(us / REQUESTS).toFixed(1).padStart(6)} µs/req`;
const rows = (map, n) => [...map].filter(([k]) => k !== 'idle' && k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, n);

console.log(`${REQUESTS} × GET ${target}, ${CONCURRENCY} at a time, ${wallMs.toFixed(0)} ms wall`);
console.log(`workerd busy ${(busy / 1000).toFixed(0)} ms = ${(busy / REQUESTS).toFixed(1)} µs per request (idle excluded; shares below are of busy time)\n`);
console.log('by kind:');
for (const [k, us] of rows(byKind, 10)) console.log(`  ${pct(us)} ${perRequest(us)}  ${k}`);
console.log(`\nself time, top ${TOP}:`);
for (const [k, us] of rows(byFunction, TOP)) console.log(`  ${pct(us)} ${perRequest(us)}  ${k}`);
console.log(`\ninclusive time, top ${TOP}:`);
for (const [k, us] of rows(inclusive, TOP + 3).filter(([k]) => k !== '(root)')) console.log(`  ${pct(us)} ${perRequest(us)}  ${k}`);

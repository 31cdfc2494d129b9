// Memory of the edge worker under a bounded load, read through workerd's inspector:
// the wasm linear memory (from the worker itself, `aicrLinearMemoryBytes()`), the V8 heap
// (`Runtime.getHeapUsage`) and, when WORKERD_PID is set, workerd's resident set.
//
// WORKER_URL: the worker's base URL; INSPECTOR: host:port of workerd's inspector;
// REQUESTS (default 20000) requests, CONCURRENCY (default 32) at a time, over the recipe,
// query and health paths. Prints one JSON object; exits 1 if the linear memory grows after
// the warm-up or passes LINEAR_MEMORY_BOUND bytes (default 4 MiB).
// Node 20 needs --experimental-websocket.

import { readFileSync } from 'node:fs';
import { connect, load as loadPaths } from './inspector.mjs';

const base = process.env.WORKER_URL;
const inspector = process.env.INSPECTOR;
const REQUESTS = Number(process.env.REQUESTS ?? 20000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const BOUND = Number(process.env.LINEAR_MEMORY_BOUND ?? 4 * 1024 * 1024);
const PATHS = [
  '/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training',
  '/v1/query?service=gke&os=cos&intent=inference&selector=components.gpu-operator.values',
  '/v1/recipe?service=kind&intent=inference&format=yaml',
  '/health',
];

const inspectorClient = await connect(inspector);
const { call } = inspectorClient;

async function snapshot() {
  const linear = await call('Runtime.evaluate', { expression: 'aicrLinearMemoryBytes()', returnByValue: true, contextId: inspectorClient.contextId() });
  const heap = await call('Runtime.getHeapUsage');
  let rss = null;
  if (process.env.WORKERD_PID) {
    const status = readFileSync(`/proc/${process.env.WORKERD_PID}/status`, 'utf8');
    rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024;
  }
  if (linear.result?.exceptionDetails || linear.result?.result?.value === undefined) {
    throw new Error(`aicrLinearMemoryBytes() unavailable: ${JSON.stringify(linear)}`);
  }
  return { linear: linear.result.result.value, heapUsed: heap.result.usedSize, heapTotal: heap.result.totalSize, rss };
}

const load = (count) => loadPaths(base, PATHS, count, CONCURRENCY);

await call('Runtime.enable');
const start = await snapshot(); // after the runner's first request only
await load(200); // every path once at least: lazily built state exists now
const warm = await snapshot();
await load(REQUESTS);
const after = await snapshot();
inspectorClient.close();
const report = { requests: REQUESTS, concurrency: CONCURRENCY, bound: BOUND, start, warm, after };
console.log(JSON.stringify(report));
if (after.linear > warm.linear || after.linear > BOUND) {
  console.error(`linear memory grew from ${warm.linear} to ${after.linear} B (bound ${BOUND} B)`);
  process.exit(1);
}

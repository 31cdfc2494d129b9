// A minimal client of workerd's inspector (V8's DevTools protocol over a WebSocket), shared
// by the memory test and the worker profiler. Node 20 needs --experimental-websocket.

/** Connects to the first target of the inspector at `hostPort`; returns `{ call, close,
 * contextId() }`: `call(method, params)` resolves with the reply (10 s timeout), and
 * `contextId()` is the worker's execution context once `Runtime.enable` announced it. */
export async function connect(hostPort) {
  const [target] = await (await fetch(`http://${hostPort}/json/list`)).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let nextId = 0;
  const waiting = new Map();
  let context;
  ws.onmessage = (m) => {
    const reply = JSON.parse(m.data);
    if (reply.method === 'Runtime.executionContextCreated') context ??= reply.params.context.id;
    waiting.get(reply.id)?.(reply);
    waiting.delete(reply.id);
  };
  const call = (method, params = {}, timeoutMs = 10000) => new Promise((resolve, reject) => {
    const id = ++nextId;
    const timer = setTimeout(() => reject(new Error(`inspector: no answer to ${method}`)), timeoutMs);
    waiting.set(id, (reply) => { clearTimeout(timer); resolve(reply); });
    ws.send(JSON.stringify({ id, method, params }));
  });
  return { call, close: () => ws.close(), contextId: () => context };
}

/** Sends `count` GET requests over `paths` (in turn) to `base`, `concurrency` at a time;
 * throws if any answer is not 2xx. */
export async function load(base, paths, count, concurrency) {
  let sent = 0;
  let failed = 0;
  async function client() {
    while (sent < count) {
      const path = paths[sent++ % paths.length];
      const r = await fetch(base + path);
      await r.arrayBuffer();
      if (!r.ok) failed++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client));
  if (failed) throw new Error(`${failed} requests failed`);
}

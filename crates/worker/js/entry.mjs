// The worker's entry module. wasm-bindgen's glue (`./index.js`, generated next to this file
// at build time) exposes the Rust half (`crates/worker/src/lib.rs`); this module moves each
// request into it and its answer out, with one call: the request's ExecutionContext (for
// cache stores that finish after the answer), method, path and query, the headers as one
// string, the body bytes (capped) or why they could not be read. The answer is the head
// string (the body then taken at once, before any other request can run), or, when the
// Rust half had to wait for the platform (a rate-limit count, a catalog read from KV, a
// cache lookup), a Promise of [head, body]: only then is there anything to await.
//
// Bodies are read up to the API's limit plus one byte (so the Rust half can answer 413
// without buffering more); a catalog upload (POST /admin/tenants/{tenant}/catalogs) up to
// the largest artifact plus one, and only when its headers carry an admin tenant's valid
// key (`admitsUpload`): nobody else can make the isolate buffer that much.
//
// A trap in the wasm (a panic under `panic = "abort"`) leaves the instance unusable. The
// worker crate records such a trap in a shared state object; the next request then gets a
// fresh instance (wasm-bindgen's reset function, enabled by the build) instead of failing
// forever.
import * as wasm from './index.js';

const trap = wasm.__worker_init_state();
// For the inspector only (local workerd's memory test): nothing a request can reach.
globalThis.aicrLinearMemoryBytes = wasm.linearMemoryBytes;
const LIMIT = wasm.bodyReadLimit();
const UPLOAD_LIMIT = wasm.uploadReadLimit();
const UPLOAD = /^\/admin\/tenants\/[^/?#]+\/catalogs(?:\?|$)/;
const NO_BODY = new Uint8Array(0);

function freshInstanceAfterTrap() {
  if (trap.criticalError) {
    wasm.__wbg_reset_state();
    trap.criticalError = false;
    trap.instanceId++;
  }
}

/** The body's first `limit` bytes at most, or the reason the stream failed. */
async function readBody(request, limit) {
  if (request.body === null) return { bytes: NO_BODY };
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch (e) {
    return { bytes: NO_BODY, error: String(e) };
  }
  if (size >= limit) reader.cancel().catch(() => {});
  if (chunks.length === 1) return { bytes: chunks[0] };
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.byteLength; }
  return { bytes };
}

function pathAndQuery(url) {
  // `request.url` is absolute: the path starts at the first '/' after "scheme://".
  const start = url.indexOf('/', url.indexOf('//') + 2);
  return start < 0 ? '/' : url.slice(start);
}

// A plain module export rather than a `WorkerEntrypoint` class: the runtime then makes no
// object per request, and a request without a body is answered synchronously (no promise,
// no microtask) whenever the Rust half answers at once.
export default {
  fetch(request, env, ctx) {
    freshInstanceAfterTrap();
    let headers = '';
    for (const [name, value] of request.headers) headers += `${name}\n${value}\n`;
    const target = pathAndQuery(request.url);
    if (request.body === null) return answer(env, ctx, request.method, target, headers, NO_BODY);
    return answerWithBody(request, env, ctx, target, headers);
  },
};

async function answerWithBody(request, env, ctx, target, headers) {
  const upload = request.method === 'POST' && UPLOAD.test(target)
    && wasm.admitsUpload(env, headers);
  const body = await readBody(request, upload ? UPLOAD_LIMIT : LIMIT);
  return answer(env, ctx, request.method, target, headers, body.bytes, body.error);
}

/** The Response, or a Promise of it when the Rust half had to wait for the platform. */
function answer(env, ctx, method, target, headers, bytes, bodyError) {
  let result;
  try {
    result = wasm.answer(env, ctx, method, target, headers, bytes, bodyError);
    if (typeof result === 'string') return respond(result, wasm.takeBody());
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) trap.criticalError = true;
    throw e;
  }
  return result.then(([head, body]) => respond(head, body));
}

/** The Response for a head `status\nname\nvalue\n…` and its body bytes. The headers go in
 * as a plain object: workerd converts a record much faster than a list of pairs (20–30 µs
 * a request less for our dozen headers, measured side by side). The head never repeats a
 * name (the Rust half joins repeated values), so no value is lost. */
function respond(head, bytes) {
  const lines = head.split('\n');
  const headers = {};
  for (let i = 1; i + 1 < lines.length; i += 2) headers[lines[i]] = lines[i + 1];
  // Null-body statuses (204, 304) and HEAD answers must not carry a body object at all.
  return new Response(bytes.length ? bytes : null, { status: Number(lines[0]), headers });
}

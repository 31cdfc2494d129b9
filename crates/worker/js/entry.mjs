// The worker's entry module. wasm-bindgen's glue (`./index.js`, generated next to this file
// at build time) exposes the Rust `fetch` handler; this class hands every request to it.
//
// A trap in the wasm (a panic under `panic = "abort"`) leaves the instance unusable. The
// worker crate records such a trap in a shared state object; the next request then gets a
// fresh instance (wasm-bindgen's reset function, enabled by the build) instead of failing
// forever.
import { WorkerEntrypoint } from 'cloudflare:workers';
import * as wasm from './index.js';

const trap = wasm.__worker_init_state();

function freshInstanceAfterTrap() {
  if (trap.criticalError) {
    wasm.__wbg_reset_state();
    trap.criticalError = false;
    trap.instanceId++;
  }
}

export default class AicrWorker extends WorkerEntrypoint {
  async fetch(request) {
    freshInstanceAfterTrap();
    try {
      return await wasm.fetch(request, this.env, this.ctx);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) trap.criticalError = true;
      throw e;
    }
  }
}

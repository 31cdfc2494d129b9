// Speed of the jco-transpiled component in Node, for `cargo xtask bench`: prints
// {"resolve_ns": median, "render_json_ns": median} for the bench's usual criteria.
import { pathToFileURL } from "node:url";

const { resolver } = await import(pathToFileURL(process.env.COMPONENT_JS).href);
const criteria = { service: "eks", accelerator: "h100", intent: "training", os: "ubuntu", platform: undefined, nodes: 0 };
const SAMPLES = 201;

function median(fn) {
  for (let i = 0; i < 20; i++) fn();
  const samples = [];
  for (let i = 0; i < SAMPLES; i++) {
    const start = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - start));
  }
  samples.sort((a, b) => a - b);
  return samples[SAMPLES >> 1];
}

console.log(JSON.stringify({
  resolve_ns: median(() => resolver.resolve(criteria, false)),
  render_json_ns: median(() => resolver.render(criteria, "json")),
}));

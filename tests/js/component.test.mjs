// The jco-transpiled component in Node: resolves like the native engine.
// Run by `cargo xtask test` with COMPONENT_JS (the package's aicr.js) and
// COMPONENT_EXPECTED (the native engine's documents, written by xtask).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const { resolver } = await import(pathToFileURL(process.env.COMPONENT_JS).href);
const expected = JSON.parse(readFileSync(process.env.COMPONENT_EXPECTED, "utf8"));

for (const { raw, json } of expected.cases) {
  const label = raw.map(([k, v]) => `${k}=${v}`).join(" ") || "(all any)";
  test(`render and resolve equal the native engine: ${label}`, () => {
    const criteria = resolver.parseCriteria(raw);
    assert.equal(resolver.render(criteria, "json"), json);
    const native = JSON.parse(json);
    const recipe = resolver.resolve(criteria, false);
    assert.deepEqual(recipe.appliedOverlays, native.metadata.appliedOverlays);
    assert.deepEqual(recipe.deploymentOrder, native.deploymentOrder);
    assert.deepEqual(
      recipe.components.map((c) => [c.name, c.kind, c.source, c.version]),
      native.componentRefs.map((c) => [c.name, c.type, c.source, c.version ?? ""]),
    );
    assert.deepEqual(
      recipe.constraints.map((c) => [c.constraint.name, c.constraint.value]),
      (native.constraints ?? []).map((c) => [c.name, c.value]),
    );
    for (const c of recipe.components) assert.equal(c.values, undefined);
  });
}

test("bad criteria throw the typed error with field, value and allowed values", () => {
  assert.throws(
    () => resolver.parseCriteria([["service", "lke"]]),
    (e) => {
      assert.equal(e.payload.tag, "invalid-criteria");
      assert.equal(e.payload.val.field, "service");
      assert.equal(e.payload.val.value, "lke");
      assert.deepEqual(e.payload.val.allowed, ["aks", "eks", "gke", "kind", "oke", "any"]);
      return true;
    },
  );
});

test("repeated criteria keep their first value and accelerator beats gpu, as in the HTTP API", () => {
  const parse = (raw) => resolver.parseCriteria(raw);
  assert.equal(parse([["service", "eks"], ["service", "gke"]]).service, "eks");
  assert.equal(parse([["gpu", "h100"], ["accelerator", "l40"]]).accelerator, "l40");
  assert.equal(parse([["accelerator", ""], ["gpu", "gb200"], ["gpu", "h100"]]).accelerator, "gb200");
  assert.equal(parse([["nodes", "8"], ["nodes", "not a number"]]).nodes, 8);
});

test("catalog description and allowed values come from the embedded catalog", () => {
  const info = resolver.catalog();
  assert.equal(info.digest, expected.catalog.digest);
  assert.equal(info.name, expected.catalog.name);
  const fields = resolver.allowedValues();
  assert.deepEqual(fields.map((f) => f.field), ["service", "accelerator", "intent", "os", "platform", "nodes"]);
  assert.ok(fields[0].allowed.includes("eks"));
});

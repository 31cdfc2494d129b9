// Browser bench of the recipe explorer (run by `cargo xtask bench` via xtask/src/web.rs).
// Prints one JSON line: {firstRecipe: [ms...], reresolve: [ms...]}.
//   firstRecipe: navigation start to the first rendered recipe (the page's
//     `aicr-rendered` performance mark), each run in a fresh browser profile.
//   reresolve: one criteria change, from the change event to the DOM rebuilt and laid out
//     (resolve in wasm + render run synchronously in the change handler).

import { launch, baseUrl, open } from './browser.mjs';

const RUNS = Number(process.env.EXPLORER_BENCH_RUNS ?? 7);
const CHANGES = ['h100', 'gb200', 'b200', 'a100', 'l40', 'any'];
const url = `${baseUrl()}?service=eks&accelerator=h100&os=ubuntu&intent=training`;
const firstRecipe = [];
const reresolve = [];

for (let run = 0; run < RUNS; run++) {
  const browser = await launch({ viewport: { width: 1280, height: 900 } });
  const page = await browser.context.newPage();
  await open(page, url);
  firstRecipe.push(await page.evaluate(() => performance.getEntriesByName('aicr-rendered')[0].startTime));
  const value = CHANGES[(run + 1) % CHANGES.length];
  reresolve.push(await page.evaluate((v) => {
    const select = document.getElementById('a-accelerator');
    const start = performance.now();
    select.value = v === 'any' ? '' : v;
    select.dispatchEvent(new Event('change', { bubbles: true }));
    void document.body.offsetHeight; // include style and layout of the new DOM
    return performance.now() - start;
  }, value));
  await browser.close();
}

console.log(JSON.stringify({ firstRecipe, reresolve }));

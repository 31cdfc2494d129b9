// Browser bench of the recipe explorer (run by `cargo xtask bench` via xtask/src/web.rs).
// Each run launches headless Chromium with a fresh profile (nothing cached: the wasm is
// fetched and compiled every time) and opens a share link for eks/h100/ubuntu/training.
//
// stdout: one JSON line of samples, one per run, in milliseconds:
//   firstRecipe: navigation start to the first frame that shows the recipe (the page's
//     `aicr-painted` mark: queued from the animation frame after the recipe's DOM is
//     built, so it runs once that frame's style, layout and paint are done).
//   wasmReady: navigation start to the engine instantiated (`aicr-engine`).
//   recipeBuilt: navigation start to the recipe's DOM built, before style and layout
//     (the first `aicr-rendered` mark).
//   reresolve: the run's median over six criteria changes, each from the change event to
//     the DOM rebuilt and laid out (resolve in wasm + render run synchronously in the
//     change handler; the bench then forces style and layout).
//   bundleZip: the run's median over five clicks on "Download bundle" (Helm, no options),
//     each from the click to the zip handed to the browser as a download: resolve, build
//     and zip in wasm, the Blob and its object URL, the download link's click, all run
//     synchronously in the click handler. (Writing the file is the browser's, after.)
// stderr: the medians over the runs, for people.
//
// The bench does not touch the page while it loads: the page reports `aicr-painted` to a
// binding installed before navigation, instead of being polled (polling runs the driver's
// scripts on the page's main thread, in the frame being measured).

import { launch, baseUrl } from './browser.mjs';

const RUNS = Math.max(7, Number(process.env.EXPLORER_BENCH_RUNS ?? 7));
const CHANGES = ['gb200', 'b200', 'a100', 'l40', '', 'h100']; // '' is `any`
const url = `${baseUrl()}?service=eks&accelerator=h100&os=ubuntu&intent=training`;
const samples = { firstRecipe: [], wasmReady: [], recipeBuilt: [], reresolve: [], bundleZip: [] };
const CLICKS = 5;

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

/** Opens the explorer and resolves once the page has marked `aicr-painted`. */
async function openUntouched(page) {
  let painted;
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no aicr-painted mark within 20 s at ${url}`)), 20000);
    painted = () => { clearTimeout(timer); resolve(); };
  });
  await page.exposeBinding('explorerBenchPainted', () => painted());
  await page.addInitScript(() => {
    new PerformanceObserver((list, observer) => {
      if (list.getEntriesByName('aicr-painted').length === 0) return;
      observer.disconnect();
      window.explorerBenchPainted();
    }).observe({ type: 'mark' });
  });
  await page.goto(url, { waitUntil: 'commit' });
  await done;
}

for (let run = 0; run < RUNS; run++) {
  const browser = await launch({ viewport: { width: 1280, height: 900 } });
  const page = await browser.context.newPage();
  await openUntouched(page);
  const mark = (name) => page.evaluate((n) => performance.getEntriesByName(n)[0].startTime, name);
  samples.firstRecipe.push(await mark('aicr-painted'));
  samples.wasmReady.push(await mark('aicr-engine'));
  samples.recipeBuilt.push(await mark('aicr-rendered'));
  const times = await page.evaluate((changes) => changes.map((value) => {
    const select = document.getElementById('a-accelerator');
    const start = performance.now();
    select.value = value;
    select.dispatchEvent(new Event('change', { bubbles: true }));
    void document.body.offsetHeight; // include style and layout of the new DOM
    return performance.now() - start;
  }), CHANGES);
  samples.reresolve.push(median(times));
  await page.waitForFunction(() => !document.getElementById('download-bundle').disabled);
  const downloads = [];
  page.on('download', (d) => downloads.push(d));
  const clicks = await page.evaluate((n) => Array.from({ length: n }, () => {
    const start = performance.now();
    document.getElementById('download-bundle').click();
    return performance.now() - start;
  }), CLICKS);
  await page.waitForTimeout(200); // the download events reach the driver after the clicks
  if (downloads.length !== CLICKS) throw new Error(`${CLICKS} clicks on Download bundle started ${downloads.length} downloads`);
  samples.bundleZip.push(median(clicks));
  await browser.close();
}

for (const [key, values] of Object.entries(samples)) {
  console.error(`${key.padEnd(12)} median ${median(values).toFixed(1)} ms over ${values.length} runs`
    + ` (min ${Math.min(...values).toFixed(1)}, max ${Math.max(...values).toFixed(1)})`);
}
console.log(JSON.stringify(samples));

// End-to-end tests of the recipe explorer in headless Chromium (run by `cargo xtask test`
// via xtask/src/web.rs; any host works: EXPLORER_URL names the page).
//
// EXPLORER_EXPECTED is a JSON file the native engine wrote: the criteria to pick, the
// recipes for them (the API's own JSON/YAML), and the catalog's identity. The page must
// agree with it; nothing here hard-codes component names or versions.
// EXPLORER_OUTPUT is the folder for screenshots.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { launch, baseUrl, open } from './browser.mjs';

const BASE = baseUrl();
const ORIGIN = new URL(BASE).origin;
const expected = JSON.parse(readFileSync(process.env.EXPLORER_EXPECTED, 'utf8'));
// The recipe documents exactly as the edge API sends them (key order kept).
for (const side of [expected.a, expected.b]) side.recipe = JSON.parse(side.json);
const OUTPUT = process.env.EXPLORER_OUTPUT ?? 'target/test-output';
mkdirSync(OUTPUT, { recursive: true });

let browser;
const requests = []; // every request any page made: {url, page}
const problems = []; // console errors and uncaught exceptions

before(async () => {
  browser = await launch({ viewport: { width: 1280, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] });
});
after(async () => {
  await browser?.close();
});

async function newPage() {
  const page = await browser.context.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return page;
}

const queryOf = (criteria, prefix = '') => new URLSearchParams(Object.entries(criteria).map(([k, v]) => [prefix + k, v])).toString();

/** Picks criteria in the form the way a user does: by the fields' labels. */
async function pick(page, criteria, set = 'a') {
  const form = page.locator(`#form-${set}`);
  for (const [field, value] of Object.entries(criteria)) {
    if (field === 'nodes') await form.getByLabel(field, { exact: true }).fill(value);
    else await form.getByLabel(field, { exact: true }).selectOption(value);
  }
}

async function shownComponents(page) {
  return page.$$eval('#components tbody tr', (rows) => rows.map((r) => ({
    name: r.dataset.name,
    version: r.querySelector('.c-version').firstChild.textContent,
  })));
}

/** A curl command for this origin's /v1/recipe with exactly these criteria. */
function assertCurl(command, criteria) {
  const m = /^curl '([^']+)'$/.exec(command);
  assert.ok(m, `not a curl command: ${command}`);
  const url = new URL(m[1]);
  assert.equal(url.origin, ORIGIN);
  assert.equal(url.pathname, '/v1/recipe');
  assert.deepEqual(Object.fromEntries(url.searchParams), criteria);
}

function engineComponents(recipe) {
  const refs = new Map(recipe.componentRefs.map((c) => [c.name, c]));
  return recipe.deploymentOrder.map((name) => ({ name, version: refs.get(name).version || refs.get(name).tag || '—' }));
}

test('the picked criteria show the native engine\'s recipe (components, versions, order, provenance)', async () => {
  const page = await newPage();
  await open(page, BASE);
  await pick(page, expected.a.criteria);
  assert.deepEqual(await shownComponents(page), engineComponents(expected.a.recipe));
  const chain = await page.$$eval('#chain > li', (items) => items.map((li) => li.dataset.overlay));
  assert.deepEqual(chain, expected.a.recipe.metadata.appliedOverlays);
  const constraints = await page.$$eval('#constraints tbody th', (cells) => cells.map((c) => c.textContent));
  assert.deepEqual(constraints, (expected.a.recipe.constraints ?? []).map((c) => c.name));
  const phases = await page.$$eval('#validation .phase', (ps) => ps.map((p) => p.dataset.phase));
  assert.deepEqual(phases, Object.keys(expected.a.recipe.validation ?? {}));
  assert.equal(await page.textContent('#catalog-digest'), expected.catalog.digest);
  assert.equal(await page.textContent('#catalog-name'), expected.catalog.name);
  assertCurl(await page.textContent('#curl-command'), expected.a.criteria);

  // A values key gives its /v1/query selector and the engine's value there.
  const first = expected.a.recipe.deploymentOrder[0];
  await page.click(`#values details[data-name="${first}"] > summary`);
  const key = page.locator(`#values details[data-name="${first}"] .key`).first();
  const path = await key.getAttribute('data-path');
  await key.click();
  assert.equal(await page.textContent('#selector-path'), path);
  assert.match(path, new RegExp(`^components\\.${first}\\.values\\.`));
  assert.match(await page.textContent('#selector-curl'), /\/v1\/query\?.*selector=components/);

  await page.click('#copy-curl');
  assertCurl(await page.evaluate(() => navigator.clipboard.readText()), expected.a.criteria);

  await page.screenshot({ path: join(OUTPUT, 'explorer.png'), fullPage: true });
  await page.close();
});

test('a share link restores the view, compare set included', async () => {
  const page = await newPage();
  await open(page, BASE);
  await pick(page, expected.a.criteria);
  await page.click('#tab-compare');
  await pick(page, expected.b.criteria, 'b');
  const link = page.url();
  for (const [k, v] of Object.entries(expected.a.criteria)) assert.equal(new URL(link).searchParams.get(k), v);
  const restored = await newPage();
  await open(restored, link);
  for (const [k, v] of Object.entries(expected.a.criteria)) assert.equal(await restored.inputValue(`#a-${k}`), v);
  for (const [k, v] of Object.entries(expected.b.criteria)) assert.equal(await restored.inputValue(`#b-${k}`), v);
  assert.equal(await restored.getAttribute('#tab-compare', 'aria-selected'), 'true');
  await restored.click('#tab-recipe');
  assert.deepEqual(await shownComponents(restored), engineComponents(expected.a.recipe));
  assert.equal(await restored.isHidden('#banner'), true);
  await page.close();
  await restored.close();
});

test('a share link shows its recipe as soon as the page loads', async () => {
  const page = await newPage();
  await open(page, `${BASE}?${queryOf(expected.a.criteria)}`);
  assert.deepEqual(await shownComponents(page), engineComponents(expected.a.recipe));
  assert.equal(await page.isHidden('#banner'), true);
  await page.close();
});

test('positions in the components table stay on one line at 1280 px', async () => {
  const page = await newPage();
  await open(page, `${BASE}?${queryOf(expected.a.criteria)}`);
  const cells = await page.$$eval('#components .c-index', (tds) => tds.map((td) => {
    const range = document.createRange();
    range.selectNodeContents(td);
    return { text: td.textContent, lines: range.getClientRects().length };
  }));
  assert.ok(cells.some((c) => c.text.length > 1), 'the recipe has ten or more components');
  for (const c of cells) assert.equal(c.lines, 1, `position ${c.text} is broken over ${c.lines} lines`);
  await page.close();
});

test('while the engine loads, the page says so instead of showing an empty form', async () => {
  const page = await newPage();
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route(`${BASE}pkg/aicr_web_bg.wasm`, async (route) => { await held; await route.continue(); });
  await page.goto(BASE);
  await page.locator('.loading').waitFor();
  assert.equal(await page.isHidden('main'), true);
  release();
  await page.waitForSelector('body[data-ready="1"]');
  assert.equal(await page.isHidden('.loading'), true);
  assert.equal(await page.isVisible('#a-service'), true);
  await page.close();
});

// Pages of this test fail on purpose, so their console errors are not collected.
test('an engine that cannot load is reported on the page, not an empty form', async () => {
  for (const missing of ['pkg/aicr_web.js', 'pkg/aicr_web_bg.wasm']) {
    const page = await browser.context.newPage();
    await page.route(`${BASE}${missing}`, (route) => route.fulfill({ status: 404, body: 'not found' }));
    await page.goto(BASE);
    await page.waitForSelector('body[data-ready="failed"]', { timeout: 20000 });
    const text = await page.textContent('#banner');
    assert.equal(await page.isVisible('#banner'), true, `${missing}: banner shown`);
    assert.match(text, /recipe engine/, `${missing}: ${text}`);
    await page.close();
  }
});

test('downloads are the edge API\'s JSON and YAML, byte for byte', async () => {
  const page = await newPage();
  await open(page, `${BASE}?${queryOf(expected.a.criteria)}`);
  for (const [button, text] of [['#download-json', expected.a.json], ['#download-yaml', expected.a.yaml]]) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
    const path = await download.path();
    assert.equal(readFileSync(path, 'utf8'), text, `${button} content`);
    assert.match(download.suggestedFilename(), /^recipe-.*\.(json|yaml)$/);
  }
  await page.close();
});

/**
 * Fills the bundle form the way a user does: the deployer's radio by its label, each option
 * field by its id (repeated options as one entry per line), then clicks Download bundle.
 * Returns the download, or null when none started within `wait` ms.
 */
async function downloadBundle(page, options, wait = 10000) {
  await page.click('#bundle-options > summary');
  const deployer = options.find(([k]) => k === 'deployer')?.[1] ?? 'helm';
  await page.locator('#bundle-form .deployer').getByLabel(deployer === 'argocd' ? 'Argo CD' : 'Helm', { exact: true }).check();
  const fields = new Map();
  for (const [name, value] of options) if (name !== 'deployer') fields.set(name, [...(fields.get(name) ?? []), value]);
  for (const [name, values] of fields) await page.fill(`#bundle-${name}`, values.join('\n'));
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: wait }).catch(() => null),
    page.click('#download-bundle'),
  ]);
  return download;
}

/** judge.py's verdict on a zip for one recorded upstream case (../shared/bundle-conformance). */
function judge(zip, name) {
  const cases = process.env.EXPLORER_BUNDLE_CASES;
  try {
    return execFileSync('python3', [join(cases, 'judge.py'), '--case', join(cases, name), '--zip', zip], { encoding: 'utf8' }).trim();
  } catch (e) {
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || String(e);
  }
}

for (const bundle of expected.bundles) {
  const judged = bundle.case && process.env.EXPLORER_BUNDLE_CASES ? ` and is judged the same as upstream's ${bundle.case}` : '';
  test(`bundle ${bundle.name}: the page's download is the API's zip, byte for byte${judged}`, async () => {
    const page = await newPage();
    await open(page, `${BASE}?${queryOf(expected.a.criteria)}`);
    const before = requests.length;
    const download = await downloadBundle(page, bundle.options);
    assert.ok(download, 'a download started');
    assert.equal(download.suggestedFilename(), 'bundles.zip');
    const path = await download.path();
    assert.ok(readFileSync(path).equals(readFileSync(bundle.zip)), `${bundle.name}: the page's zip differs from the API's (${bundle.zip})`);
    assert.deepEqual(requests.slice(before), [], 'no request made for the bundle');
    assert.match(await page.textContent('#bundle-status'), /^Saved bundles\.zip: \d+ files/);
    if (judged) assert.equal(judge(path, bundle.case), 'same as upstream');
    await page.close();
  });
}

test('a bad bundle option shows its precise error next to its field and downloads nothing', async () => {
  const page = await newPage();
  await open(page, `${BASE}?${queryOf(expected.a.criteria)}`);
  const download = await downloadBundle(page, [['nodes', '-1']], 1500);
  assert.equal(download, null, 'no download');
  assert.match(await page.textContent('#bundle-nodes-error'), /"-1" is not a node count; use a whole number from 0 \(unset\) to \d+/);
  assert.equal(await page.isVisible('#bundle-nodes-error'), true);
  assert.equal(await page.getAttribute('#bundle-nodes', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'bundle-nodes');
  assert.match(await page.textContent('#bundle-error'), /Nodes option is not valid/);
  // A bad entry among several is named with its value; fixing the field clears its error.
  await page.fill('#bundle-nodes', '');
  assert.equal(await page.isVisible('#bundle-nodes-error'), false);
  await page.fill('#bundle-system-node-toleration', 'dedicated=system:NoSchedule, dedicated=system:Sometimes');
  await page.click('#download-bundle');
  assert.match(await page.textContent('#bundle-system-node-toleration-error'), /^dedicated=system:Sometimes: unknown effect "Sometimes"; use one of NoSchedule, PreferNoSchedule, NoExecute$/);
  await page.screenshot({ path: join(OUTPUT, 'explorer-bundle-error.png') });
  await page.close();
});

test('compare shows components added and removed and versions side by side', async () => {
  const page = await newPage();
  await open(page, `${BASE}?${queryOf(expected.a.criteria)}&view=compare&${queryOf(expected.b.criteria, 'b.')}`);
  const names = (r) => r.componentRefs.map((c) => c.name);
  const [a, b] = [names(expected.a.recipe), names(expected.b.recipe)];
  const list = (id) => page.$$eval(`#${id} li`, (items) => items.map((i) => i.textContent));
  assert.deepEqual((await list('compare-added')).sort(), b.filter((n) => !a.includes(n)).sort());
  assert.deepEqual((await list('compare-removed')).sort(), a.filter((n) => !b.includes(n)).sort());
  const versionB = new Map(expected.b.recipe.componentRefs.map((c) => [c.name, c.version || c.tag || '—']));
  const rows = await page.$$eval('#compare-table tbody tr', (trs) => trs.map((tr) => ({
    name: tr.dataset.name, status: tr.dataset.status, b: tr.querySelector('td.b').textContent,
  })));
  assert.equal(rows.length, new Set([...a, ...b]).size);
  for (const row of rows) assert.equal(row.b, versionB.get(row.name) ?? '—', row.name);
  assert.deepEqual(await list('overlays-b'), expected.b.recipe.metadata.appliedOverlays);
  await page.close();
});

test('the compare tab, opened after load, shows the comparison', async () => {
  const page = await newPage();
  await open(page, `${BASE}?${queryOf(expected.a.criteria)}`);
  await page.click('#tab-compare');
  await pick(page, expected.b.criteria, 'b');
  await page.waitForFunction((overlays) => [...document.querySelectorAll('#overlays-b li')].map((li) => li.textContent).join() === overlays.join(),
    expected.b.recipe.metadata.appliedOverlays);
  const names = (r) => r.componentRefs.map((c) => c.name);
  assert.equal(await page.locator('#compare-table tbody tr').count(), new Set([...names(expected.a.recipe), ...names(expected.b.recipe)]).size);
  assert.equal(await page.isHidden('#compare-error'), true);
  await page.close();
});

test('an opened values tree and its selected key survive a change of criteria', async () => {
  const page = await newPage();
  await open(page, `${BASE}?${queryOf(expected.a.criteria)}`);
  const names = (r) => r.componentRefs.map((c) => c.name);
  const shared = names(expected.a.recipe).find((n) => names(expected.b.recipe).includes(n));
  const details = `#values details[data-name="${shared}"]`;
  await page.click(`${details} > summary`);
  const key = page.locator(`${details} .key`).first();
  const path = await key.getAttribute('data-path');
  await key.click();
  assert.equal(await key.getAttribute('aria-current'), 'true');
  await pick(page, expected.b.criteria);
  await page.locator(`${details} .tree`).first().waitFor();
  for (const p of await page.locator(`${details} .key`).evaluateAll((keys) => keys.map((k) => k.dataset.path))) {
    assert.ok(p.startsWith(`components.${shared}.values.`), p);
  }
  await pick(page, expected.a.criteria);
  const again = page.locator(`${details} .key[data-path="${path}"]`);
  await again.waitFor();
  assert.equal(await again.getAttribute('aria-current'), 'true');
  assert.equal(await page.textContent('#selector-path'), path);
  await page.close();
});

test('bad input gets a clear message next to its field, never a crash', async () => {
  const page = await newPage();
  await open(page, `${BASE}?service=eks&accelerator=h999&colour=blue`);
  const banner = await page.textContent('#banner');
  assert.match(banner, /accelerator=\u201ch999\u201d is not valid/);
  assert.match(banner, /unknown parameter \u201ccolour\u201d/);
  assert.match(await page.textContent('#a-accelerator-error'), /h999.*allowed values are/);
  assert.equal(await page.getAttribute('#a-accelerator', 'aria-invalid'), 'true');
  assert.equal(await page.isVisible('#recipe-error'), true);
  await page.locator('#form-a').getByLabel('accelerator', { exact: true }).selectOption('h100');
  assert.equal(await page.isVisible('#a-accelerator-error'), false);
  await page.locator('#form-a').getByLabel('nodes', { exact: true }).fill('12abc');
  assert.match(await page.textContent('#a-nodes-error'), /invalid nodes "12abc"/);
  await page.close();
});

test('no request leaves the origin; none at all after load, even offline', async () => {
  const page = await newPage();
  await open(page, BASE);
  await page.waitForLoadState('networkidle');
  const before = requests.length;
  await browser.context.setOffline(true);
  await pick(page, expected.a.criteria);
  await page.click('#tab-compare');
  await pick(page, expected.b.criteria, 'b');
  await page.click('#tab-recipe');
  await page.click('#values details > summary');
  assert.deepEqual(await shownComponents(page), engineComponents(expected.a.recipe));
  await browser.context.setOffline(false);
  assert.deepEqual(requests.slice(before), [], 'requests after load');
  const foreign = requests.filter((u) => new URL(u).origin !== ORIGIN);
  assert.deepEqual(foreign, [], 'requests to other origins');
  await page.close();
});

test('readable at phone width: no sideways scrolling', async () => {
  const page = await newPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await open(page, `${BASE}?${queryOf(expected.a.criteria)}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone screen`);
  await page.screenshot({ path: join(OUTPUT, 'explorer-phone.png'), fullPage: true });
  await page.close();
});

test('no console errors or uncaught exceptions on any page', () => {
  assert.deepEqual(problems, []);
});

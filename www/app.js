// The recipe explorer: criteria form -> the recipe engine (wasm, aicr-web) -> the page.
// Every change re-resolves in the page; the URL's query string holds the criteria so a
// link restores the view. The page makes no request after load: downloads are built
// from Blobs and the curl commands are only text.

import { initSync, catalogInfo, criteriaFields, resolve, render, query, diff } from './pkg/aicr_web.js';
import { h, fill, download, copy } from './dom.js';

/**
 * The values tree and the compare view are not needed for the first recipe, so they are not
 * static imports (nor preloaded by index.html): the page's first requests are only what the
 * first recipe needs (an HTTP/1 server gives a page six connections, and the engine's wasm
 * must not wait for one). They load while the engine compiles; a failed load is reported
 * where the module is used.
 */
function later(url) {
  const module = import(url);
  module.catch(() => {});
  return module;
}
const treeModule = later('./tree.js');
const compareModule = later('./compare.js');
const bundleModule = later('./bundle.js');

const $ = (id) => document.getElementById(id);
const SETS = ['a', 'b'];

/** Raw criteria per set (field -> text, `any` = absent), which view, what came from the URL. */
const state = { a: {}, b: {}, view: 'recipe', fromUrl: { a: {}, b: {} }, urlProblems: [], opened: new Set(), selected: null };
let FIELDS = [];
let current = null; // the last good RecipeView of set A
let bundleReady = false; // bundle.js has wired the "Download bundle" form

// ---------- URL ----------

function readUrl() {
  const names = FIELDS.map((f) => f.field);
  const params = new URLSearchParams(location.search);
  for (const [key, value] of params) {
    const set = key.startsWith('b.') ? 'b' : 'a';
    const field = set === 'b' ? key.slice(2) : key;
    if (names.includes(field)) {
      state[set][field] = value;
      state.fromUrl[set][field] = value;
    } else if (key === 'view') {
      if (value === 'recipe' || value === 'compare') state.view = value;
      else state.urlProblems.push(`The link's parameter view=\u201c${value}\u201d is not valid: use view=recipe or view=compare.`);
    } else {
      state.urlProblems.push(`The link has an unknown parameter \u201c${key}\u201d (ignored). Known parameters: ${names.join(', ')}, view, and b.<field> for the compare set.`);
    }
  }
}

function queryString(criteria, prefix = '') {
  const p = new URLSearchParams();
  for (const f of FIELDS) {
    const v = criteria[f.field];
    if (v !== undefined && v !== '' && v !== 'any' && !(f.field === 'nodes' && v === '0')) p.set(prefix + f.field, v);
  }
  return p;
}

function writeUrl() {
  const p = queryString(state.a);
  if (state.view === 'compare') {
    p.set('view', 'compare');
    for (const [k, v] of queryString(state.b, 'b.')) p.set(k, v);
  }
  const search = p.toString();
  // history.replaceState costs milliseconds (a same-document navigation for the browser to
  // record), so it is skipped when the address already holds these parameters in another
  // order, as when a share link is opened.
  const [now, next] = [new URLSearchParams(location.search), new URLSearchParams(p)];
  now.sort();
  next.sort();
  if (now.toString() !== next.toString()) history.replaceState(null, '', search ? `?${search}` : location.pathname);
}

// ---------- form ----------

function buildForm(set) {
  const form = $(`form-${set}`);
  for (const f of FIELDS) {
    const id = `${set}-${f.field}`;
    const described = `${id}-hint ${id}-error`;
    const control = f.field === 'nodes'
      ? h('input', { id, name: f.field, type: 'text', inputmode: 'numeric', autocomplete: 'off', spellcheck: 'false', placeholder: 'any', 'aria-describedby': described })
      : h('select', { id, name: f.field, 'aria-describedby': described },
        h('option', { value: '' }, 'any'),
        f.values.map((v) => h('option', { value: v }, f.used.includes(v) ? v : `${v} (no overlay of its own)`)));
    const hint = f.field === 'nodes'
      ? `Node count, blank for any.${f.used.length ? ` Overlays ask for ${f.used.join(', ')}.` : ''}`
      : f.aliases.length ? `Also accepts ${f.aliases.map(([a, c]) => `${a} (= ${c || 'any'})`).join(', ')}.` : '';
    form.append(h('div', { class: 'field' },
      h('label', { for: id }, f.field),
      control,
      h('p', { class: 'hint', id: `${id}-hint` }, hint),
      h('p', { class: 'field-error', id: `${id}-error`, hidden: true })));
  }
  const changed = (event) => {
    const field = event.target.name;
    state[set][field] = event.target.value;
    delete state.fromUrl[set][field];
    update();
  };
  form.addEventListener('change', changed);
  form.addEventListener('input', (event) => { if (event.target.tagName === 'INPUT') changed(event); });
  form.addEventListener('submit', (event) => event.preventDefault());
}

/** Set B's form is built the first time the compare view is shown, not before the first recipe. */
const formBuilt = (set) => $(`form-${set}`).childElementCount > 0;

function syncForm(set) {
  if (!formBuilt(set)) return;
  for (const f of FIELDS) {
    const control = $(`${set}-${f.field}`);
    const raw = state[set][f.field] ?? '';
    if (control.tagName === 'INPUT') {
      if (control.value !== raw && document.activeElement !== control) control.value = raw;
      continue;
    }
    control.querySelector('option.invalid')?.remove();
    if (![...control.options].some((o) => o.value === raw)) {
      control.append(h('option', { value: raw, class: 'invalid' }, `${raw} (not valid)`));
    }
    control.value = raw;
  }
}

/** Canonical criteria of a view as form values (`any` and nodes 0 left out). */
function canonical(criteria) {
  const out = {};
  for (const [k, v] of Object.entries(criteria)) if (v !== 'any' && !(k === 'nodes' && v === '0')) out[k] = v;
  return out;
}

function fieldError(set, error) {
  const el = error && error.field ? $(`${set}-${error.field}-error`) : null;
  if (!el) return false;
  el.textContent = error.message;
  el.hidden = false;
  $(`${set}-${error.field}`).setAttribute('aria-invalid', 'true');
  return true;
}

/** Clears the criteria forms' errors (the bundle form's are its own, see bundle.js). */
function clearErrors() {
  for (const el of document.querySelectorAll('.criteria .field-error')) { el.hidden = true; el.textContent = ''; }
  for (const el of document.querySelectorAll('.criteria [aria-invalid]')) el.removeAttribute('aria-invalid');
}

const message = (e) => (e && e.message) || String(e);

// ---------- recipe view ----------

const dash = (v) => (v === undefined || v === null || v === '' ? '—' : v);

function renderChain(view) {
  fill($('chain'), view.overlays.map((o) => {
    const sets = [];
    if (o.components.length) sets.push(h('li', {}, h('span', { class: 'what' }, 'components '), o.components.join(', ')));
    if (o.versions.length) sets.push(h('li', {}, h('span', { class: 'what' }, 'versions '), o.versions.map(([c, v]) => `${c} ${v}`).join(', ')));
    if (o.constraints.length) sets.push(h('li', {}, h('span', { class: 'what' }, 'constraints '), o.constraints.join(', ')));
    if (o.phases.length) sets.push(h('li', {}, h('span', { class: 'what' }, 'validation '), o.phases.join(', ')));
    const matches = o.criteria ? Object.entries(o.criteria).map(([k, v]) => `${k}=${v}`).join(' ') : null;
    return h('li', { dataset: { overlay: o.name } },
      h('strong', {}, o.name),
      o.parent ? h('span', { class: 'muted' }, ` inherits ${o.parent}`) : null,
      matches ? h('span', { class: 'chip' }, matches) : o.name === 'base' ? h('span', { class: 'chip' }, 'always') : h('span', { class: 'chip' }, 'via inheritance'),
      sets.length ? h('ul', { class: 'sets' }, sets) : h('p', { class: 'muted' }, 'Sets nothing that survives later overlays.'));
  }));
}

function renderComponents(view) {
  fill($('components').tBodies[0], view.components.map((c, i) => h('tr', { dataset: { name: c.name } },
    h('td', { class: 'c-index' }, i + 1),
    h('th', { scope: 'row', class: 'c-name' }, c.name, c.enabled ? null : h('span', { class: 'badge removed' }, 'disabled')),
    h('td', { class: 'c-version', 'data-label': 'Version' }, dash(c.version || c.tag), c.versionFrom ? h('span', { class: 'from' }, ` from ${c.versionFrom}`) : null),
    h('td', { class: 'c-chart', 'data-label': 'Chart' }, dash(c.chart || c.path)),
    h('td', { class: 'c-source', 'data-label': 'Source' }, dash(c.source)),
    h('td', { class: 'c-namespace', 'data-label': 'Namespace' }, dash(c.namespace)),
    h('td', { class: 'c-deps', 'data-label': 'Depends on' }, dash(c.dependencyRefs.join(', '))),
    h('td', { class: 'c-by', 'data-label': 'Set by' }, c.touchedBy.join(' \u2192 ')))));
}

function renderConstraints(view) {
  const body = $('constraints').tBodies[0];
  if (!view.constraints.length) return fill(body, h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No constraints.')));
  fill(body, view.constraints.map((c) => h('tr', {},
    h('th', { scope: 'row' }, c.name), h('td', {}, c.value, c.unit ? ` ${c.unit}` : '', c.severity ? h('span', { class: 'muted' }, ` (${c.severity})`) : null),
    h('td', {}, c.setBy))));
}

function renderValidation(view) {
  if (!view.validation.length) return fill($('validation'), h('p', { class: 'muted' }, 'No validation phases.'));
  fill($('validation'), view.validation.map((p) => h('section', { class: 'phase', dataset: { phase: p.name } },
    h('h3', {}, p.name, h('span', { class: 'muted' }, ` set by ${p.setBy}${p.timeout ? `, timeout ${p.timeout}` : ''}`)),
    p.checks?.length ? h('ul', {}, p.checks.map((c) => h('li', {}, c))) : null,
    p.constraints?.length ? h('ul', {}, p.constraints.map((c) => h('li', {}, `${c.name} ${c.value}`))) : null)));
}

/** A tree of one component's values, asked of the engine only when it is opened. */
async function valuesOf(name) {
  const path = `components.${name}.values`;
  try {
    const { valuesTree } = await treeModule;
    return valuesTree(query(state.a, path), path, select);
  } catch (e) {
    return h('p', { class: 'note' }, message(e));
  }
}

function renderValues(view) {
  fill($('values'), view.components.map((c) => {
    const details = h('details', { class: 'component-values', dataset: { name: c.name }, open: state.opened.has(c.name) },
      h('summary', {}, c.name, h('span', { class: 'muted' }, c.valueKeys ? ` {${c.valueKeys}}` : ' (no values)')));
    const grow = async () => {
      if (!details.open || details.childElementCount > 1) return;
      const tree = await valuesOf(c.name);
      if (details.childElementCount > 1) return; // opened twice while the tree was loading
      details.append(tree);
      markSelected();
    };
    details.addEventListener('toggle', () => {
      if (details.open) state.opened.add(c.name); else state.opened.delete(c.name);
      grow();
    });
    grow();
    return details;
  }));
  if (state.selected) select(state.selected);
}

/** Highlights the selected key in the values trees shown. */
function markSelected() {
  for (const el of document.querySelectorAll('#values .key[aria-current]')) el.removeAttribute('aria-current');
  if (!state.selected) return;
  document.querySelector(`#values .key[data-path="${CSS.escape(state.selected)}"]`)?.setAttribute('aria-current', 'true');
}

function select(path) {
  state.selected = path;
  markSelected();
  $('selector-hint').hidden = true;
  $('selector-path').textContent = path;
  let text;
  try {
    text = JSON.stringify(query(state.a, path), null, 2);
  } catch (e) {
    text = message(e);
  }
  $('selector-value').textContent = text.length > 20000 ? `${text.slice(0, 20000)}\n\u2026` : text;
  const p = queryString(state.a);
  p.set('selector', path);
  $('selector-curl').textContent = `curl '${location.origin}/v1/query?${p}'`;
  $('copy-selector').disabled = false;
}

function recipeCurl() {
  const p = queryString(state.a).toString();
  return `curl '${location.origin}/v1/recipe${p ? `?${p}` : ''}'`;
}

function renderRecipe(view) {
  renderChain(view);
  renderComponents(view);
  renderConstraints(view);
  renderValidation(view);
  renderValues(view);
  $('curl-command').textContent = recipeCurl();
}

// ---------- the update loop ----------

function banner() {
  const problems = [...state.urlProblems];
  for (const set of SETS) {
    for (const [field, value] of Object.entries(state.fromUrl[set])) {
      const error = state.errors?.[set];
      if (error && error.field === field && error.value === value) {
        problems.push(`The link's ${set === 'b' ? 'b.' : ''}${field}=\u201c${value}\u201d is not valid: ${error.message}`);
      }
    }
  }
  fill($('banner'), problems.length > 1 ? h('ul', {}, problems.map((p) => h('li', {}, p))) : problems[0] ?? '');
  $('banner').hidden = problems.length === 0;
}

function resolveSet(set) {
  try {
    const view = resolve(state[set]);
    state[set] = canonical(view.criteria);
    return view;
  } catch (e) {
    state.errors[set] = e;
    return null;
  }
}

function update() {
  clearErrors();
  state.errors = {};
  const view = resolveSet('a');
  current = view;
  $('recipe-body').hidden = !view;
  for (const id of ['download-json', 'download-yaml', 'copy-curl']) $(id).disabled = !view;
  $('download-bundle').disabled = !view || !bundleReady;
  if (view) {
    $('recipe-error').hidden = true;
    renderRecipe(view);
  } else {
    const placed = fieldError('a', state.errors.a);
    fill($('recipe-error'), placed ? `No recipe: the ${state.errors.a.field} field needs a valid value.` : `No recipe: ${message(state.errors.a)}`);
    $('recipe-error').hidden = false;
    $('curl-command').textContent = '';
  }
  if (state.view === 'compare') updateCompare(view);
  for (const set of SETS) syncForm(set);
  banner();
  writeUrl();
  performance.mark('aicr-rendered');
}

function updateCompare(viewA) {
  const viewB = resolveSet('b');
  if (!viewB) fieldError('b', state.errors.b);
  const ok = viewA && viewB;
  $('compare-error').hidden = ok;
  if (!ok) {
    fill($('compare-error'), viewA ? `Compare: set B is not valid: ${message(state.errors.b)}` : 'Compare: set A (the criteria above) is not valid.');
    fill($('compare-body'));
    return;
  }
  const difference = diff(state.a, state.b);
  // Renders queue up in order on the module's promise, so the last update's view wins.
  compareModule.then(({ renderCompare }) => renderCompare($('compare-body'), viewA, viewB, difference), (e) => {
    fill($('compare-error'), `Compare: the compare view could not load (compare.js): ${message(e)}`);
    $('compare-error').hidden = false;
  });
}

// ---------- tabs and actions ----------

function showView(view, focus) {
  state.view = view;
  const compare = view === 'compare';
  $('tab-recipe').setAttribute('aria-selected', String(!compare));
  $('tab-compare').setAttribute('aria-selected', String(compare));
  $('tab-recipe').tabIndex = compare ? -1 : 0;
  $('tab-compare').tabIndex = compare ? 0 : -1;
  $('result').hidden = compare;
  $('compare').hidden = !compare;
  if (compare && !formBuilt('b')) buildForm('b');
  if (focus) $(compare ? 'tab-compare' : 'tab-recipe').focus();
}

function wireActions() {
  const status = (text) => { $('status').textContent = text; };
  const file = (ext) => `recipe-${Object.values(canonical(current.criteria)).join('-') || 'any'}.${ext}`;
  $('download-json').addEventListener('click', () => {
    download(file('json'), render(state.a, 'json'), 'application/json');
    status('Downloaded the recipe as JSON.');
  });
  $('download-yaml').addEventListener('click', () => {
    download(file('yaml'), render(state.a, 'yaml'), 'application/yaml');
    status('Downloaded the recipe as YAML.');
  });
  $('copy-curl').addEventListener('click', async () => {
    status(await copy(recipeCurl(), $('curl-command')) ? 'Copied the curl command.' : 'Clipboard unavailable: the command is selected, copy it with Ctrl+C.');
  });
  $('copy-link').addEventListener('click', async () => {
    status(await copy(location.href) ? 'Copied the share link.' : `Share link: ${location.href}`);
  });
  $('copy-selector').addEventListener('click', async () => {
    status(await copy($('selector-curl').textContent, $('selector-curl')) ? 'Copied the query curl command.' : 'Clipboard unavailable: the command is selected.');
  });
  for (const tab of [$('tab-recipe'), $('tab-compare')]) {
    tab.addEventListener('click', () => {
      const view = tab.id === 'tab-compare' ? 'compare' : 'recipe';
      if (view === 'compare' && Object.keys(state.b).length === 0) state.b = { ...state.a };
      showView(view);
      update();
    });
    tab.addEventListener('keydown', (e) => {
      if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) return;
      e.preventDefault();
      showView(state.view === 'compare' ? 'recipe' : 'compare', true);
      update();
    });
  }
}

function footer() {
  const info = catalogInfo();
  $('catalog-name').textContent = info.name;
  $('catalog-version').textContent = info.version;
  $('catalog-digest').textContent = info.digest;
  $('catalog-digest').title = info.digest;
  $('engine-version').textContent = info.engineVersion;
  $('catalog-size').textContent = `${info.overlays} overlays, ${info.components} components`;
}

/**
 * Starts the page on the engine's compiled wasm module (a promise, from index.html's boot
 * script), once the document is parsed. Marks for tests/js/explorer.bench.mjs: `aicr-engine` once the engine
 * is instantiated, `aicr-rendered` after every update (the recipe's DOM is built) and
 * `aicr-painted` after the first frame that shows the first recipe.
 */
export function start(engine) {
  return main(engine).catch((e) => {
    const b = $('banner');
    b.textContent = `The explorer could not start its recipe engine (pkg/aicr_web_bg.wasm): ${message(e)}`;
    b.hidden = false;
    document.body.dataset.ready = 'failed';
    throw e;
  });
}

async function main(engine) {
  // Instantiating a compiled module is quick: done synchronously, it costs no extra task
  // (in which the browser might run other work) before the first recipe is built.
  initSync({ module: await engine });
  performance.mark('aicr-engine');
  FIELDS = criteriaFields();
  footer();
  buildForm('a');
  readUrl();
  wireActions();
  showView(state.view);
  // A link to the compare view shows it complete when the page says it is ready.
  if (state.view === 'compare') await compareModule.catch(() => {});
  update();
  document.body.dataset.ready = '1';
  bundleModule.then(({ setUpBundle }) => {
    setUpBundle(() => state.a);
    bundleReady = true;
    $('download-bundle').disabled = !current;
  }, (e) => {
    $('bundle-error').textContent = `Bundles are unavailable: bundle.js could not load: ${message(e)}`;
    $('bundle-error').hidden = false;
  });
  // A frame's style, layout and paint run right after its animation-frame callbacks, so a
  // task queued from one runs once that frame is painted.
  requestAnimationFrame(() => setTimeout(() => performance.mark('aicr-painted')));
}

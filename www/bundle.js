// "Download bundle": the options of /v1/bundle, the zip built in the page by the engine
// (aicr-web's `bundle`, byte for byte the API's answer) and saved as bundles.zip from a
// Blob. Nothing is sent anywhere. app.js loads this module after the first recipe, like
// the values tree: the first paint does not need it.
//
// Each option is one field. Repeatable ones take several entries, separated by commas or
// lines (`set` by lines only: a value may hold commas). A refused option is reported by
// the engine with the option's name, and shown next to that field.

import { bundle } from './pkg/aicr_web.js';
import { h, download } from './dom.js';

const $ = (id) => document.getElementById(id);
const LIST = /[,\n]/;
const LINES = /\n/;

/** The options in the form's order, named as in the /v1/bundle query. */
const OPTIONS = [
  { name: 'repo', label: 'Repository URL', hint: 'Argo CD: the Git repository the applications point at.', placeholder: 'https://github.com/example/gitops.git', type: 'url' },
  { name: 'nodes', label: 'Nodes', hint: 'Node count estimate; blank takes the criteria\u2019s nodes.', placeholder: 'from the criteria', inputmode: 'numeric' },
  { name: 'accelerated-node-selector', label: 'Accelerated node selector', hint: 'key=value, comma-separated.', placeholder: 'nvidia.com/gpu.present=true', split: LIST },
  { name: 'accelerated-node-toleration', label: 'Accelerated node toleration', hint: 'key=value:Effect or key:Effect; blank tolerates all.', placeholder: 'nvidia.com/gpu:NoSchedule', split: LIST },
  { name: 'system-node-selector', label: 'System node selector', hint: 'key=value, comma-separated.', placeholder: 'nodeGroup=system', split: LIST },
  { name: 'system-node-toleration', label: 'System node toleration', hint: 'key=value:Effect or key:Effect; blank tolerates all.', placeholder: 'dedicated=system:NoSchedule', split: LIST },
  { name: 'workload-selector', label: 'Workload selector', hint: 'key=value, comma-separated.', placeholder: 'workload=training', split: LIST },
  { name: 'workload-gate', label: 'Workload gate', hint: 'A taint, key=value:Effect, kept on nodes until they are ready.', placeholder: 'skyhook.nvidia.com=runtime-required:NoSchedule' },
  { name: 'set', label: 'Values (set)', hint: 'component:path=value, one per line.', placeholder: 'gpu-operator:driver.version=570.86.15', split: LINES },
];

function buildFields() {
  $('bundle-fields').append(...OPTIONS.map((o) => {
    const id = `bundle-${o.name}`;
    const attrs = {
      id, name: o.name, placeholder: o.placeholder, autocomplete: 'off', spellcheck: 'false',
      'aria-describedby': `${id}-hint ${id}-error`,
    };
    const control = o.split === LINES
      ? h('textarea', { ...attrs, rows: 2 })
      : h('input', { ...attrs, type: o.type ?? 'text', inputmode: o.inputmode });
    return h('div', { class: `field${o.split === LINES ? ' wide' : ''}` },
      h('label', { for: id }, o.label),
      control,
      h('p', { class: 'hint', id: `${id}-hint` }, o.hint),
      h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
  }));
}

/** The form as /v1/bundle option pairs, `[name, value]`, in the form's order. */
function pairs(form) {
  const out = [['deployer', new FormData(form).get('deployer')]];
  for (const o of OPTIONS) {
    const control = $(`bundle-${o.name}`);
    if (control.disabled) continue;
    const entries = o.split ? control.value.split(o.split) : [control.value];
    for (const entry of entries.map((e) => e.trim()).filter(Boolean)) out.push([o.name, entry]);
  }
  return out;
}

function clearError(id) {
  const error = $(`${id}-error`);
  if (error) { error.hidden = true; error.textContent = ''; }
  $(id)?.removeAttribute('aria-invalid');
}

/** Shows the engine's error next to its option, or under the button when it is the recipe's. */
function showError(e) {
  const id = `bundle-${e?.field}`;
  const control = e?.field ? $(id) : null;
  const place = control ? $(`${id}-error`) : null;
  if (place) {
    // Name the entry when the engine's sentence does not (a field may hold several).
    place.textContent = e.value && !e.message.includes(e.value) ? `${e.value}: ${e.message}` : e.message;
    place.hidden = false;
    control.setAttribute('aria-invalid', 'true');
    $('bundle-options').open = true;
    control.focus();
  }
  const general = $('bundle-error');
  general.textContent = place
    ? `No bundle: the ${control.labels[0].textContent} option is not valid.`
    : `No bundle: ${e?.field ? `${e.field}: ` : ''}${e?.message ?? e}`;
  general.hidden = false;
}

const size = (bytes) => (bytes < 10240 ? `${bytes} bytes` : `${Math.round(bytes / 1024)} KB`);

/**
 * Builds the options form and wires the button; `criteria()` gives the criteria of the
 * recipe shown (app.js keeps the button disabled while they are not valid).
 */
export function setUpBundle(criteria) {
  const form = $('bundle-form');
  buildFields();
  const deployerChanged = () => {
    $('bundle-repo').disabled = new FormData(form).get('deployer') !== 'argocd';
  };
  deployerChanged();
  form.addEventListener('change', (event) => { if (event.target.name === 'deployer') deployerChanged(); });
  form.addEventListener('input', (event) => {
    clearError(event.target.id);
    $('bundle-error').hidden = true;
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    for (const o of OPTIONS) clearError(`bundle-${o.name}`);
    $('bundle-error').hidden = true;
    const status = $('bundle-status');
    let built;
    try {
      built = bundle(criteria(), pairs(form));
    } catch (e) {
      status.textContent = '';
      showError(e);
      return;
    }
    download('bundles.zip', built.zip, 'application/zip');
    const notes = built.warnings.length ? ` Note: ${built.warnings.join(' ')}` : '';
    status.textContent = `Saved bundles.zip: ${built.files} files, ${size(built.zip.length)}.${notes}`;
  });
}

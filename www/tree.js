// A component's hydrated values as a collapsible tree. Maps are <details> (native keyboard
// toggling); every key is a button that selects its /v1/query selector path.

import { h } from './dom.js';

const shortValue = (v) => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.length} item${v.length === 1 ? '' : 's'}]`;
  if (typeof v === 'string') return JSON.stringify(v);
  return String(v);
};

const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Builds the tree for `values` under selector `prefix`; `onSelect(path)` on a key. */
export function valuesTree(values, prefix, onSelect) {
  const list = h('ul', { class: 'tree' });
  for (const [key, value] of Object.entries(values)) {
    const path = `${prefix}.${key}`;
    const keyButton = h('button', { type: 'button', class: 'key', dataset: { path }, onclick: () => onSelect(path) }, key);
    if (isMap(value) && Object.keys(value).length > 0) {
      const details = h('details', {}, h('summary', {}, keyButton, h('span', { class: 'muted' }, ` {${Object.keys(value).length}}`)));
      details.addEventListener('toggle', () => {
        if (details.open && details.childElementCount === 1) details.append(valuesTree(value, path, onSelect));
      }, { once: false });
      list.append(h('li', {}, details));
    } else {
      list.append(h('li', { class: 'leaf' }, keyButton, h('span', { class: 'val' }, `: ${shortValue(value)}`)));
    }
  }
  return list;
}

// The compare view: recipe A (the main criteria) against recipe B, side by side. The
// difference itself is computed by the wasm bindings (aicr-web's compare module).

import { h, fill } from './dom.js';

const show = (v) => (v === undefined || v === null ? '—' : typeof v === 'string' ? v : JSON.stringify(v));
const version = (c) => (c ? c.version || c.tag || '—' : '—');
const label = (criteria) => Object.entries(criteria).filter(([k, v]) => v !== 'any' && !(k === 'nodes' && v === '0'))
  .map(([k, v]) => `${k}=${v}`).join(' ') || 'all any';

function list(title, id, names) {
  return h('section', { class: 'panel', 'aria-labelledby': `${id}-title` },
    h('h3', { id: `${id}-title` }, `${title} (${names.length})`),
    names.length ? h('ul', { id, class: 'names' }, names.map((n) => h('li', {}, n))) : h('p', { id, class: 'muted' }, 'None.'));
}

/** Renders the comparison of views `a` and `b` (RecipeView) with `diff` (RecipeDiff). */
export function renderCompare(root, a, b, diff) {
  const byName = (view) => new Map(view.components.map((c) => [c.name, c]));
  const ca = byName(a);
  const cb = byName(b);
  const changed = new Map(diff.changed.map((c) => [c.name, c]));
  const names = [...a.components.map((c) => c.name), ...diff.added];
  const status = (n) => (diff.added.includes(n) ? 'added' : diff.removed.includes(n) ? 'removed' : changed.has(n) ? 'changed' : 'same');
  const side = h('table', { id: 'compare-table' },
    h('caption', {}, 'Components, A beside B (A\u2019s deployment order, then what B adds)'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Component'), h('th', { scope: 'col' }, 'Change'),
      h('th', { scope: 'col' }, `A: ${label(a.criteria)}`), h('th', { scope: 'col' }, `B: ${label(b.criteria)}`))),
    h('tbody', {}, names.map((n) => h('tr', { dataset: { name: n, status: status(n) } },
      h('th', { scope: 'row' }, n), h('td', {}, h('span', { class: `badge ${status(n)}` }, status(n))),
      h('td', { class: 'a' }, version(ca.get(n))), h('td', { class: 'b' }, version(cb.get(n)))))));

  const details = diff.changed.map((c) => h('details', { class: 'change', dataset: { name: c.name } },
    h('summary', {}, c.name, h('span', { class: 'muted' }, ` ${c.fields.length} field${c.fields.length === 1 ? '' : 's'}, ${c.values.length} value${c.values.length === 1 ? '' : 's'}`)),
    h('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': `${c.name} changes` },
      h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field or values path'), h('th', { scope: 'col' }, 'A'), h('th', { scope: 'col' }, 'B'))),
        h('tbody', {},
          c.fields.map((f) => h('tr', { class: 'field' }, h('th', { scope: 'row' }, f.name), h('td', {}, show(f.a)), h('td', {}, show(f.b)))),
          c.values.map((f) => h('tr', { class: 'value' }, h('th', { scope: 'row' }, h('code', {}, `values.${f.name}`)), h('td', {}, show(f.a)), h('td', {}, show(f.b)))))))));

  const constraints = diff.constraints.length
    ? h('table', { id: 'compare-constraints' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Constraint'), h('th', { scope: 'col' }, 'A'), h('th', { scope: 'col' }, 'B'))),
      h('tbody', {}, diff.constraints.map((c) => h('tr', {}, h('th', { scope: 'row' }, c.name), h('td', {}, show(c.a)), h('td', {}, show(c.b))))))
    : h('p', { class: 'muted' }, 'Same constraints.');

  fill(root,
    h('div', { class: 'two' },
      h('section', { class: 'panel' }, h('h3', {}, 'Overlays A'), h('ol', { class: 'chain compact', id: 'overlays-a' }, diff.overlaysA.map((o) => h('li', {}, o)))),
      h('section', { class: 'panel' }, h('h3', {}, 'Overlays B'), h('ol', { class: 'chain compact', id: 'overlays-b' }, diff.overlaysB.map((o) => h('li', {}, o))))),
    h('div', { class: 'two' }, list('Added in B', 'compare-added', diff.added), list('Removed in B', 'compare-removed', diff.removed)),
    h('section', { class: 'panel' }, h('h3', {}, 'Side by side'),
      diff.orderChanged ? h('p', { class: 'note' }, 'The deployment order of the shared components differs.') : null,
      h('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': 'Components side by side' }, side)),
    h('section', { class: 'panel' }, h('h3', {}, `Changed components (${diff.changed.length})`),
      details.length ? details : h('p', { class: 'muted' }, 'No shared component differs.')),
    h('section', { class: 'panel' }, h('h3', {}, 'Constraints'), constraints));
}

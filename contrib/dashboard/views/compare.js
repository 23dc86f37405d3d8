// Two or more runs side by side, with % deltas against a chosen baseline.

import { api, qs } from '../api.js';
import { h, clear, badge, fmtInt, fmtNum, fmtMs, fmtPct, hashWith, errorBox, setError } from '../util.js';

// metric -> [label, formatter, higher is better?]
const METRICS = {
  requests: ['Requests', fmtInt, true],
  rps: ['req/s', fmtNum, true],
  failed_rate: ['Failed rate', (v) => fmtPct(v), false],
  mean_ms: ['mean', fmtMs, false],
  p50_ms: ['p50', fmtMs, false],
  p90_ms: ['p90', fmtMs, false],
  p95_ms: ['p95', fmtMs, false],
  p99_ms: ['p99', fmtMs, false],
  p99_9_ms: ['p99.9', fmtMs, false],
  max_ms: ['max', fmtMs, false],
};

export function compareView(root, query, ctx) {
  const ids = (query.get('ids') || '').split(',').map((s) => s.trim()).filter(Boolean);
  const baseline = query.get('baseline') || ids[0] || '';
  const err = errorBox(null);
  const body = h('div', null, h('p.muted', null, 'Loading…'));
  const addInput = h('input', { type: 'text', id: 'compare-add', placeholder: 'run id', size: 38 });
  const addForm = h('form.inline', {
    onsubmit: (ev) => {
      ev.preventDefault();
      const v = addInput.value.trim();
      if (v && !ids.includes(v)) ctx.navigate(hashWith('/compare', { ids: [...ids, v].join(','), baseline }));
    },
  }, h('label', { for: 'compare-add' }, 'Add a run'), addInput, h('button', { type: 'submit' }, 'Add'));

  root.append(h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/runs' }, 'Runs'), ' › compare'),
    h('h1', null, 'Compare runs'), err, body, addForm);

  if (ids.length < 2) {
    clear(body, h('p', null, 'Pick two to ten runs in the ', h('a', { href: '#/runs' }, 'runs list'), ' and press “Compare selected”.'));
    return null;
  }

  let disposed = false;
  api.get(qs('/v1/runs/compare', { ids: ids.join(','), baseline })).then((c) => {
    if (disposed) return;
    const runs = c.runs || [];
    const base = c.baseline;
    const head = () => runs.map((r) => h('th', { scope: 'col', class: r.id === base ? 'baseline' : '' },
      h('a', { href: `#/runs/${r.id}` }, r.name), ' ', h('small.mono.muted', null, r.id.slice(0, 8)),
      r.id === base ? h('div.small', null, 'baseline') : null));
    const overview = h('ul.compare-runs', { 'data-testid': 'compare-runs' }, runs.map((r) => h('li', { class: r.id === base ? 'baseline' : '' },
      h('a', { href: `#/runs/${r.id}` }, r.name), ' ', h('small.mono.muted', null, r.id.slice(0, 8)), ' ', badge(r.status),
      r.has_summary === false ? h('small.bad', null, ' no summary') : null, ' ',
      r.id === base ? h('strong.small', null, 'baseline')
        : h('button.small', { type: 'button', onclick: () => ctx.navigate(hashWith('/compare', { ids: ids.join(','), baseline: r.id })) }, 'Make baseline'),
      ids.length > 2 ? h('button.small', {
        type: 'button',
        'aria-label': `Remove run ${r.id.slice(0, 8)} from the comparison`,
        onclick: () => {
          const rest = ids.filter((x) => x !== r.id);
          ctx.navigate(hashWith('/compare', { ids: rest.join(','), baseline: r.id === base ? rest[0] : base }));
        },
      }, 'Remove') : null)));
    const scopes = Object.keys(c.steps || {}).sort((a, b) => {
      const at = a === 'total' || a.endsWith('/total'), bt = b === 'total' || b.endsWith('/total');
      return at === bt ? a.localeCompare(b) : at ? -1 : 1;
    });
    clear(body, scopes.length ? scopes.map((scope) => {
      const metrics = c.steps[scope];
      return h('section.card', { 'data-testid': 'compare-scope', 'data-scope': scope },
        h('h2', null, scope),
        h('div.table-wrap', null, h('table.list.compare', null,
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Metric'), head())),
          h('tbody', null, Object.entries(metrics).map(([m, v]) => {
            const [label, fmt, higherBetter] = METRICS[m] || [m, fmtNum, true];
            return h('tr', null, h('th', { scope: 'row' }, label), runs.map((r) => {
              const val = v.values ? v.values[r.id] : undefined;
              const d = v.delta_pct ? v.delta_pct[r.id] : undefined;
              let cls = '';
              if (typeof d === 'number' && Math.abs(d) >= 1) cls = (d > 0) === higherBetter ? 'better' : 'worse';
              return h('td.num', null, fmt(val ?? null),
                r.id !== base && val !== undefined && val !== null ? h('span.delta', { class: cls }, d === null || d === undefined ? ' (–)' : ` (${d > 0 ? '+' : ''}${d.toFixed(1)} %)`) : null);
            }));
          })))));
    }) : h('p.muted', null, 'Nothing to compare: none of these runs has a summary yet.'));
    body.prepend(h('div.card', null, h('h2', null, 'Runs'), overview,
      h('p.muted.small', null, 'Deltas are against the baseline; green is better, red is worse (1 % or more).')));
  }).catch((e) => { if (!disposed) { clear(body); setError(err, e); } });

  return { dispose() { disposed = true; } };
}

// The runs list: filters, keyset pages, live status updates, compare
// selection, and a form to start a run of a script or a scenario.

import { api, qs, listAll } from '../api.js';
import {
  h, clear, badge, field, fmtTime, fmtDuration, runDuration, hashWith, busy,
  errorBox, setError, STATES, ACTIVE_STATES, isTerminal,
} from '../util.js';

const PAGE = 25;
const PASS_FILTERS = ['script_id', 'scenario_id', 'project_id', 'schedule_id', 'origin'];

export function runsView(root, query, ctx) {
  const status = query.get('status') || '';
  const q = query.get('q') || '';
  const extra = Object.fromEntries(PASS_FILTERS.filter((k) => query.get(k)).map((k) => [k, query.get(k)]));
  const cursors = [null]; // cursors[i] = cursor of page i
  let page = 0;
  let rows = new Map(); // run id -> {tr, run}
  const selected = new Set();
  let disposed = false;
  let pollTimer = null;
  let refetchTimer = null;

  // --- filters
  const statusSel = h('select', { id: 'runs-status', 'data-testid': 'runs-filter-status' },
    h('option', { value: '' }, 'any'),
    h('option', { value: ACTIVE_STATES.join(',') }, 'active'),
    STATES.map((s) => h('option', { value: s }, s)));
  statusSel.value = status;
  if (statusSel.value !== status) statusSel.value = '';
  const qInput = h('input', { type: 'search', id: 'runs-q', value: q, placeholder: 'name contains…', 'data-testid': 'runs-filter-q' });
  const filters = h('form.filters', {
    role: 'search',
    onsubmit: (ev) => {
      ev.preventDefault();
      ctx.navigate(hashWith('/runs', { ...extra, status: statusSel.value, q: qInput.value.trim() }));
    },
  },
  field('Status', statusSel), field('Search', qInput),
  h('button', { type: 'submit' }, 'Filter'),
  Object.keys(extra).length
    ? h('span.chips', null, Object.entries(extra).map(([k, v]) => h('span.chip', null, `${k.replace('_id', '')}: ${v.slice(0, 8)}`)),
      h('a', { href: hashWith('/runs', { status, q }) }, 'clear'))
    : null);
  statusSel.addEventListener('change', () => filters.requestSubmit());

  // --- table
  const tbody = h('tbody');
  const table = h('table.list', { 'data-testid': 'runs-table' },
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, h('span.sr', null, 'Select')),
      h('th', { scope: 'col' }, 'Run'), h('th', { scope: 'col' }, 'Status'),
      h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'Created'),
      h('th', { scope: 'col' }, 'Duration'), h('th', { scope: 'col' }, 'Origin'))),
    tbody);
  const err = errorBox(null);
  const prevBtn = h('button', { type: 'button', onclick: () => { if (page > 0) { page--; load(); } } }, '← Newer');
  const nextBtn = h('button', { type: 'button', 'data-testid': 'runs-next', onclick: () => { page++; load(); } }, 'Older →');
  const pageInfo = h('span.muted');
  const compareBtn = h('button', {
    type: 'button',
    'data-testid': 'runs-compare',
    disabled: true,
    onclick: () => {
      const ids = [...selected];
      ctx.navigate(hashWith('/compare', { ids: ids.join(','), baseline: ids[0] }));
    },
  }, 'Compare selected');

  function updateCompare() {
    compareBtn.disabled = selected.size < 2 || selected.size > 10;
    compareBtn.textContent = selected.size ? `Compare selected (${selected.size})` : 'Compare selected';
  }

  function row(run) {
    const check = h('input', {
      type: 'checkbox',
      'aria-label': `Select run ${run.name} ${run.id.slice(0, 8)} for comparison`,
      checked: selected.has(run.id),
      onchange: () => { if (check.checked) selected.add(run.id); else selected.delete(run.id); updateCompare(); },
    });
    const st = badge(run.status);
    const dur = h('td.num', null, fmtDuration(runDuration(run)));
    const tr = h('tr', { 'data-testid': 'run-row', 'data-run-id': run.id },
      h('td', null, check),
      h('td', null, h('a', { href: `#/runs/${run.id}` }, run.name), h('small.muted.mono', null, ` ${run.id.slice(0, 8)}`)),
      h('td', null, st),
      h('td', null, run.kind),
      h('td', null, fmtTime(run.created_at)),
      dur,
      h('td', null, run.origin || ''));
    rows.set(run.id, { tr, run, st, dur });
    return tr;
  }

  async function load() {
    setError(err, null);
    try {
      const data = await api.get(qs('/v1/runs', { ...extra, status, q, limit: PAGE, cursor: cursors[page] }));
      if (disposed) return;
      cursors[page + 1] = data.next_cursor;
      rows = new Map();
      clear(tbody, data.items.length ? data.items.map(row)
        : h('tr', null, h('td.empty', { colspan: 7 }, page ? 'No more runs.' : 'No runs yet. Start one below.')));
      prevBtn.disabled = page === 0;
      nextBtn.disabled = !data.next_cursor;
      pageInfo.textContent = `page ${page + 1}`;
    } catch (e) {
      if (!disposed) setError(err, e);
    }
  }

  // Live: status changes from the runs channel; polling when it is down.
  const offRuns = ctx.live.subscribe('runs', (msg) => {
    // subscribed (again): what changed before that is only in the API
    if (msg.type === 'subscribed') { clearTimeout(refetchTimer); refetchTimer = setTimeout(load, 100); return; }
    if (msg.type !== 'event' || msg.kind !== 'state') return;
    const r = rows.get(msg.run_id);
    if (r) {
      r.run.status = msg.state;
      const nb = badge(msg.state);
      r.st.replaceWith(nb);
      r.st = nb;
      if (isTerminal(msg.state)) r.run.finished_at = new Date(msg.t_ms || Date.now()).toISOString();
    } else if (page === 0) {
      clearTimeout(refetchTimer);
      refetchTimer = setTimeout(load, 300);
    }
  });
  let tick = 0;
  pollTimer = setInterval(() => {
    tick++;
    for (const r of rows.values()) {
      if (!isTerminal(r.run.status)) r.dur.textContent = fmtDuration(runDuration(r.run));
    }
    if (page !== 0 || document.hidden) return;
    if (!ctx.live.isSubscribed('runs')) {
      const anyActive = [...rows.values()].some((r) => !isTerminal(r.run.status));
      if (anyActive ? tick % 2 === 0 : tick % 3 === 0) load();
    } else if (tick % 15 === 0) {
      load(); // a safety net: events can be lost across a gateway restart
    }
  }, 1000);

  root.append(
    h('div.head', null, h('h1', null, 'Runs'), compareBtn),
    filters, err,
    h('div.table-wrap', null, table),
    h('div.pager', null, prevBtn, pageInfo, nextBtn),
    startForm(ctx),
  );
  updateCompare();
  load();

  return {
    dispose() {
      disposed = true;
      offRuns();
      clearInterval(pollTimer);
      clearTimeout(refetchTimer);
    },
  };
}

// A form that starts a run of any script or scenario. Also used elsewhere.
export function startForm(ctx, preset) {
  const sel = h('select', { id: 'start-what', required: true, 'data-testid': 'start-what' },
    h('option', { value: '' }, 'loading…'));
  const percent = h('input', { type: 'number', id: 'start-percent', min: 0, max: 10000, step: 'any', value: '100' });
  const duration = h('input', { type: 'text', id: 'start-duration', placeholder: 'as planned', size: 8, pattern: '[0-9.]+(us|ms|s|m|h)' });
  const err = errorBox(null);
  const btn = h('button.primary', { type: 'submit', 'data-testid': 'start-run' }, 'Start run');
  const form = h('form.card.start', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      setError(err, null);
      const [kind, id] = sel.value.split(':');
      if (!id) { setError(err, { message: 'choose a script or a scenario' }); return; }
      const body = { [kind === 'scenario' ? 'scenario_id' : 'script_id']: id };
      if (percent.value !== '' && Number(percent.value) !== 100) body.percent = Number(percent.value);
      if (duration.value.trim()) body.overrides = { load: { duration: duration.value.trim() } };
      await busy(btn, async () => {
        const run = await api.post('/v1/runs', body);
        ctx.navigate(`#/runs/${run.id}`);
      }, (e) => setError(err, e));
    },
  },
  h('h2', null, 'Start a run'),
  h('div.row', null, field('Script or scenario', sel), field('Load %', percent),
    field('Duration override', duration, 'e.g. 30s, 5m'), btn),
  err);

  loadTargets().then((t) => {
    clear(sel, h('option', { value: '' }, '— choose —'),
      h('optgroup', { label: 'Scenarios (every enabled script)' },
        t.scenarios.map((s) => h('option', { value: `scenario:${s.id}` }, s.label))),
      h('optgroup', { label: 'Scripts' },
        t.scripts.map((s) => h('option', { value: `script:${s.id}` }, s.label))));
    if (preset) sel.value = preset;
  }).catch((e) => {
    clear(sel, h('option', { value: '' }, 'could not load'));
    setError(err, e);
  });
  return form;
}

// Scenarios and scripts with readable labels ("project › scenario › script"),
// shared for a few seconds by the forms of one page.
let targetsCache = null;
export function loadTargets() {
  if (targetsCache && Date.now() - targetsCache.at < 5000) return targetsCache.promise;
  const promise = fetchTargets();
  targetsCache = { at: Date.now(), promise };
  promise.catch(() => { targetsCache = null; });
  return promise;
}

async function fetchTargets() {
  const [projects, scenarios, scripts] = await Promise.all([
    listAll('/v1/projects', { sort: 'name' }),
    listAll('/v1/scenarios', { sort: 'name' }),
    listAll('/v1/scripts', { sort: 'name' }),
  ]);
  const pn = new Map(projects.map((p) => [p.id, p.name]));
  const sn = new Map(scenarios.map((s) => [s.id, `${pn.get(s.project_id) || '?'} › ${s.name}`]));
  const sc = scenarios.map((s) => ({ id: s.id, label: sn.get(s.id) })).sort((a, b) => a.label.localeCompare(b.label));
  const sp = scripts.map((s) => ({ id: s.id, label: `${sn.get(s.scenario_id) || '?'} › ${s.name}` }))
    .sort((a, b) => a.label.localeCompare(b.label));
  return { scenarios: sc, scripts: sp, scenarioLabel: sn, scriptLabel: new Map(sp.map((s) => [s.id, s.label])) };
}

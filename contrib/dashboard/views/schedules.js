// Schedules: what they run, when (next fire times in their zone), the
// active toggle, their last fires; a form to add one.

import { api, qs, enc } from '../api.js';
import { h, clear, field, fmtTime, busy, errorBox, setError, hashWith } from '../util.js';
import { loadTargets } from './runs.js';

// '2026-12-02T02:30:00+01:00' -> '2026-12-02 02:30:00 +01:00' (the zone's wall clock, as the server gives it)
function fmtZoned(iso) {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(iso || '');
  return m ? `${m[1]} ${m[2]} ${m[3] === 'Z' ? 'UTC' : m[3]}` : iso || '–';
}

// An instant shown on the schedule zone's wall clock.
function fmtInZone(iso, tz) {
  try {
    return `${new Date(iso).toLocaleString(undefined, { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })}`;
  } catch {
    return fmtTime(iso);
  }
}

export function schedulesView(root, query, ctx) {
  const q = query.get('q') || '';
  const active = query.get('active') || '';
  let disposed = false;
  let targets = null;
  const err = errorBox(null);
  const tbody = h('tbody');
  const cursors = [null];
  let page = 0;

  const qInput = h('input', { type: 'search', id: 'sched-q', value: q, placeholder: 'name contains…' });
  const activeSel = h('select', { id: 'sched-active' },
    h('option', { value: '' }, 'any'), h('option', { value: 'true' }, 'active'), h('option', { value: 'false' }, 'inactive'));
  activeSel.value = active;
  const filters = h('form.filters', {
    role: 'search',
    onsubmit: (ev) => { ev.preventDefault(); ctx.navigate(hashWith('/schedules', { q: qInput.value.trim(), active: activeSel.value })); },
  }, field('Search', qInput), field('Active', activeSel), h('button', { type: 'submit' }, 'Filter'));
  activeSel.addEventListener('change', () => filters.requestSubmit());

  const prev = h('button', { type: 'button', onclick: () => { page--; load(); } }, '← Previous');
  const next = h('button', { type: 'button', onclick: () => { page++; load(); } }, 'Next →');

  function what(s) {
    if (s.scenario_id) {
      const label = targets && targets.scenarioLabel.get(s.scenario_id);
      return h('span', null, 'scenario ', h('a', { href: `#/scenarios/${s.scenario_id}` }, label || s.scenario_id.slice(0, 8)));
    }
    if (s.script_id) {
      const label = targets && targets.scriptLabel.get(s.script_id);
      return h('span', null, 'script ', h('a', { href: `#/scripts/${s.script_id}` }, label || s.script_id.slice(0, 8)));
    }
    return h('span.muted', null, '(deleted)');
  }

  function row(s) {
    const nextCell = h('td.next', { 'data-testid': 'schedule-next' }, h('span.muted', null, '…'));
    const fires = h('td');
    const toggle = h('input', {
      type: 'checkbox', role: 'switch', checked: s.active, id: `active-${s.id}`,
      'aria-label': `Active: ${s.name}`, 'data-testid': 'schedule-active',
    });
    const rowErr = h('div.error-box.small', { role: 'alert', hidden: true });
    toggle.addEventListener('change', () => busy(toggle, async () => {
      const want = toggle.checked;
      const upd = await api.patch(`/v1/schedules/${enc(s.id)}`, { active: want });
      Object.assign(s, upd);
      setError(rowErr, null);
      loadNext(s, nextCell);
    }, (e) => { toggle.checked = !toggle.checked; setError(rowErr, e); }));
    loadNext(s, nextCell);
    loadFires(s, fires);
    return h('tr', { 'data-testid': 'schedule-row', 'data-schedule-id': s.id },
      h('td', null, h('strong', null, s.name), h('div.small.muted', null, `overlap ${s.overlap}, misfire ${s.misfire}${s.percent !== 100 ? `, ${s.percent} %` : ''}`), rowErr),
      h('td', null, what(s)),
      h('td', null, s.cron ? h('code', null, s.cron) : h('span', null, 'once at ', fmtInZone(s.at, s.tz)), h('div.small.muted', null, s.tz)),
      h('td', null, h('label.switch', { for: `active-${s.id}` }, toggle, h('span', null, s.active ? 'on' : 'off'))),
      nextCell, fires);
  }

  async function loadNext(s, cell) {
    try {
      const r = await api.get(qs(`/v1/schedules/${enc(s.id)}/next`, { count: 3 }));
      if (disposed) return;
      const label = cell.parentElement && cell.parentElement.querySelector('label.switch span');
      if (label) label.textContent = r.active ? 'on' : 'off';
      clear(cell, r.items && r.items.length
        ? h('ul.times', null, r.items.map((t) => h('li', { title: `${fmtTime(t)} in your time zone` }, fmtZoned(t))))
        : h('span.muted', null, r.active === false ? 'inactive' : 'no more fires'),
      r.active === false && r.items && r.items.length ? h('div.small.muted', null, '(if activated)') : null);
    } catch (e) {
      clear(cell, h('span.bad', null, e.message));
    }
  }

  async function loadFires(s, cell) {
    try {
      const r = await api.get(qs(`/v1/schedules/${enc(s.id)}/fires`, { limit: 3 }));
      if (disposed) return;
      clear(cell, r.items.length ? h('ul.times', null, r.items.map((f) => h('li', null,
        fmtTime(f.due_at), ' ',
        f.run_id ? h('a', { href: `#/runs/${f.run_id}` }, f.outcome) : h('span', { class: f.outcome === 'failed' ? 'bad' : 'muted' }, f.outcome),
        f.detail ? h('span.small.muted', null, ` ${f.detail}`) : null)))
        : h('span.muted', null, 'none yet'),
      h('div', null, h('a.small', { href: hashWith('/runs', { schedule_id: s.id }) }, 'its runs')));
    } catch (e) {
      clear(cell, h('span.bad', null, e.message));
    }
  }

  async function load() {
    setError(err, null);
    try {
      const r = await api.get(qs('/v1/schedules', { q, active, limit: 50, cursor: cursors[page] }));
      if (disposed) return;
      cursors[page + 1] = r.next_cursor;
      prev.disabled = page === 0;
      next.disabled = !r.next_cursor;
      clear(tbody, r.items.length ? r.items.map(row) : h('tr', null, h('td.empty', { colspan: 6 }, 'No schedules.')));
    } catch (e) { setError(err, e); }
  }

  // Live: a schedule fired -> refresh
  const off = ctx.live.subscribe('runs', (msg) => {
    if (msg.type === 'event' && msg.kind === 'schedule_fire') load();
  });

  root.append(
    h('h1', null, 'Schedules'), filters, err,
    h('div.table-wrap', null, h('table.list', { 'data-testid': 'schedules-table' },
      h('thead', null, h('tr', null, ['Schedule', 'Runs', 'When', 'Active', 'Next fires', 'Last fires'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody)),
    h('div.pager', null, prev, next),
    createForm(),
  );

  loadTargets().then((t) => { targets = t; if (!disposed) load(); }).catch(() => load());

  function createForm() {
    const name = h('input', { type: 'text', id: 'new-sched-name', required: true });
    const target = h('select', { id: 'new-sched-target', required: true }, h('option', { value: '' }, 'loading…'));
    const kind = h('select', { id: 'new-sched-kind' }, h('option', { value: 'cron' }, 'cron expression'), h('option', { value: 'at' }, 'once, at'));
    const cron = h('input', { type: 'text', id: 'new-sched-cron', placeholder: '0 30 2 * * *  or  @daily', size: 18 });
    const at = h('input', { type: 'datetime-local', id: 'new-sched-at', step: 1 });
    let tzGuess = 'UTC';
    try { tzGuess = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { /* keep UTC */ }
    const tz = h('input', { type: 'text', id: 'new-sched-tz', value: tzGuess, size: 16 });
    const percent = h('input', { type: 'number', id: 'new-sched-percent', value: 100, min: 0, max: 10000, step: 'any' });
    const overlap = h('select', { id: 'new-sched-overlap' }, ['skip', 'allow', 'queue'].map((v) => h('option', { value: v }, v)));
    const misfire = h('select', { id: 'new-sched-misfire' }, ['run_once', 'skip'].map((v) => h('option', { value: v }, v)));
    const ferr = errorBox(null);
    const btn = h('button.primary', { type: 'submit' }, 'Create schedule');
    const cronField = field('Cron', cron, '5 or 6 fields, names, steps, macros');
    const atField = field('At (in the zone)', at);
    atField.hidden = true;
    kind.addEventListener('change', () => { cronField.hidden = kind.value !== 'cron'; atField.hidden = kind.value !== 'at'; });
    const inputs = { name, scenario_id: target, script_id: target, cron, at, tz, percent, overlap, misfire };
    const form = h('form.card', {
      onsubmit: async (ev) => {
        ev.preventDefault();
        setError(ferr, null);
        Object.values(inputs).forEach((i) => i.removeAttribute('aria-invalid'));
        const [k, tid] = target.value.split(':');
        const body = { name: name.value.trim(), tz: tz.value.trim() || 'UTC', overlap: overlap.value, misfire: misfire.value };
        if (tid) body[k === 'scenario' ? 'scenario_id' : 'script_id'] = tid;
        if (kind.value === 'cron') body.cron = cron.value.trim();
        else body.at = at.value.length === 16 ? `${at.value}:00` : at.value;
        if (Number(percent.value) !== 100) body.percent = Number(percent.value);
        await busy(btn, async () => {
          await api.post('/v1/schedules', body);
          name.value = '';
          cron.value = '';
          load();
        }, (e) => {
          setError(ferr, e);
          const i = inputs[e.field];
          if (i) { i.setAttribute('aria-invalid', 'true'); i.focus(); }
        });
      },
    }, h('h2', null, 'New schedule'),
    h('div.row', null, field('Name', name), field('Runs', target), field('Kind', kind), cronField, atField,
      field('Time zone', tz), field('Load %', percent), field('Overlap', overlap), field('Misfire', misfire), btn),
    ferr);
    loadTargets().then((t) => {
      clear(target, h('option', { value: '' }, '— choose —'),
        h('optgroup', { label: 'Scenarios' }, t.scenarios.map((s) => h('option', { value: `scenario:${s.id}` }, s.label))),
        h('optgroup', { label: 'Scripts' }, t.scripts.map((s) => h('option', { value: `script:${s.id}` }, s.label))));
    }).catch((e) => setError(ferr, e));
    return form;
  }

  return { dispose() { disposed = true; off(); } };
}

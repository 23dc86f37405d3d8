// Projects › scenarios › scripts: browse, create, start runs.

import { api, qs, enc } from '../api.js';
import { h, clear, field, fmtTime, busy, errorBox, setError, hashWith } from '../util.js';

// A paginated list: fetchPage(cursor) -> {items, next_cursor}; row(item) -> <tr>
function pagedTable(columns, fetchPage, row, emptyText, testid) {
  const tbody = h('tbody');
  const err = errorBox(null);
  const cursors = [null];
  let page = 0;
  const prev = h('button', { type: 'button', onclick: () => { page--; load(); } }, '← Previous');
  const next = h('button', { type: 'button', onclick: () => { page++; load(); } }, 'Next →');
  async function load() {
    setError(err, null);
    try {
      const res = await fetchPage(cursors[page]);
      cursors[page + 1] = res.next_cursor;
      clear(tbody, res.items.length ? res.items.map(row) : h('tr', null, h('td.empty', { colspan: columns.length }, emptyText)));
      prev.disabled = page === 0;
      next.disabled = !res.next_cursor;
      pager.hidden = page === 0 && !res.next_cursor;
    } catch (e) { setError(err, e); }
  }
  const pager = h('div.pager', null, prev, next);
  const el = h('div', null, err, h('div.table-wrap', null, h('table.list', { 'data-testid': testid },
    h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c)))), tbody)), pager);
  load();
  return { el, reload: load };
}

// A one-line create form: fields [{name, label, placeholder}] -> onCreate(values)
function createForm(title, fields, onCreate) {
  const inputs = fields.map((f) => h('input', { type: 'text', name: f.name, placeholder: f.placeholder || '', required: f.required }));
  const err = errorBox(null);
  const btn = h('button.primary', { type: 'submit' }, 'Create');
  const form = h('form.card', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      setError(err, null);
      const values = Object.fromEntries(fields.map((f, i) => [f.name, inputs[i].value.trim()]));
      await busy(btn, async () => {
        await onCreate(values);
        inputs.forEach((i) => { i.value = ''; });
      }, (e) => {
        setError(err, e);
        const i = fields.findIndex((f) => f.name === e.field);
        if (i >= 0) { inputs[i].setAttribute('aria-invalid', 'true'); inputs[i].focus(); }
      });
    },
  }, h('h2', null, title), h('div.row', null, fields.map((f, i) => field(f.label, inputs[i])), btn), err);
  return form;
}

export function projectsView(root, query, ctx) {
  const q = query.get('q') || '';
  const qInput = h('input', { type: 'search', id: 'projects-q', value: q, placeholder: 'name contains…' });
  const table = pagedTable(['Project', 'Description', 'Scenarios', 'Created'],
    (cursor) => api.get(qs('/v1/projects', { q, cursor, limit: 50, sort: 'name' })),
    (p) => h('tr', null,
      h('td', null, h('a', { href: `#/projects/${p.id}` }, p.name)),
      h('td', null, p.description || ''),
      h('td.num', null, String(p.scenarios ?? '')),
      h('td', null, fmtTime(p.created_at))),
    'No projects yet.', 'projects-table');
  root.append(
    h('h1', null, 'Projects'),
    h('form.filters', { role: 'search', onsubmit: (ev) => { ev.preventDefault(); ctx.navigate(hashWith('/projects', { q: qInput.value.trim() })); } },
      field('Search', qInput), h('button', { type: 'submit' }, 'Search')),
    table.el,
    createForm('New project', [
      { name: 'name', label: 'Name', required: true },
      { name: 'description', label: 'Description' },
    ], async (v) => {
      const p = await api.post('/v1/projects', v);
      ctx.navigate(`#/projects/${p.id}`);
    }),
  );
  return null;
}

export function projectView(root, id, query, ctx) {
  const err = errorBox(null);
  const title = h('h1', null, 'Project');
  const desc = h('p.muted');
  const crumbs = h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/projects' }, 'Projects'), ' › ', h('span', null, '…'));
  root.append(crumbs, title, desc, err);
  api.get(`/v1/projects/${enc(id)}`).then((p) => {
    clear(title, p.name);
    clear(crumbs, h('a', { href: '#/projects' }, 'Projects'), ' › ', h('span', null, p.name));
    desc.textContent = p.description || '';
    const table = pagedTable(['Scenario', 'Tags', 'Scripts', 'Updated', ''],
      (cursor) => api.get(qs(`/v1/projects/${enc(id)}/scenarios`, { cursor, limit: 50, sort: 'name' })),
      (s) => h('tr', null,
        h('td', null, h('a', { href: `#/scenarios/${s.id}` }, s.name), s.description ? h('div.muted.small', null, s.description) : null),
        h('td', null, (s.tags || []).map((t) => h('span.chip', null, t))),
        h('td.num', null, String(s.scripts ?? '')),
        h('td', null, fmtTime(s.updated_at)),
        h('td', null, h('a', { href: hashWith('/runs', { scenario_id: s.id }) }, 'runs'))),
      'No scenarios in this project yet.', 'scenarios-table');
    root.append(
      h('div.head', null, h('h2', null, 'Scenarios'), h('a', { href: hashWith('/runs', { project_id: id }) }, 'Runs of this project')),
      table.el,
      createForm('New scenario', [
        { name: 'name', label: 'Name', required: true },
        { name: 'description', label: 'Description' },
        { name: 'tags', label: 'Tags (comma-separated)' },
      ], async (v) => {
        const body = { name: v.name, description: v.description };
        if (v.tags) body.tags = v.tags.split(',').map((t) => t.trim()).filter(Boolean);
        const s = await api.post(`/v1/projects/${enc(id)}/scenarios`, body);
        ctx.navigate(`#/scenarios/${s.id}`);
      }),
    );
  }).catch((e) => setError(err, e));
  return null;
}

export function scenarioView(root, id, query, ctx) {
  const err = errorBox(null);
  const crumbs = h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/projects' }, 'Projects'));
  const title = h('h1', null, 'Scenario');
  root.append(crumbs, title, err);

  const runScript = (btn, body) => busy(btn, async () => {
    const run = await api.post('/v1/runs', body);
    ctx.navigate(`#/runs/${run.id}`);
  }, (e) => setError(err, e));

  Promise.all([api.get(`/v1/scenarios/${enc(id)}`)]).then(async ([s]) => {
    const p = await api.get(`/v1/projects/${enc(s.project_id)}`).catch(() => null);
    clear(crumbs, h('a', { href: '#/projects' }, 'Projects'), ' › ',
      p ? h('a', { href: `#/projects/${p.id}` }, p.name) : '?', ' › ', h('span', null, s.name));
    const runAll = h('button.primary', { type: 'button', 'data-testid': 'run-scenario' }, 'Run scenario');
    runAll.addEventListener('click', () => runScript(runAll, { scenario_id: id }));
    clear(title, s.name);
    const table = pagedTable(['Script', 'Enabled', 'Version', 'Updated', ''],
      (cursor) => api.get(qs(`/v1/scenarios/${enc(id)}/scripts`, { cursor, limit: 50, sort: 'name' })),
      (sc) => {
        const run = h('button.small', { type: 'button', 'aria-label': `Run ${sc.name}` }, 'Run');
        run.addEventListener('click', () => runScript(run, { script_id: sc.id }));
        return h('tr', null,
          h('td', null, h('a', { href: `#/scripts/${sc.id}` }, sc.name)),
          h('td', null, sc.enabled ? 'yes' : h('span.muted', null, 'no')),
          h('td.num', null, String(sc.version)),
          h('td', null, fmtTime(sc.updated_at)),
          h('td', null, run, ' ', h('a', { href: hashWith('/runs', { script_id: sc.id }) }, 'runs')));
      },
      'No scripts in this scenario yet.', 'scripts-table');
    root.append(
      h('p.muted', null, s.description || '', ' ', (s.tags || []).map((t) => h('span.chip', null, t))),
      h('div.buttons', null, runAll, h('a.button', { href: `#/scripts/new?scenario=${id}` }, 'New script'),
        h('a.button', { href: hashWith('/runs', { scenario_id: id }) }, 'Runs of this scenario')),
      h('h2', null, 'Scripts'),
      table.el,
    );
  }).catch((e) => setError(err, e));
  return null;
}

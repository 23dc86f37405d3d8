// The script editor: name, enabled, the definition as JSON; saves through
// the API and points at the server's field-path errors in the text; cURL
// paste-to-import; older versions.

import { api, qs, enc } from '../api.js';
import { locate, parsePath, lineCol } from '../jsonpos.js';
import { h, clear, field, fmtTime, busy, errorBox, setError } from '../util.js';

const TEMPLATE = {
  target: 'http://127.0.0.1:8080',
  steps: [{ name: 'home', path: '/' }],
  load: { executor: 'constant-vus', vus: 10, duration: '30s' },
  thresholds: { http_req_duration: ['p(95)<200'] },
};

const pretty = (v) => JSON.stringify(v, null, 2);

export function scriptView(root, id, query, ctx) {
  const isNew = id === 'new';
  let script = null;
  let scenarioId = isNew ? query.get('scenario') : null;
  let disposed = false;

  const crumbs = h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/projects' }, 'Projects'));
  const title = h('h1', null, isNew ? 'New script' : 'Script');
  const info = h('p.muted.small');
  const loadErr = errorBox(null);

  const name = h('input', { type: 'text', id: 'script-name', required: true, 'data-testid': 'script-name', autocomplete: 'off' });
  const enabled = h('input', { type: 'checkbox', id: 'script-enabled', checked: true });
  const editor = h('textarea.code', {
    id: 'script-definition', rows: 26, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off',
    'data-testid': 'script-definition', 'aria-describedby': 'script-error',
  });
  const problem = h('div.error-box', { id: 'script-error', role: 'alert', hidden: true, 'data-testid': 'script-error' });
  const saved = h('span.ok', { role: 'status', 'aria-live': 'polite' });
  const saveBtn = h('button.primary', { type: 'submit', 'data-testid': 'script-save' }, isNew ? 'Create script' : 'Save');
  const formatBtn = h('button', { type: 'button' }, 'Format JSON');
  const runBtn = h('button', { type: 'button', hidden: isNew, 'data-testid': 'script-run' }, 'Run this script');
  const versions = h('select', { id: 'script-version', hidden: isNew });
  const versionsField = field('Version', versions);
  versionsField.hidden = isNew;

  // Shows an error; a field path under definition is found in the text.
  function showProblem(e) {
    name.removeAttribute('aria-invalid');
    editor.removeAttribute('aria-invalid');
    if (!e) { problem.hidden = true; problem.replaceChildren(); return; }
    problem.hidden = false;
    const f = e.field || '';
    const parts = [];
    if (f === 'name') {
      name.setAttribute('aria-invalid', 'true');
      name.focus();
    } else if (f === 'definition' || f.startsWith('definition.') || f.startsWith('definition[')) {
      editor.setAttribute('aria-invalid', 'true');
      const text = editor.value;
      const where = locate(text, parsePath(f).slice(1));
      if (where) {
        const { line, col } = lineCol(text, where.start);
        const jump = h('button.link', { type: 'button', 'data-testid': 'script-error-jump' },
          `line ${line}, column ${col}${where.exact ? '' : ' (the field is missing here)'}`);
        jump.addEventListener('click', () => select(where.start, where.end, line));
        parts.push(' — ', jump);
        select(where.start, where.end, line);
      }
    }
    const message = e.field && e.message.startsWith(`${e.field}: `) ? e.message.slice(e.field.length + 2) : e.message;
    clear(problem, f ? h('code', { 'data-testid': 'script-error-field' }, f) : null, f ? ': ' : null,
      h('span', { 'data-testid': 'script-error-message' }, message), parts);
  }

  function select(start, end, line) {
    editor.focus();
    editor.setSelectionRange(start, end);
    const lh = parseFloat(getComputedStyle(editor).lineHeight) || 18;
    editor.scrollTop = Math.max(0, (line - 4) * lh);
  }

  function parseEditor() {
    try {
      return JSON.parse(editor.value);
    } catch (e) {
      const m = /position (\d+)/.exec(e.message);
      const err = { field: 'definition', message: `not valid JSON: ${e.message}` };
      showProblem(err);
      if (m) {
        const { line } = lineCol(editor.value, Number(m[1]));
        select(Number(m[1]), Number(m[1]) + 1, line);
      }
      return undefined;
    }
  }

  formatBtn.addEventListener('click', () => {
    const d = parseEditor();
    if (d !== undefined) { editor.value = pretty(d); showProblem(null); }
  });

  const form = h('form.editor', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      saved.textContent = '';
      showProblem(null);
      const definition = parseEditor();
      if (definition === undefined) return;
      const body = { name: name.value.trim(), enabled: enabled.checked, definition };
      await busy(saveBtn, async () => {
        if (isNew) {
          if (!scenarioId) throw Object.assign(new Error('open “New script” from a scenario'), { field: 'scenario_id' });
          const s = await api.post(`/v1/scenarios/${enc(scenarioId)}/scripts`, body);
          ctx.navigate(`#/scripts/${s.id}`);
          return;
        }
        script = await api.patch(`/v1/scripts/${enc(id)}`, body);
        editor.value = pretty(script.definition ?? definition);
        saved.textContent = `Saved as version ${script.version}.`;
        renderInfo();
        loadVersions();
      }, showProblem);
    },
  },
  h('div.row', null, field('Name', name), h('div.field.check', null, enabled, h('label', { for: 'script-enabled' }, 'Enabled')), versionsField),
  h('label', { for: 'script-definition' }, 'Definition (JSON, see docs/script-format.md)'),
  editor, problem,
  h('div.buttons', null, saveBtn, formatBtn, runBtn, saved));

  runBtn.addEventListener('click', () => busy(runBtn, async () => {
    const run = await api.post('/v1/runs', { script_id: id });
    ctx.navigate(`#/runs/${run.id}`);
  }, showProblem));

  versions.addEventListener('change', () => busy(versions, async () => {
    const v = await api.get(`/v1/scripts/${enc(id)}/versions/${enc(versions.value)}`);
    editor.value = pretty(v.definition);
    saved.textContent = script && Number(versions.value) !== script.version
      ? `Showing version ${versions.value}; Save makes it the current one.` : '';
  }, showProblem));

  // cURL import
  const curl = h('textarea.code', { id: 'curl-command', rows: 4, spellcheck: 'false', placeholder: "curl -X POST 'http://127.0.0.1:8080/api' -H 'Content-Type: application/json' -d '{\"a\":1}'", 'data-testid': 'curl-command' });
  const curlBtn = h('button', { type: 'submit', 'data-testid': 'curl-import' }, 'Import into the editor');
  const curlErr = errorBox(null);
  const curlNotes = h('ul.notes');
  const curlForm = h('form.card', {
    onsubmit: async (ev) => {
      ev.preventDefault();
      setError(curlErr, null);
      curlNotes.replaceChildren();
      await busy(curlBtn, async () => {
        const r = await api.post('/v1/import/curl', { command: curl.value });
        editor.value = pretty(r.definition);
        if (!name.value.trim() && r.definition.steps && r.definition.steps[0]) name.value = r.definition.steps[0].name || '';
        showProblem(null);
        clear(curlNotes, (r.notes || []).map((n) => h('li', null, n)));
        saved.textContent = 'Imported: review, then save.';
      }, (e) => setError(curlErr, e));
    },
  }, h('h2', null, 'Import a cURL command'),
  h('label', { for: 'curl-command' }, 'Paste a command (from the browser\'s “Copy as cURL”)'),
  curl, h('div.buttons', null, curlBtn), curlErr, curlNotes);

  root.append(crumbs, title, info, loadErr, form, curlForm);

  function renderInfo() {
    if (!script) return;
    info.textContent = `version ${script.version} · updated ${fmtTime(script.updated_at)} · id ${script.id}`;
  }

  async function loadVersions() {
    try {
      const all = [];
      let cursor = null;
      do {
        const page = await api.get(qs(`/v1/scripts/${enc(id)}/versions`, { limit: 200, cursor }));
        all.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor && all.length < 1000);
      all.sort((a, b) => b.version - a.version);
      clear(versions, all.map((v) => h('option', { value: v.version }, `v${v.version} · ${fmtTime(v.created_at)}`)));
      versions.value = String(script.version);
      versions.hidden = false;
    } catch (e) {
      versionsField.hidden = true;
      console.warn('versions:', e.message);
    }
  }

  async function crumbsFor(scId, last) {
    try {
      const sc = await api.get(`/v1/scenarios/${enc(scId)}`);
      const p = await api.get(`/v1/projects/${enc(sc.project_id)}`);
      if (disposed) return;
      clear(crumbs, h('a', { href: '#/projects' }, 'Projects'), ' › ', h('a', { href: `#/projects/${p.id}` }, p.name),
        ' › ', h('a', { href: `#/scenarios/${sc.id}` }, sc.name), ' › ', h('span', null, last));
    } catch (e) { setError(loadErr, e); }
  }

  if (isNew) {
    editor.value = pretty(TEMPLATE);
    if (scenarioId) crumbsFor(scenarioId, 'new script');
    else setError(loadErr, { message: 'No scenario given: open “New script” from a scenario page.' });
  } else {
    api.get(`/v1/scripts/${enc(id)}`).then((s) => {
      if (disposed) return;
      script = s;
      scenarioId = s.scenario_id;
      clear(title, s.name);
      name.value = s.name;
      enabled.checked = s.enabled !== false;
      editor.value = pretty(s.definition);
      renderInfo();
      crumbsFor(s.scenario_id, s.name);
      loadVersions();
    }).catch((e) => setError(loadErr, e));
  }

  return { dispose() { disposed = true; } };
}

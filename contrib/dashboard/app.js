// Stampede dashboard: boot, hash router, token prompt, live status.
//
// Routes:
//   #/runs[?status=&q=&script_id=&scenario_id=&project_id=&schedule_id=]
//   #/runs/<id>
//   #/compare?ids=a,b[&baseline=a]
//   #/projects, #/projects/<id>, #/scenarios/<id>
//   #/scripts/<id>, #/scripts/new?scenario=<id>
//   #/schedules

import { config, getToken, setToken, onUnauthorized } from './api.js';
import { LiveClient } from './live.js';
import { h, clear, parseHash } from './util.js';
import { runsView } from './views/runs.js';
import { runView } from './views/run.js';
import { compareView } from './views/compare.js';
import { projectsView, projectView, scenarioView } from './views/projects.js';
import { scriptView } from './views/script.js';
import { schedulesView } from './views/schedules.js';

const live = new LiveClient(config.live, getToken);
const main = document.getElementById('main');
const alerts = document.getElementById('alerts');
let current = null; // {dispose}

const ctx = {
  live,
  config,
  navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  alert: showAlert,
};

function showAlert(err, kind = 'error') {
  const msg = err && err.message ? err.message : String(err);
  const item = h('div.alert', { class: `alert-${kind}` },
    h('span', null, msg),
    h('button.link', { type: 'button', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×'));
  alerts.appendChild(item);
  if (kind !== 'error') setTimeout(() => item.remove(), 4000);
  while (alerts.children.length > 4) alerts.firstChild.remove();
}

function route() {
  const { parts, query } = parseHash(location.hash);
  if (current && current.dispose) {
    try { current.dispose(); } catch (e) { console.error(e); }
  }
  current = null;
  alerts.replaceChildren();
  const [section, id] = parts;
  for (const a of document.querySelectorAll('nav.main a')) {
    a.toggleAttribute('aria-current', a.dataset.section === (section === 'compare' ? 'runs' : section === 'scenarios' || section === 'scripts' ? 'projects' : section || 'runs'));
  }
  const view = h('div.view');
  clear(main, view);
  let make;
  if (!section || section === 'runs') make = id ? () => runView(view, id, query, ctx) : () => runsView(view, query, ctx);
  else if (section === 'compare') make = () => compareView(view, query, ctx);
  else if (section === 'projects') make = id ? () => projectView(view, id, query, ctx) : () => projectsView(view, query, ctx);
  else if (section === 'scenarios' && id) make = () => scenarioView(view, id, query, ctx);
  else if (section === 'scripts' && id) make = () => scriptView(view, id, query, ctx);
  else if (section === 'schedules') make = () => schedulesView(view, query, ctx);
  else {
    view.append(h('h1', null, 'Not found'), h('p', null, 'No page at ', h('code', null, location.hash), '. ',
      h('a', { href: '#/runs' }, 'Go to the runs.')));
    return;
  }
  try {
    current = make() || null;
  } catch (e) {
    console.error(e);
    view.append(h('div.error-box', { role: 'alert' }, `This page failed: ${e.message}`));
  }
  document.title = `Stampede · ${section || 'runs'}`;
}

// --- the token ---------------------------------------------------------

let tokenDialog = null;
let tokenWaiters = [];
function askToken(reason) {
  return new Promise((resolve) => {
    tokenWaiters.push(resolve);
    if (tokenDialog && tokenDialog.open) return;
    const input = h('input', { type: 'password', id: 'token-input', autocomplete: 'off', required: true, 'data-testid': 'token-input' });
    const form = h('form', { method: 'dialog' },
      h('h2', null, 'API token'),
      h('p', null, reason || 'This server needs a token for its API. It is kept in this browser (localStorage).'),
      h('label', { for: 'token-input' }, 'Token'), input,
      h('div.row', null, h('button.primary', { type: 'submit', 'data-testid': 'token-save' }, 'Save')));
    tokenDialog = h('dialog.token', { 'aria-labelledby': 'token-title' }, form);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      setToken(t);
      tokenDialog.close();
      tokenDialog.remove();
      live.reconnect();
      const ws = tokenWaiters;
      tokenWaiters = [];
      ws.forEach((r) => r(t));
    });
    tokenDialog.addEventListener('cancel', (ev) => ev.preventDefault());
    document.body.appendChild(tokenDialog);
    tokenDialog.showModal();
    input.focus();
  });
}

let asking = false;
onUnauthorized(async () => {
  if (asking) return;
  asking = true;
  setToken('');
  await askToken('The server refused the token (401). Enter the API token.');
  asking = false;
  route();
});

// --- header ------------------------------------------------------------

function header() {
  const dot = h('span.dot');
  const label = h('span', null, 'live');
  const status = h('span.live-status', { 'data-testid': 'live-status', role: 'status', title: '' }, dot, label);
  live.onStatus((s, detail) => {
    status.dataset.state = s;
    label.textContent = s === 'open' ? 'live' : s === 'connecting' ? 'connecting…' : s === 'idle' ? 'live idle' :
      s === 'off' ? 'live off (polling)' : 'live down (polling)';
    status.title = detail || s;
  });
  const nav = h('nav.main', { 'aria-label': 'Sections' },
    h('a', { href: '#/runs', 'data-section': 'runs' }, 'Runs'),
    h('a', { href: '#/projects', 'data-section': 'projects' }, 'Projects'),
    h('a', { href: '#/schedules', 'data-section': 'schedules' }, 'Schedules'));
  const right = h('div.right', null, status,
    config.auth ? h('button.small', { type: 'button', onclick: async () => { await askToken('Enter a new API token.'); route(); } }, 'Token') : null);
  return h('div.bar', null, h('a.brand', { href: '#/runs' }, 'Stampede'), nav, right);
}

async function boot() {
  clear(document.getElementById('top'), header());
  if (config.auth && !getToken()) await askToken();
  window.addEventListener('hashchange', route);
  if (!location.hash || location.hash === '#' || location.hash === '#/') history.replaceState(null, '', '#/runs');
  route();
}

boot();

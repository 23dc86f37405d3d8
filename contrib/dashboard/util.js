// Small DOM and formatting helpers shared by the views. No innerHTML with
// data anywhere: every piece of text from the API goes in as a text node.

// h('tag.class', {attr: value, onclick: fn, dataset...}, ...children)
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = [el.className, v].filter(Boolean).join(' ');
      else if (k === 'text') el.textContent = v;
      else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function link(href, text, attrs) {
  return h('a', { href, ...attrs }, text);
}

const TERMINAL = new Set(['finished', 'failed', 'cancelled', 'interrupted']);
const ACTIVE = ['queued', 'starting', 'running', 'paused', 'stopping'];
export const STATES = [...ACTIVE, ...TERMINAL];
export const ACTIVE_STATES = ACTIVE;
export const isTerminal = (s) => TERMINAL.has(s);

export function badge(state, attrs) {
  return h('span.badge', { class: `st-${state}`, ...attrs }, state || 'unknown');
}

const nf0 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const nf2 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export function fmtInt(v) {
  return v === null || v === undefined || Number.isNaN(v) ? '–' : nf0.format(v);
}
export function fmtNum(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return Math.abs(v) >= 100 ? nf0.format(v) : Math.abs(v) >= 10 ? nf1.format(v) : nf2.format(v);
}
export function fmtMs(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (v >= 1000) return `${nf2.format(v / 1000)} s`;
  return `${v >= 100 ? nf0.format(v) : v >= 10 ? nf1.format(v) : nf2.format(v)} ms`;
}
export function fmtPct(v, digits = 2) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  return `${(v * 100).toFixed(digits)} %`;
}
export function fmtBytes(v) {
  if (v === null || v === undefined) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${i ? nf1.format(v) : v} ${u[i]}`;
}
export function fmtTime(iso) {
  if (!iso) return '–';
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, {
    year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}
export function fmtClock(d) {
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
export function fmtDuration(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return '–';
  s = Math.max(0, Math.round(s));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  if (hh) return `${hh}h ${mm}m ${ss}s`;
  if (mm) return `${mm}m ${ss}s`;
  return `${ss}s`;
}
export function runDuration(run) {
  if (!run.started_at) return null;
  const end = run.finished_at ? Date.parse(run.finished_at) : Date.now();
  return (end - Date.parse(run.started_at)) / 1000;
}

// "key=value key2=value2" for an event's detail object.
export function fmtDetail(detail) {
  if (!detail || typeof detail !== 'object') return detail ? String(detail) : '';
  return Object.entries(detail)
    .map(([k, v]) => `${k}=${v !== null && typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' ');
}

// The hash route: '#/runs/abc?x=1' -> {parts: ['runs', 'abc'], query: URLSearchParams}
export function parseHash(hash) {
  const raw = (hash || '').replace(/^#\/?/, '');
  const qi = raw.indexOf('?');
  const path = qi >= 0 ? raw.slice(0, qi) : raw;
  const query = new URLSearchParams(qi >= 0 ? raw.slice(qi + 1) : '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, query };
}

export function hashWith(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString().replace(/%2C/gi, ',');
  return `#${path}${s ? `?${s}` : ''}`;
}

// A field with a label: returns the wrapper; the control keeps its own id.
let uid = 0;
export function field(labelText, control, hint) {
  if (!control.id) control.id = `f${++uid}`;
  return h('div.field', null,
    h('label', { for: control.id }, labelText),
    control,
    hint ? h('small.hint', null, hint) : null);
}

export function errorBox(err, attrs) {
  if (!err) return h('div.error-box', { hidden: true, role: 'alert', ...attrs });
  const msg = err.message || String(err);
  return h('div.error-box', { role: 'alert', ...attrs },
    err.field ? h('code', null, err.field) : null, err.field ? ': ' : null, msg);
}

export function setError(box, err) {
  if (!err) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.hidden = false;
  clear(box, err.field ? h('code', null, err.field) : null, err.field ? ' ' : null,
    err.message || String(err));
}

// Runs fn with the button disabled while it runs; errors go to onError.
export async function busy(button, fn, onError) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } catch (e) {
    if (onError) onError(e);
    else throw e;
  } finally {
    button.disabled = was;
    button.removeAttribute('aria-busy');
  }
}

export function shortId(id) {
  return id ? id.slice(0, 8) : '–';
}

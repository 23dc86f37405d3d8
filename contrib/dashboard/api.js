// The REST client: same-origin /v1/..., JSON in and out, the bearer token
// from localStorage, every error turned into an ApiError with the server's
// code, message and field path.

const TOKEN_KEY = 'stampede.token';
const TIMEOUT_MS = 15000;

export const config = Object.assign(
  { live: defaultLiveUrl(), auth: false },
  typeof window !== 'undefined' && window.STAMPEDE ? window.STAMPEDE : {},
);

function defaultLiveUrl() {
  if (typeof location === 'undefined') return null;
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/v1/live`;
}

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field ?? null;
  }
}

let unauthorizedHandler = null;
export function onUnauthorized(fn) { unauthorizedHandler = fn; }

let memoryToken = '';
export function getToken() {
  try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
}
export function setToken(t) {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t);
    else localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lives as long as the page */ }
  memoryToken = t || '';
}
const token = () => getToken() || memoryToken;

function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

async function request(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const signals = [AbortSignal.timeout(opts.timeout || TIMEOUT_MS)];
  if (opts.signal) signals.push(opts.signal);
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.any(signals),
      cache: 'no-store',
    });
  } catch (e) {
    if (opts.signal && opts.signal.aborted) throw e;
    if (e.name === 'TimeoutError') throw new ApiError(0, 'timeout', `${method} ${path}: no answer within ${(opts.timeout || TIMEOUT_MS) / 1000} s`);
    throw new ApiError(0, 'network', `${method} ${path}: cannot reach the server (${e.message})`);
  }
  if (opts.raw) {
    if (!res.ok) throw await toError(res, method, path);
    return res;
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch {
      if (res.ok) throw new ApiError(res.status, 'bad_response', `${method} ${path}: the answer is not JSON`);
    }
  }
  if (!res.ok) {
    const e = data && data.error ? data.error : {};
    const err = new ApiError(res.status, e.code || `http_${res.status}`,
      e.message || `${method} ${path}: ${res.status} ${res.statusText}`, e.field);
    if (res.status === 401 && unauthorizedHandler) unauthorizedHandler(err);
    throw err;
  }
  return data;
}

async function toError(res, method, path) {
  let e = {};
  try { e = (await res.json()).error || {}; } catch { /* not JSON */ }
  return new ApiError(res.status, e.code || `http_${res.status}`,
    e.message || `${method} ${path}: ${res.status} ${res.statusText}`, e.field);
}

export const api = {
  get: (path, opts) => request('GET', path, undefined, opts),
  post: (path, body, opts) => request('POST', path, body === undefined ? {} : body, opts),
  patch: (path, body, opts) => request('PATCH', path, body, opts),
  del: (path, opts) => request('DELETE', path, undefined, opts),
  raw: (path, opts) => request('GET', path, undefined, { ...opts, raw: true }),
};

// '/v1/runs' + {limit: 20, q: ''} -> '/v1/runs?limit=20' (empty values left out).
// Commas, colons, slashes and @ stay as they are (RFC 3986 allows them in a
// query): lists like ids=a,b and status=a,b and RFC 3339 times are read
// verbatim by the server, which does not percent-decode query values.
export function qs(path, params) {
  const parts = [];
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    const val = encodeURIComponent(String(v)).replace(/%2C/gi, ',').replace(/%3A/gi, ':').replace(/%2F/gi, '/').replace(/%40/g, '@');
    parts.push(`${encodeURIComponent(k)}=${val}`);
  }
  return parts.length ? `${path}?${parts.join('&')}` : path;
}

export const enc = encodeURIComponent;

// Downloads an API resource (with the token) as a file.
export async function download(path, filename) {
  const res = await api.raw(path);
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Every item of a list (following next_cursor), up to max items.
export async function listAll(path, params, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const page = await api.get(qs(path, { ...params, limit: 200, cursor }));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

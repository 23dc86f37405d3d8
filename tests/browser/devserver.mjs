#!/usr/bin/env node
// A development server for the dashboard, for when `stampede serve` does
// not serve it (or its live gateway) yet. Loopback only.
//
//   node tests/browser/devserver.mjs --api http://127.0.0.1:8420 [--listen 127.0.0.1:0] [--live mock|off]
//
// It serves the dashboard as the C server will (GET / -> index.html,
// /ui/<path> -> contrib/dashboard/<path>, /ui/vendor/uPlot.* from
// node_modules/uplot/dist, /ui/config.js generated), forwards /v1/...,
// /healthz and /metrics to --api, and with --live mock (the default)
// answers the WebSocket protocol of /v1/live itself, building frames and
// state events by polling the REST API once a second (so about a second
// behind the real gateway). With --live off, /v1/live refuses upgrades, to
// try the dashboard's polling fallback. It prints `LISTEN <url>` when ready.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dash = path.resolve(here, '../../contrib/dashboard');
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true']);
  return acc;
}, []));
const apiBase = new URL(args.api || 'http://127.0.0.1:8420');
const [listenHost, listenPort] = (args.listen || '127.0.0.1:0').split(':');
const liveMode = args.live || 'mock';
const envToken = process.env.STAMPEDE_API_TOKEN || '';

for (const host of [apiBase.hostname, listenHost]) {
  if (!/^(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)$/.test(host)) {
    console.error(`devserver: ${host} is not a loopback address`);
    process.exit(2);
  }
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png' };

function sendFile(res, file) {
  fs.readFile(file, (err, buf) => {
    if (err) { res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end('not found\n'); return; }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache' });
    res.end(buf);
  });
}

// --- REST helper for the mock gateway
async function rest(p, token) {
  const headers = { Accept: 'application/json' };
  const t = token || envToken;
  if (t) headers.Authorization = `Bearer ${t}`;
  const r = await fetch(new URL(p, apiBase), { headers, signal: AbortSignal.timeout(5000) });
  if (!r.ok) throw new Error(`${p}: ${r.status}`);
  return r.json();
}

let authNeeded = false;
try {
  const r = await fetch(new URL('/v1/projects?limit=1', apiBase), { signal: AbortSignal.timeout(5000) });
  authNeeded = r.status === 401;
} catch (e) {
  console.error(`devserver: the API at ${apiBase} does not answer (${e.message}); serving anyway`);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const p = decodeURIComponent(url.pathname);
  if (req.method === 'GET' && (p === '/' || p === '/index.html')) return sendFile(res, path.join(dash, 'index.html'));
  if (req.method === 'GET' && p === '/ui/config.js') {
    const host = req.headers.host || `${listenHost}:${server.address().port}`;
    const cfg = { live: `ws://${host}/v1/live`, auth: authNeeded };
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
    return res.end(`window.STAMPEDE = ${JSON.stringify(cfg)};\n`);
  }
  if (req.method === 'GET' && (p === '/ui/vendor/uPlot.iife.min.js' || p === '/ui/vendor/uPlot.min.css')) {
    return sendFile(res, path.join(dash, 'node_modules/uplot/dist', path.basename(p)));
  }
  if (req.method === 'GET' && p.startsWith('/ui/')) {
    const rel = path.normalize(p.slice(4));
    const file = path.join(dash, rel);
    if (rel.startsWith('..') || path.isAbsolute(rel) || rel.split(path.sep).includes('node_modules') || !file.startsWith(dash + path.sep)) {
      res.writeHead(404); return res.end();
    }
    return sendFile(res, file);
  }
  if (p.startsWith('/v1/') || p === '/healthz' || p === '/metrics') {
    const headers = { ...req.headers, host: apiBase.host };
    const up = http.request({ hostname: apiBase.hostname, port: apiBase.port, method: req.method, path: req.url, headers }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', (e) => { res.writeHead(502, { 'Content-Type': 'application/json' }); res.end(JSON.stringify({ error: { code: 'bad_gateway', message: e.message, field: null } })); });
    req.pipe(up);
    return undefined;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found\n');
  return undefined;
});

// --- a minimal WebSocket server (RFC 6455: text frames, ping, close)
const clients = new Set();

function wsSend(c, obj) {
  if (c.closed) return;
  const payload = Buffer.from(JSON.stringify(obj));
  let head;
  if (payload.length < 126) head = Buffer.from([0x81, payload.length]);
  else if (payload.length < 65536) { head = Buffer.alloc(4); head[0] = 0x81; head[1] = 126; head.writeUInt16BE(payload.length, 2); }
  else { head = Buffer.alloc(10); head[0] = 0x81; head[1] = 127; head.writeBigUInt64BE(BigInt(payload.length), 2); }
  c.socket.write(Buffer.concat([head, payload]));
}

function wsControl(c, opcode, payload = Buffer.alloc(0)) {
  if (!c.closed) c.socket.write(Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]));
}

server.on('upgrade', (req, socket) => {
  const p = new URL(req.url, 'http://x').pathname;
  if (p !== '/v1/live' || liveMode !== 'mock' || !req.headers['sec-websocket-key']) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  const accept = crypto.createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const c = { socket, subs: new Set(), token: '', closed: false, buf: Buffer.alloc(0), frag: [] };
  clients.add(c);
  const drop = () => { c.closed = true; clients.delete(c); };
  socket.on('close', drop);
  socket.on('error', drop);
  socket.on('data', (chunk) => {
    c.buf = Buffer.concat([c.buf, chunk]);
    for (;;) {
      if (c.buf.length < 2) return;
      const fin = c.buf[0] & 0x80, op = c.buf[0] & 0x0f, masked = c.buf[1] & 0x80;
      let len = c.buf[1] & 0x7f, off = 2;
      if (len === 126) { if (c.buf.length < 4) return; len = c.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (c.buf.length < 10) return; len = Number(c.buf.readBigUInt64BE(2)); off = 10; }
      const need = off + (masked ? 4 : 0) + len;
      if (c.buf.length < need) return;
      const mask = masked ? c.buf.subarray(off, off + 4) : null;
      const data = Buffer.from(c.buf.subarray(need - len, need));
      if (mask) for (let i = 0; i < data.length; i++) data[i] ^= mask[i & 3];
      c.buf = c.buf.subarray(need);
      if (op === 8) { wsControl(c, 8, data.subarray(0, 2)); socket.end(); drop(); return; }
      if (op === 9) { wsControl(c, 10, data); continue; }
      if (op === 10) continue;
      if (op === 1 || op === 0) {
        c.frag.push(data);
        if (!fin) continue;
        const text = Buffer.concat(c.frag).toString('utf8');
        c.frag = [];
        onMessage(c, text);
      }
    }
  });
});

function onMessage(c, text) {
  let m;
  try { m = JSON.parse(text); } catch { wsSend(c, { type: 'error', message: 'not JSON' }); return; }
  if (typeof m.token === 'string') { c.token = m.token; return; }
  const ch = m.subscribe || m.unsubscribe;
  if (typeof ch !== 'string' || !(ch === 'runs' || /^run:[0-9a-f-]{36}$/.test(ch))) {
    wsSend(c, { type: 'error', message: `unknown message: ${text.slice(0, 100)}` });
    return;
  }
  if (m.subscribe) {
    c.subs.add(ch);
    wsSend(c, { type: 'subscribed', channel: ch });
    if (ch.startsWith('run:')) watchRun(ch.slice(4), c);
  } else {
    c.subs.delete(ch);
    wsSend(c, { type: 'unsubscribed', channel: ch });
  }
}

function broadcast(channel, msg) {
  for (const c of clients) if (c.subs.has(channel)) wsSend(c, msg);
}
const anyToken = () => [...clients].map((c) => c.token).find(Boolean) || '';

// --- run frames, rebuilt from the stored per-second series
const TERMINAL = new Set(['finished', 'failed', 'cancelled', 'interrupted']);
const watchers = new Map();

function nonZero(o) {
  return Object.fromEntries(Object.entries(o || {}).filter(([, v]) => v));
}

async function watchRun(id, client) {
  let w = watchers.get(id);
  if (w) {
    for (const f of w.last.values()) wsSend(client, f);
    return;
  }
  w = { id, last: new Map(), per: new Map(), busy: false, run: null, done: false };
  watchers.set(id, w);
  await pollRun(w, true);
  for (const f of w.last.values()) wsSend(client, f);
  w.timer = setInterval(() => pollRun(w, false), 1000);
}

async function pollRun(w, first) {
  if (w.busy) return;
  w.busy = true;
  try {
    const token = anyToken();
    const run = await rest(`/v1/runs/${w.id}`, token);
    w.run = run;
    const over = TERMINAL.has(run.status);
    for (const s of run.scripts || []) {
      let st = w.per.get(s.script_id);
      if (!st) {
        st = { lastT: -1, totals: { requests: 0, failed: 0, iterations: 0, dropped_iterations: 0, retries: 0, bytes_in: 0, bytes_out: 0 }, finalSent: false };
        w.per.set(s.script_id, st);
      }
      const base = `/v1/runs/${w.id}/series?resolution=1s&script_id=${s.script_id}&from=${st.lastT + 1}`;
      const items = (await rest(base, token)).items;
      if (!items.length && !(over && !st.finalSent)) continue;
      const steps = {};
      for (const step of (s.definition && s.definition.steps) || []) {
        if (!step.name) continue;
        for (const b of (await rest(`${base}&step=${encodeURIComponent(step.name)}`, token)).items) {
          (steps[b.t] ||= {})[step.name] = {
            requests: b.requests, failed: b.failed, rps: b.rps, errors: nonZero(b.errors),
            latency_ms: { corrected: b.latency_ms.corrected, uncorrected: b.latency_ms.uncorrected },
          };
        }
      }
      const started = Date.parse(run.started_at || run.created_at);
      items.forEach((b, i) => {
        const t = st.totals;
        t.requests += b.requests; t.failed += b.failed; t.iterations += b.iterations || 0;
        t.dropped_iterations += b.dropped_iterations || 0; t.bytes_in += b.bytes_in || 0; t.bytes_out += b.bytes_out || 0;
        const final = over && i === items.length - 1;
        const frame = {
          type: 'frame', run_id: w.id, script_id: s.script_id, script: s.name, state: run.status, final,
          t_ms: started + Math.round((b.t + b.span_s) * 1000), second: b.t, elapsed_s: b.t + b.span_s, span_s: b.span_s,
          warmup: b.warmup, vus: b.vus, vus_max: b.vus_max, rps: b.rps, ...t,
          second_counts: { requests: b.requests, failed: b.failed, iterations: b.iterations || 0, dropped_iterations: b.dropped_iterations || 0, retries: 0, bytes_in: b.bytes_in, bytes_out: b.bytes_out },
          errors: nonZero(b.errors), status_codes: b.status_codes || {}, latency_ms: b.latency_ms, steps: steps[b.t] || {},
        };
        st.lastT = b.t;
        w.last.set(s.script_id, frame);
        if (final) st.finalSent = true;
        if (!first) broadcast(`run:${w.id}`, frame);
      });
      if (over && !st.finalSent && w.last.has(s.script_id)) {
        const f = { ...w.last.get(s.script_id), final: true, state: run.status };
        st.finalSent = true;
        if (!first) broadcast(`run:${w.id}`, f);
      }
    }
    const watched = [...clients].some((c) => c.subs.has(`run:${w.id}`));
    if ((over && [...w.per.values()].every((s) => s.finalSent || s.lastT < 0)) || !watched) {
      clearInterval(w.timer);
      watchers.delete(w.id);
    }
  } catch (e) {
    console.error(`devserver: run ${w.id}: ${e.message}`);
  } finally {
    w.busy = false;
  }
}

// --- the runs channel: state changes seen by polling the runs list (all
// the time, so that a change right after a subscription is not taken for
// the starting point)
let known = null;
setInterval(async () => {
  if (liveMode !== 'mock') return;
  try {
    const list = await rest('/v1/runs?limit=50', anyToken());
    const now = Date.now();
    const next = new Map(list.items.map((r) => [r.id, r.status]));
    if (known) {
      for (const [id, state] of next) {
        if (known.get(id) !== state) broadcast('runs', { type: 'event', kind: 'state', run_id: id, state, t_ms: now, detail: {} });
      }
    }
    known = next;
  } catch (e) {
    console.error(`devserver: runs: ${e.message}`);
  }
}, 1000);

server.listen(Number(listenPort), listenHost, () => {
  const a = server.address();
  console.log(`LISTEN http://${a.address}:${a.port}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));

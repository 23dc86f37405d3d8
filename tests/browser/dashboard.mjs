#!/usr/bin/env node
// The dashboard in a real browser (Debian's chromium driven by
// playwright-core), against a running `stampede serve` that serves it.
//
//   node tests/browser/dashboard.mjs SERVER_URL TARGET_URL OUT_DIR
//
//   SERVER_URL  the server (dashboard at /, API at /v1), e.g. http://127.0.0.1:8420
//   TARGET_URL  an HTTP target the test script loads, e.g. http://127.0.0.1:8080
//   OUT_DIR     where dashboard.png (and dashboard-failure.png on a failure) go
//
// Environment: STAMPEDE_API_TOKEN (when the API needs one), CHROMIUM
// (default /usr/bin/chromium). Exit 0 when every step passed, 1 with a
// message on the first failure, 2 on bad arguments. Each step has its own
// timeout and the whole test stops itself after 55 s. Only loopback
// addresses are contacted: the browser's requests anywhere else are
// aborted and fail the test.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dashDir = path.resolve(here, '../../contrib/dashboard');
const TOTAL_MS = 55000;
const t0 = Date.now();

function usage(msg) {
  console.error(`dashboard.mjs: ${msg}\nusage: node tests/browser/dashboard.mjs SERVER_URL TARGET_URL OUT_DIR`);
  process.exit(2);
}

const [baseArg, targetArg, outDir] = process.argv.slice(2);
if (!baseArg || !targetArg || !outDir) usage('three arguments needed');
const isLoopback = (host) => /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]|::1)$/.test(host);
let base, target;
try {
  base = new URL(baseArg);
  target = new URL(targetArg);
} catch (e) {
  usage(e.message);
}
for (const u of [base, target]) if (!isLoopback(u.hostname)) usage(`${u.href}: only loopback addresses are allowed`);
base = base.href.replace(/\/$/, '');
const targetUrl = target.href.replace(/\/$/, '');
fs.mkdirSync(outDir, { recursive: true });

let chromium;
try {
  const require = createRequire(path.join(dashDir, 'package.json'));
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error(`dashboard.mjs: playwright-core is missing (npm ci --prefix contrib/dashboard): ${e.message}`);
  process.exit(1);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(executablePath)) {
  console.error(`dashboard.mjs: no browser at ${executablePath} (apt-get install chromium)`);
  process.exit(1);
}

const token = process.env.STAMPEDE_API_TOKEN || '';
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Failure extends Error {}
const fail = (msg) => { throw new Failure(msg); };

async function step(name, timeoutMs, fn) {
  const started = Date.now();
  let timer;
  try {
    const result = await Promise.race([
      fn(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Failure(`timed out after ${timeoutMs / 1000} s`)), timeoutMs); }),
    ]);
    log(`ok   ${name} (${Date.now() - started} ms)`);
    return result;
  } catch (e) {
    throw new Failure(`${name}: ${e.message}`);
  } finally {
    clearTimeout(timer);
  }
}

async function rest(method, p, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(`${base}${p}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(8000),
  });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!r.ok) fail(`${method} ${p}: ${r.status} ${text.slice(0, 300)}`);
  return data;
}

// Polls fn until it returns a truthy value.
async function until(what, fn, timeoutMs, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) fail(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(everyMs);
  }
}

let context = null;
let page = null;
let userDir = null;
let projectId = null;
let runId = null;
const pageErrors = [];
const blocked = [];

async function main() {
  const health = await step('the server answers /healthz', 5000, async () => {
    const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(4000) });
    return r.json();
  });
  if (health.status !== 'ok') log(`note: /healthz says ${JSON.stringify(health)}`);

  await step('the API is reachable (with the token if one is needed)', 5000, async () => {
    const r = await fetch(`${base}/v1/projects?limit=1`, { headers: token ? { Authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(4000) });
    if (r.status === 401) fail('the API needs a token: set STAMPEDE_API_TOKEN');
    if (!r.ok) fail(`GET /v1/projects: ${r.status}`);
  });

  await step('the server serves the dashboard (/, /ui/config.js, /ui/app.js, uPlot)', 5000, async () => {
    const get = async (p) => {
      const r = await fetch(`${base}${p}`, { signal: AbortSignal.timeout(4000) });
      const text = await r.text();
      if (r.status !== 200) fail(`GET ${p}: ${r.status} ${text.slice(0, 200)}`);
      return text;
    };
    if (!(await get('/')).includes('/ui/app.js')) fail('GET / is not the dashboard\'s index.html');
    const cfg = await get('/ui/config.js');
    if (!/window\.STAMPEDE\s*=/.test(cfg)) fail(`GET /ui/config.js does not set window.STAMPEDE: ${cfg.slice(0, 200)}`);
    await get('/ui/app.js');
    if (!(await get('/ui/vendor/uPlot.iife.min.js')).includes('uPlot')) fail('GET /ui/vendor/uPlot.iife.min.js is not uPlot (npm ci --prefix contrib/dashboard?)');
  });

  const names = `browser-${Date.now().toString(36)}-${process.pid}`;
  const script = await step('create a project, a scenario and a constant-arrival-rate script', 8000, async () => {
    const project = await rest('POST', '/v1/projects', { name: names, description: 'made by tests/browser/dashboard.mjs' });
    projectId = project.id;
    const scenario = await rest('POST', `/v1/projects/${project.id}/scenarios`, { name: 'dashboard', tags: ['browser-test'] });
    return rest('POST', `/v1/scenarios/${scenario.id}/scripts`, {
      name: 'arrivals',
      definition: {
        target: targetUrl,
        steps: [{ name: 'home', path: '/' }],
        load: { executor: 'constant-arrival-rate', rate: 50, duration: '30s', pre_allocated_vus: 5, max_vus: 50 },
      },
    });
  });

  await step('launch chromium', 15000, async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stampede-chromium-'));
    context = await chromium.launchPersistentContext(userDir, {
      executablePath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
      viewport: { width: 1400, height: 1000 },
    });
    await context.route('**/*', (route) => {
      let host = '';
      try { host = new URL(route.request().url()).hostname; } catch { /* data: and such */ }
      if (!host || isLoopback(host)) return route.continue();
      blocked.push(route.request().url());
      return route.abort('blockedbyclient');
    });
    if (token) await context.addInitScript((t) => { localStorage.setItem('stampede.token', t); }, token);
    page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(8000);
    page.on('pageerror', (e) => { pageErrors.push(e.message); log(`page error: ${e.message}`); });
    page.on('console', (m) => { if (m.type() === 'error') log(`console: ${m.text()}`); });
  });

  await step('the runs list renders', 10000, async () => {
    await page.goto(`${base}/#/runs`, { waitUntil: 'domcontentloaded' });
    await page.locator('[data-testid="runs-table"]').waitFor({ state: 'visible' });
    await page.locator('[data-testid="start-run"]').waitFor({ state: 'visible' });
  });

  const run = await step('start the run through the API', 5000, () => rest('POST', '/v1/runs', { script_id: script.id }));
  runId = run.id;

  await step('the new run shows up in the list', 10000, async () => {
    const rowLink = page.locator(`[data-testid="run-row"][data-run-id="${runId}"] a`).first();
    await rowLink.waitFor({ state: 'visible', timeout: 9000 });
    await rowLink.click();
    await page.waitForURL(`**/#/runs/${runId}`, { timeout: 3000 });
  });

  const state = page.locator('[data-testid="run-state"]');
  const requests = page.locator('[data-testid="stat-requests"]');
  const rpsChart = page.locator('[data-testid="chart-rps"]');
  const num = async (loc, attr = 'data-value') => {
    const v = await loc.getAttribute(attr);
    return v === null || v === '' ? NaN : Number(v);
  };

  await step('the run page shows the run running', 10000, async () => {
    await until('state badge says running', async () => (await state.textContent().catch(() => '')) === 'running', 9000);
  });

  await step('the chart and the numbers fill', 10000, async () => {
    await until('request count > 0 and a chart point', async () => (await num(requests)) > 0 && (await num(rpsChart, 'data-points')) > 0, 9500);
    if (!(await rpsChart.locator('canvas').count())) fail('the RPS chart has no canvas (uPlot not drawn)');
  });

  const growth = await step('the request count and the series grow (two reads 1.5 s apart)', 8000, async () => {
    const r1 = await num(requests);
    const p1 = await num(rpsChart, 'data-points');
    const rps1 = await page.locator('[data-testid="stat-rps"]').textContent();
    await sleep(1500);
    let r2 = await num(requests);
    let p2 = await num(rpsChart, 'data-points');
    if (!(r2 > r1 && p2 > p1)) {
      // one grace read: points come once a second, a late one is not a failure
      await sleep(1500);
      r2 = await num(requests);
      p2 = await num(rpsChart, 'data-points');
    }
    if (!(r2 > r1)) fail(`request count did not increase: ${r1} then ${r2}`);
    if (!(p2 > p1)) fail(`RPS series did not grow: ${p1} then ${p2} points`);
    const lat = await num(page.locator('[data-testid="chart-latency"]'), 'data-points');
    if (!(lat > 0)) fail('the latency chart has no points');
    const source = await rpsChart.getAttribute('data-source');
    const liveStatus = await page.locator('[data-testid="live-status"]').getAttribute('data-state');
    return { r1, r2, p1, p2, rps1, source, liveStatus };
  });
  log(`     requests ${growth.r1} -> ${growth.r2}, points ${growth.p1} -> ${growth.p2}, req/s shown ${growth.rps1}; fed by: ${growth.source} (live gateway: ${growth.liveStatus})`);

  await step('press Stop: the badge turns stopping or cancelled', 6000, async () => {
    await page.locator('[data-testid="run-stop"]').click();
    await until('state stopping/cancelled', async () => ['stopping', 'cancelled'].includes(await state.textContent().catch(() => '')), 5500, 50);
  });

  await step('the run ends cancelled, drawn from the stored series', 15000, async () => {
    await until('state cancelled', async () => (await state.textContent().catch(() => '')) === 'cancelled', 14000);
    await until('charts from REST', async () => (await rpsChart.getAttribute('data-source')) === 'rest' && (await num(rpsChart, 'data-points')) > 0, 5000);
  });

  await step('reopen the finished run: series from REST, summary shown', 10000, async () => {
    await page.reload({ waitUntil: 'domcontentloaded' });
    await until('state cancelled', async () => (await state.textContent().catch(() => '')) === 'cancelled', 5000);
    await until('charts from REST', async () => (await rpsChart.getAttribute('data-source')) === 'rest' && (await num(rpsChart, 'data-points')) > 0, 5000);
    const series = await rest('GET', `/v1/runs/${runId}/series?resolution=1s`);
    const points = await num(rpsChart, 'data-points');
    if (points !== series.items.length) fail(`the chart has ${points} points, the stored series ${series.items.length}`);
    await page.locator('[data-testid="run-summary"]').waitFor({ state: 'visible', timeout: 4000 });
    const p50 = (await page.locator('[data-testid="summary-p50"]').first().textContent()).trim();
    if (!p50 || p50 === '–') fail('the summary shows no p50');
    const total = await num(requests);
    const summary = await rest('GET', `/v1/runs/${runId}/summary`);
    if (total !== summary.requests) fail(`the page shows ${total} requests, the summary ${summary.requests}`);
    if (await page.locator('[data-testid="run-stop"]').isVisible()) fail('the Stop button is still shown for a cancelled run');
    log(`     ${points} points, ${total} requests, p50 ${p50}`);
  });

  await step('screenshot', 8000, async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(outDir, 'dashboard.png'), fullPage: true });
  });

  if (pageErrors.length) fail(`uncaught errors in the page: ${pageErrors.join(' | ')}`);
  if (blocked.length) fail(`the page tried to reach non-loopback addresses: ${blocked.join(', ')}`);
}

async function cleanup(ok) {
  if (!ok && page) {
    try { await page.screenshot({ path: path.join(outDir, 'dashboard-failure.png'), fullPage: true, timeout: 3000 }); } catch { /* best effort */ }
  }
  if (context) { try { await context.close(); } catch { /* already gone */ } }
  if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  if (runId) { try { await rest('POST', `/v1/runs/${runId}/stop`); } catch { /* over already */ } }
  if (projectId) { try { await rest('DELETE', `/v1/projects/${projectId}?cascade=true`); } catch { /* best effort */ } }
}

const watchdog = setTimeout(async () => {
  console.error(`dashboard.mjs: FAIL: the whole test took more than ${TOTAL_MS / 1000} s`);
  await Promise.race([cleanup(false), sleep(4000)]);
  process.exit(1);
}, TOTAL_MS);

try {
  await main();
  await cleanup(true);
  clearTimeout(watchdog);
  log(`PASS: dashboard browser test; screenshot ${path.join(outDir, 'dashboard.png')}`);
  process.exit(0);
} catch (e) {
  clearTimeout(watchdog);
  console.error(`dashboard.mjs: FAIL: ${e instanceof Failure ? e.message : e.stack || e}`);
  await Promise.race([cleanup(false), sleep(5000)]);
  process.exit(1);
}

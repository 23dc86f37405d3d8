// One run: live charts fed by the WebSocket (REST polling when it is
// down), per-step table, events, controls; a run that is over is drawn
// from its stored series and shows its summary.

import { api, qs, enc, download } from '../api.js';
import { Chart, RUN_CHARTS } from '../charts.js';
import {
  h, clear, badge, field, fmtInt, fmtNum, fmtMs, fmtPct, fmtBytes, fmtTime, fmtClock,
  fmtDuration, fmtDetail, runDuration, busy, errorBox, setError, isTerminal, STATES,
} from '../util.js';

const FIELDS = ['rps', 'failed', 'dropped', 'p50c', 'p95c', 'p99c', 'p50u', 'p95u', 'p99u', 'vus', 'vusMax', 'req', 'fail'];
const NO_FRAME_MS = 2500; // no frame for this long while running: poll REST

const newData = () => Object.fromEntries([['x', []], ...FIELDS.map((f) => [f, []])]);
const lat = (l, kind, p) => (l && l[kind] && l[kind][p] !== undefined ? l[kind][p] : null);
const perSecond = (n, span) => (n === null || n === undefined ? null : n / (span > 0 ? span : 1));

function latencyPoint(l) {
  return {
    p50c: lat(l, 'corrected', 'p50'), p95c: lat(l, 'corrected', 'p95'), p99c: lat(l, 'corrected', 'p99'),
    p50u: lat(l, 'uncorrected', 'p50'), p95u: lat(l, 'uncorrected', 'p95'), p99u: lat(l, 'uncorrected', 'p99'),
  };
}
function fromFrame(f) {
  const c = f.second_counts || {};
  return {
    rps: f.rps, failed: perSecond(c.failed, f.span_s), dropped: perSecond(c.dropped_iterations, f.span_s),
    ...latencyPoint(f.latency_ms), vus: f.vus, vusMax: f.vus_max, req: c.requests, fail: c.failed,
  };
}
function fromStep(f, s) {
  return {
    rps: s.rps, failed: perSecond(s.failed, f.span_s), dropped: null,
    ...latencyPoint(s.latency_ms), vus: f.vus, vusMax: f.vus_max, req: s.requests, fail: s.failed,
  };
}
function fromBucket(b) {
  return {
    rps: b.rps, failed: perSecond(b.failed, b.span_s), dropped: perSecond(b.dropped_iterations, b.span_s),
    ...latencyPoint(b.latency_ms), vus: b.vus, vusMax: b.vus_max, req: b.requests, fail: b.failed,
  };
}

// Puts a point at x (keeps x sorted); replace=false keeps an existing one.
function put(d, x, p, replace = true) {
  let lo = 0, hi = d.x.length;
  if (hi && d.x[hi - 1] < x) lo = hi;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (d.x[mid] < x) lo = mid + 1; else hi = mid;
  }
  if (d.x[lo] === x) {
    if (replace) for (const f of FIELDS) d[f][lo] = p[f] ?? null;
    return;
  }
  d.x.splice(lo, 0, x);
  for (const f of FIELDS) d[f].splice(lo, 0, p[f] ?? null);
}
const sum = (a) => a.reduce((s, v) => s + (v || 0), 0);

export function runView(root, id, query, ctx) {
  let run = null;
  let disposed = false;
  let mode = 'loading'; // 'live' | 'rest'
  let selScript = query.get('script') || '';
  let selStep = query.get('step') || '';
  const data = new Map(); // `${scriptKey}|${step}` -> series data
  const latest = new Map(); // script id -> latest frame
  const finals = new Set();
  const stepNames = new Set();
  let summary = null;
  let lastFrameAt = 0;
  let lastStateT = 0;
  let source = 'none';
  let events = [];
  let offFrames = null, offEvents = null;
  let ticker = null, tick = 0, polling = false, finalizing = null;
  let redrawQueued = false;

  const charts = Object.fromEntries(Object.entries(RUN_CHARTS).map(([k, def]) => [k, new Chart(k, def)]));

  // --- DOM
  const err = errorBox(null, { 'data-testid': 'run-error' });
  const title = h('h1', null, 'Run ', h('span.mono', null, id.slice(0, 8)));
  const stateSlot = h('span.state-slot');
  const meta = h('dl.meta');
  const controls = h('div.controls');
  const tiles = {};
  const tileRow = h('div.tiles', null, ...[
    ['rps', 'Current req/s'], ['requests', 'Requests'], ['failed', 'Failed'],
    ['p95', 'p95 (corrected)'], ['vus', 'VUs'], ['elapsed', 'Elapsed'],
  ].map(([k, label]) => {
    const v = h('span.value', { 'data-testid': `stat-${k}`, 'data-value': '' }, '–');
    tiles[k] = v;
    return h('div.tile', null, h('span.label', null, label), v);
  }));
  const pickers = h('div.pickers');
  const chartGrid = h('div.charts', null, Object.values(charts).map((c) => c.box));
  const sourceNote = h('p.muted.small', { 'data-testid': 'run-source' });
  const summaryBox = h('section.summary', { 'data-testid': 'run-summary', hidden: true });
  const stepsBox = h('section', null, h('h2', null, 'Steps'), h('p.muted', null, 'Waiting for data…'));
  const eventsBody = h('tbody');
  const eventsBox = h('section', null, h('h2', null, 'Events'),
    h('div.table-wrap', null, h('table.list.events', { 'data-testid': 'run-events' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Event'), h('th', { scope: 'col' }, 'Detail'))),
      eventsBody)));

  root.append(
    h('nav.crumbs', { 'aria-label': 'Breadcrumb' }, h('a', { href: '#/runs' }, 'Runs'), ' › ', h('span', null, id.slice(0, 8))),
    h('div.head', null, title, stateSlot),
    err, meta, controls, tileRow, pickers, chartGrid, sourceNote, summaryBox, stepsBox, eventsBox,
  );

  // --- helpers
  const multi = () => run && run.scripts && run.scripts.length > 1;
  const scriptName = (sid) => (run.scripts || []).find((s) => s.script_id === sid)?.name || sid.slice(0, 8);
  const chartKey = () => `${selScript}|${selStep}`;
  const totalsKey = () => (multi() ? 'ALL|' : `${selScript}|`);
  function get(key) {
    let d = data.get(key);
    if (!d) { d = newData(); data.set(key, d); }
    return d;
  }
  function seriesPath(key, from) {
    const [sk, step] = key.split('|');
    return qs(`/v1/runs/${enc(id)}/series`, {
      resolution: '1s',
      script_id: sk !== 'ALL' && multi() ? sk : '',
      step,
      from,
    });
  }
  async function fetchInto(key, { replace = true, from } = {}) {
    const res = await api.get(seriesPath(key, from));
    const d = get(key);
    for (const b of res.items) put(d, b.t, fromBucket(b), replace);
    return d;
  }

  function setState(state, tMs) {
    if (!run || !state) return;
    if (tMs) lastStateT = Math.max(lastStateT, tMs);
    if (run.status === state) return;
    run.status = state;
    renderHeader();
    renderControls();
    if (isTerminal(state)) finalize();
  }

  // --- rendering
  function renderHeader() {
    clear(title, run.name || 'Run', ' ', h('small.muted.mono', null, id.slice(0, 8)));
    clear(stateSlot, badge(run.status, { 'data-testid': 'run-state', 'aria-live': 'polite' }));
    const rows = [
      ['Kind', run.kind === 'scenario' ? `scenario (${(run.scripts || []).length} scripts)` : 'script'],
      ['Origin', run.origin && run.origin.startsWith('schedule:')
        ? h('a', { href: `#/runs?schedule_id=${run.origin.slice(9)}` }, run.origin) : run.origin],
      ['Load', `${fmtNum(run.percent)} % of plan`],
      ['Created', fmtTime(run.created_at)],
      ['Started', fmtTime(run.started_at)],
      ['Ended', run.finished_at ? fmtTime(run.finished_at) : '–'],
      ['Duration', fmtDuration(runDuration(run))],
      run.restarted_from ? ['Restarted from', h('a', { href: `#/runs/${run.restarted_from}` }, run.restarted_from.slice(0, 8))] : null,
      run.scenario_id ? ['Scenario', h('a', { href: `#/scenarios/${run.scenario_id}` }, 'open')] : null,
      run.error ? ['Error', h('span.bad', null, run.error)] : null,
    ].filter(Boolean);
    clear(meta, rows.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
  }

  const stopBtn = h('button.danger', { type: 'button', 'data-testid': 'run-stop' }, 'Stop');
  const pauseBtn = h('button', { type: 'button', 'data-testid': 'run-pause' }, 'Pause');
  const pctInput = h('input', { type: 'number', id: 'load-percent', min: 0, max: 10000, step: 'any', value: '100', 'data-testid': 'load-percent', size: 6 });
  const overInput = h('input', { type: 'text', id: 'load-over', placeholder: 'at once', size: 6, 'data-testid': 'load-over' });
  const loadScript = h('select', { id: 'load-script' });
  const loadBtn = h('button', { type: 'submit', 'data-testid': 'load-apply' }, 'Apply');
  const restartBtn = h('button', { type: 'button', 'data-testid': 'run-restart' }, 'Run again');
  const csvBtn = h('button', { type: 'button' }, 'Export CSV');
  const junitBtn = h('button', { type: 'button' }, 'JUnit XML');
  const loadForm = h('form.inline', { 'aria-label': 'Change the load' },
    field('Load %', pctInput), field('Ramp over', overInput), field('Script', loadScript), loadBtn);

  const control = (btn, fn) => busy(btn, fn, (e) => setError(err, e)).then(renderControls);
  stopBtn.addEventListener('click', () => control(stopBtn, async () => {
    setError(err, null);
    const r = await api.post(`/v1/runs/${enc(id)}/stop`);
    if (r && r.status) setState(r.status, Date.now());
  }));
  pauseBtn.addEventListener('click', () => control(pauseBtn, async () => {
    setError(err, null);
    const action = run.status === 'paused' ? 'resume' : 'pause';
    const r = await api.post(`/v1/runs/${enc(id)}/${action}`);
    if (r && r.status) setState(r.status, Date.now());
  }));
  loadForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    control(loadBtn, async () => {
      setError(err, null);
      const body = { percent: Number(pctInput.value) };
      if (overInput.value.trim()) body.over = overInput.value.trim();
      if (loadScript.value) body.script_id = loadScript.value;
      const r = await api.patch(`/v1/runs/${enc(id)}/load`, body);
      if (r && r.percent !== undefined && !body.script_id) run.percent = r.percent;
      renderHeader();
      ctx.alert(`Load set to ${body.percent} %${body.over ? ` over ${body.over}` : ''}.`, 'info');
    });
  });
  restartBtn.addEventListener('click', () => control(restartBtn, async () => {
    const r = await api.post(`/v1/runs/${enc(id)}/restart`, {});
    ctx.navigate(`#/runs/${r.id}`);
  }));
  csvBtn.addEventListener('click', () => control(csvBtn, () => download(`/v1/runs/${enc(id)}/export.csv`, `run-${id}.csv`)));
  junitBtn.addEventListener('click', () => control(junitBtn, () => download(`/v1/runs/${enc(id)}/export.junit.xml`, `run-${id}.xml`)));

  function renderControls() {
    if (!run) return;
    const s = run.status;
    const over = isTerminal(s);
    stopBtn.disabled = over || s === 'stopping';
    pauseBtn.disabled = !(s === 'running' || s === 'paused');
    pauseBtn.textContent = s === 'paused' ? 'Resume' : 'Pause';
    pauseBtn.dataset.action = s === 'paused' ? 'resume' : 'pause';
    loadBtn.disabled = !(s === 'running' || s === 'paused');
    restartBtn.hidden = !over;
    csvBtn.hidden = !over;
    junitBtn.hidden = !over;
    stopBtn.hidden = over;
    pauseBtn.hidden = over;
    loadForm.hidden = over;
  }

  function buildControls() {
    clear(loadScript, h('option', { value: '' }, multi() ? 'all scripts' : 'the script'),
      multi() ? run.scripts.map((s) => h('option', { value: s.script_id }, s.name)) : null);
    pctInput.value = String(run.percent ?? 100);
    clear(controls, h('div.buttons', null, stopBtn, pauseBtn, restartBtn, csvBtn, junitBtn), loadForm);
    renderControls();
  }

  function buildPickers() {
    const scriptSel = h('select', { id: 'pick-script', 'data-testid': 'pick-script' },
      (run.scripts || []).map((s) => h('option', { value: s.script_id }, s.name)));
    scriptSel.value = selScript;
    scriptSel.addEventListener('change', () => { selScript = scriptSel.value; selStep = ''; selectionChanged(); });
    const stepSel = h('select', { id: 'pick-step', 'data-testid': 'pick-step' },
      h('option', { value: '' }, 'all steps'), [...stepNames].sort().map((n) => h('option', { value: n }, n)));
    stepSel.value = selStep;
    stepSel.addEventListener('change', () => { selStep = stepSel.value; selectionChanged(); });
    clear(pickers, multi() ? field('Script', scriptSel) : null, field('Step', stepSel));
  }

  function learnSteps(names) {
    let added = false;
    for (const n of names) if (!stepNames.has(n)) { stepNames.add(n); added = true; }
    if (added) buildPickers();
  }

  function stepsOf(sid) {
    const s = (run.scripts || []).find((x) => x.script_id === sid);
    return s && s.definition && Array.isArray(s.definition.steps) ? s.definition.steps.map((x) => x.name).filter(Boolean) : [];
  }

  async function selectionChanged() {
    const hash = `#/runs/${id}${selScript || selStep ? `?${new URLSearchParams({ ...(selScript ? { script: selScript } : {}), ...(selStep ? { step: selStep } : {}) })}` : ''}`;
    history.replaceState(null, '', hash);
    stepNames.clear();
    learnSteps(stepsOf(selScript));
    buildPickers();
    queueRedraw();
    renderSteps();
    if (mode === 'rest') renderStatsRest();
    try {
      await fetchInto(chartKey(), { replace: mode === 'rest' });
      queueRedraw();
    } catch (e) { setError(err, e); }
  }

  function queueRedraw() {
    if (redrawQueued) return;
    redrawQueued = true;
    setTimeout(() => {
      redrawQueued = false;
      if (disposed) return;
      const d = data.get(chartKey()) || newData();
      for (const c of Object.values(charts)) c.setData(d, source);
      sourceNote.textContent = source === 'live' ? 'Live: one point per second from the live gateway.'
        : source === 'poll' ? 'Live gateway unavailable: polling the stored series every second.'
          : source === 'rest' ? 'Drawn from the stored per-second series.' : '';
      sourceNote.dataset.source = source;
    }, 0);
  }

  function setTile(k, text, raw) {
    tiles[k].textContent = text;
    tiles[k].dataset.value = raw === null || raw === undefined ? '' : String(raw);
  }

  function renderStatsLive() {
    const fresh = Date.now() - lastFrameAt < NO_FRAME_MS && latest.size;
    let rps, requests, failed, vus, p95, elapsed;
    if (fresh) {
      const frames = [...latest.values()];
      rps = sum(frames.filter((f) => !f.final).map((f) => f.rps));
      requests = sum(frames.map((f) => f.requests));
      failed = sum(frames.map((f) => f.failed));
      vus = sum(frames.map((f) => f.vus));
      const sel = latest.get(selScript);
      p95 = sel ? lat(sel.latency_ms, 'corrected', 'p95') : null;
      elapsed = Math.max(...frames.map((f) => f.elapsed_s || 0));
    } else {
      const t = data.get(totalsKey());
      if (!t || !t.x.length) return;
      const last = t.x.length - 1;
      rps = t.rps[last];
      requests = sum(t.req);
      failed = sum(t.fail);
      vus = t.vus[last];
      const c = data.get(`${selScript}|`);
      p95 = c && c.x.length ? c.p95c[c.x.length - 1] : null;
      elapsed = runDuration(run);
    }
    setTile('rps', fmtNum(rps), rps);
    setTile('requests', fmtInt(requests), requests);
    setTile('failed', fmtInt(failed), failed);
    tiles.failed.classList.toggle('bad', failed > 0);
    setTile('p95', fmtMs(p95), p95);
    setTile('vus', fmtInt(vus), vus);
    setTile('elapsed', fmtDuration(elapsed), elapsed);
  }

  function scriptSummaries() {
    if (!summary) return [];
    if (summary.kind === 'scenario') return (summary.scripts || []).map((s) => ({ ...s, summary: s.summary }));
    const s = (run.scripts || [])[0] || {};
    return [{ script_id: s.script_id, name: s.name || run.name, status: run.status, summary }];
  }

  function renderStatsRest() {
    const ss = scriptSummaries().filter((s) => s.summary);
    if (!ss.length) {
      setTile('elapsed', fmtDuration(runDuration(run)), runDuration(run));
      return;
    }
    const requests = sum(ss.map((s) => s.summary.requests));
    const failed = sum(ss.map((s) => s.summary.failed));
    const rps = sum(ss.map((s) => s.summary.rps));
    const vus = sum(ss.map((s) => s.summary.vus_max));
    const sel = ss.find((s) => s.script_id === selScript) || ss[0];
    const p95 = lat(sel.summary.latency_ms, 'corrected', 'p95');
    setTile('rps', fmtNum(rps), rps);
    setTile('requests', fmtInt(requests), requests);
    setTile('failed', fmtInt(failed), failed);
    tiles.failed.classList.toggle('bad', failed > 0);
    setTile('p95', fmtMs(p95), p95);
    setTile('vus', fmtInt(vus), vus);
    const dur = Math.max(...ss.map((s) => s.summary.duration_s || 0));
    setTile('elapsed', fmtDuration(dur), dur);
  }

  function stepTable(rowsData, live) {
    const th = (t) => h('th', { scope: 'col' }, t);
    return h('div.table-wrap', null, h('table.list.steps', { 'data-testid': 'run-steps' },
      h('thead', null, h('tr', null, th('Step'), th(live ? 'Requests (last s)' : 'Requests'), th('req/s'), th('Failed'),
        th('p50'), th('p95'), th('p99'), live ? null : th('p99.9'), th('max'))),
      h('tbody', null, rowsData.map(([name, s]) => {
        const l = s.latency_ms;
        return h('tr', { class: selStep === name ? 'selected' : '', 'data-step': name },
          h('th', { scope: 'row' }, h('button.link', {
            type: 'button',
            title: 'Chart this step',
            onclick: () => { selStep = selStep === name ? '' : name; selectionChanged(); },
          }, name)),
          h('td.num', null, fmtInt(s.requests)), h('td.num', null, fmtNum(s.rps)),
          h('td.num', { class: s.failed ? 'bad' : '' }, fmtInt(s.failed)),
          h('td.num', null, fmtMs(lat(l, 'corrected', 'p50'))), h('td.num', null, fmtMs(lat(l, 'corrected', 'p95'))),
          h('td.num', null, fmtMs(lat(l, 'corrected', 'p99'))),
          live ? null : h('td.num', null, fmtMs(lat(l, 'corrected', 'p99_9'))),
          h('td.num', null, fmtMs(lat(l, 'corrected', 'max'))));
      }))));
  }

  function renderSteps() {
    const heading = h('h2', null, 'Steps', multi() ? ` of ${scriptName(selScript)}` : '');
    if (mode === 'rest') {
      const s = scriptSummaries().find((x) => x.script_id === selScript) || scriptSummaries()[0];
      if (!s || !s.summary || !s.summary.steps) { clear(stepsBox, heading, h('p.muted', null, 'No step results.')); return; }
      clear(stepsBox, heading, stepTable(Object.entries(s.summary.steps), false));
      return;
    }
    const f = latest.get(selScript);
    if (!f || !f.steps) { clear(stepsBox, heading, h('p.muted', null, 'Per-step figures appear with the live gateway\'s frames.')); return; }
    clear(stepsBox, heading, stepTable(Object.entries(f.steps), true), h('p.muted.small', null, `second ${f.second}, latency corrected`));
  }

  function renderSummary() {
    const ss = scriptSummaries();
    if (!summary) { summaryBox.hidden = true; return; }
    summaryBox.hidden = false;
    const th = (t) => h('th', { scope: 'col' }, t);
    const pcts = [['p50', 'p50'], ['p90', 'p90'], ['p95', 'p95'], ['p99', 'p99'], ['p99_9', 'p99.9'], ['max', 'max']];
    clear(summaryBox, h('h2', null, 'Summary'), ss.map((s) => {
      const m = s.summary;
      if (!m) return h('p.muted', null, `${s.name}: no summary.`);
      const thr = Array.isArray(m.thresholds) ? m.thresholds : [];
      return h('div.card', { 'data-script-id': s.script_id || '' },
        multi() ? h('h3', null, s.name, ' ', badge(s.status)) : null,
        h('dl.figures', null,
          [['Requests', fmtInt(m.requests)], ['req/s', fmtNum(m.rps)],
            ['Failed', `${fmtInt(m.failed)} (${fmtPct(m.failed_rate)})`],
            ['Iterations', fmtInt(m.iterations)], ['Dropped iterations', fmtInt(m.dropped_iterations)],
            ['Data in / out', `${fmtBytes(m.bytes_in)} / ${fmtBytes(m.bytes_out)}`],
            ['Duration', fmtDuration(m.duration_s)], ['Executor', m.executor || '–']]
            .map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v)))),
        h('div.table-wrap', null, h('table.list.lat', null,
          h('thead', null, h('tr', null, th('Latency'), pcts.map(([, l]) => th(l)), th('mean'))),
          h('tbody', null, ['corrected', 'uncorrected'].map((kind) => h('tr', null,
            h('th', { scope: 'row' }, kind),
            pcts.map(([k]) => h('td.num', { 'data-testid': kind === 'corrected' ? `summary-${k}` : null }, fmtMs(lat(m.latency_ms, kind, k)))),
            h('td.num', null, fmtMs(lat(m.latency_ms, kind, 'mean')))))))),
        thr.length ? h('ul.thresholds', null, thr.map((t) => h('li', { class: t.ok ? 'ok' : 'bad' },
          t.ok ? '✓ ' : '✗ ', h('code', null, `${t.metric}${t.step ? `{${t.step}}` : ''} ${t.expr}`),
          ` observed ${fmtNum(t.observed)}`, t.abort_on_fail ? ' (abort on fail)' : ''))) : null,
        m.abort_reason ? h('p.bad', null, `Aborted: ${m.abort_reason}`) : null);
    }));
  }

  function renderEvents() {
    clear(eventsBody, events.length ? events.map((e) => h('tr', { 'data-kind': e.kind },
      h('td.mono', { title: e.at.toISOString() }, fmtClock(e.at)),
      h('td', null, STATES.includes(e.kind) ? badge(e.kind) : h('strong', null, e.kind)),
      h('td.detail', null, fmtDetail(e.detail))))
      : h('tr', null, h('td.empty', { colspan: 3 }, 'No events yet.')));
  }

  async function loadEvents() {
    try {
      const all = [];
      let cursor = null;
      do {
        const page = await api.get(qs(`/v1/runs/${enc(id)}/events`, { limit: 1000, cursor }));
        all.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor && all.length < 5000);
      const fromRest = all.map((e) => ({ at: new Date(e.at), kind: e.kind, detail: e.detail, id: e.id }));
      // live events newer than the last stored one stay until they are stored
      const lastAt = fromRest.length ? fromRest[fromRest.length - 1].at.getTime() : 0;
      events = [...fromRest, ...events.filter((e) => e.id === undefined && e.at.getTime() > lastAt + 50)];
      renderEvents();
    } catch (e) { setError(err, e); }
  }

  // --- live
  function onFrame(f) {
    if (f.type !== 'frame' || mode !== 'live' || disposed) return;
    lastFrameAt = Date.now();
    latest.set(f.script_id, f);
    const sk = f.script_id;
    put(get(`${sk}|`), f.second, fromFrame(f));
    const names = Object.keys(f.steps || {});
    for (const n of names) put(get(`${sk}|${n}`), f.second, fromStep(f, f.steps[n]));
    if (sk === selScript) learnSteps(names);
    if (f.state && STATES.includes(f.state) && !isTerminal(f.state) && (f.t_ms || 0) > lastStateT) setState(f.state, f.t_ms);
    if (f.final) {
      finals.add(sk);
      if ((run.scripts || []).every((s) => finals.has(s.script_id))) setTimeout(refreshRun, 300);
    }
    if (sk === selScript) {
      source = 'live';
      queueRedraw();
      renderSteps();
    }
    renderStatsLive();
  }

  function onEvent(msg) {
    if (disposed) return;
    if (msg.type === 'subscribed') { refreshRun(); return; } // what changed before that
    if (msg.type !== 'event' || msg.run_id !== id) return;
    const at = new Date(msg.t_ms || Date.now());
    const kind = msg.kind === 'state' ? msg.state : msg.kind;
    events.push({ at, kind, detail: msg.detail || {} });
    events.sort((a, b) => a.at - b.at);
    renderEvents();
    if (msg.kind === 'state') setState(msg.state, msg.t_ms || Date.now());
    if (msg.kind === 'load' && msg.detail && msg.detail.percent !== undefined && !msg.detail.script_id) {
      run.percent = msg.detail.percent;
      renderHeader();
    }
  }

  async function refreshRun() {
    try {
      const r = await api.get(`/v1/runs/${enc(id)}`);
      if (disposed) return;
      const changed = r.status !== run.status;
      run = { ...run, ...r };
      if (changed) { renderControls(); if (isTerminal(r.status)) finalize(); }
      renderHeader();
    } catch (e) { setError(err, e); }
  }

  async function poll() {
    if (polling || mode !== 'live') return;
    polling = true;
    try {
      const keys = [...new Set([chartKey(), totalsKey(), `${selScript}|`])];
      for (const key of keys) {
        const d = get(key);
        await fetchInto(key, { from: d.x.length ? d.x[d.x.length - 1] : undefined });
      }
      if (disposed || mode !== 'live') return;
      if (Date.now() - lastFrameAt >= NO_FRAME_MS) {
        source = 'poll';
        queueRedraw();
        renderStatsLive();
      }
      setError(err, null);
    } catch (e) {
      setError(err, e);
    } finally {
      polling = false;
    }
  }

  function onTick() {
    if (disposed || mode !== 'live') return;
    tick++;
    const s = run.status;
    const noFrames = Date.now() - lastFrameAt >= NO_FRAME_MS;
    if (noFrames && (s === 'running' || s === 'stopping')) poll();
    if (!ctx.live.isSubscribed('runs') ? tick % 2 === 0 : tick % 5 === 0) refreshRun();
    if (noFrames) setTile('elapsed', fmtDuration(runDuration(run)), runDuration(run));
  }

  function startLive() {
    mode = 'live';
    offFrames = ctx.live.subscribe(`run:${id}`, onFrame);
    offEvents = ctx.live.subscribe('runs', onEvent);
    ticker = setInterval(onTick, 1000);
    // what happened before this page was opened
    Promise.all([...new Set([chartKey(), totalsKey(), `${selScript}|`])].map((k) => fetchInto(k, { replace: false })))
      .then(() => {
        if (disposed || mode !== 'live') return;
        if (source === 'none') source = 'poll';
        queueRedraw();
        renderStatsLive();
      })
      .catch((e) => setError(err, e));
  }

  function stopLive() {
    if (offFrames) offFrames();
    if (offEvents) offEvents();
    offFrames = offEvents = null;
    clearInterval(ticker);
    ticker = null;
  }

  // The summary of a run that is over; a moment after the end it may not
  // be stored yet (409 not_ready): a few tries, then none.
  async function loadSummary() {
    for (let i = 0; ; i++) {
      try {
        return await api.get(`/v1/runs/${enc(id)}/summary`);
      } catch (e) {
        if (e.code !== 'not_ready') throw e;
        if (i >= 4 || disposed) return null;
        await new Promise((r) => { setTimeout(r, 800); });
      }
    }
  }

  function finalize() {
    if (finalizing) return finalizing;
    finalizing = (async () => {
      stopLive();
      mode = 'rest';
      renderControls();
      try {
        const [r, sm] = await Promise.all([api.get(`/v1/runs/${enc(id)}`), loadSummary()]);
        if (disposed) return;
        run = { ...run, ...r };
        summary = sm;
        data.clear();
        await fetchInto(chartKey());
        if (disposed) return;
        source = 'rest';
        renderHeader();
        renderControls();
        renderStatsRest();
        renderSummary();
        renderSteps();
        queueRedraw();
        loadEvents();
      } catch (e) {
        setError(err, e);
      }
    })();
    return finalizing;
  }

  async function init() {
    try {
      run = await api.get(`/v1/runs/${enc(id)}`);
    } catch (e) {
      setError(err, e);
      return;
    }
    if (disposed) return;
    const ids = (run.scripts || []).map((s) => s.script_id);
    if (!ids.includes(selScript)) selScript = ids[0] || 'ALL';
    learnSteps(stepsOf(selScript));
    renderHeader();
    buildControls();
    buildPickers();
    for (const c of Object.values(charts)) c.mount();
    queueRedraw();
    loadEvents();
    if (isTerminal(run.status)) finalize();
    else { renderSteps(); startLive(); }
  }

  init();

  return {
    dispose() {
      disposed = true;
      stopLive();
      for (const c of Object.values(charts)) c.destroy();
    },
  };
}

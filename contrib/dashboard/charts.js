// uPlot line charts sized to their container. The container carries
// data-points (how many x values are drawn) and data-source (where they
// came from: live, poll or rest) so a test or a person can tell.

import { h, fmtNum, fmtMs } from './util.js';

export const COLORS = {
  blue: '#2563eb', green: '#16a34a', orange: '#ea580c', red: '#dc2626',
  purple: '#7c3aed', gray: '#6b7280', teal: '#0d9488',
};

// The charts of a run page: name -> {title, series: [{key, label, color, dash}], fmt}
export const RUN_CHARTS = {
  rps: {
    title: 'Requests per second',
    fmt: fmtNum,
    series: [{ key: 'rps', label: 'req/s', color: COLORS.blue, fill: 'rgba(37,99,235,0.08)' }],
  },
  latency: {
    title: 'Latency (solid: corrected, dashed: uncorrected)',
    fmt: fmtMs,
    series: [
      { key: 'p50c', label: 'p50', color: COLORS.green },
      { key: 'p95c', label: 'p95', color: COLORS.orange },
      { key: 'p99c', label: 'p99', color: COLORS.red },
      { key: 'p50u', label: 'p50 uncorr.', color: COLORS.green, dash: [5, 4] },
      { key: 'p95u', label: 'p95 uncorr.', color: COLORS.orange, dash: [5, 4] },
      { key: 'p99u', label: 'p99 uncorr.', color: COLORS.red, dash: [5, 4] },
    ],
  },
  errors: {
    title: 'Errors per second',
    fmt: fmtNum,
    series: [
      { key: 'failed', label: 'failed/s', color: COLORS.red, fill: 'rgba(220,38,38,0.08)' },
      { key: 'dropped', label: 'dropped iterations/s', color: COLORS.purple },
    ],
  },
  vus: {
    title: 'Virtual users',
    fmt: fmtNum,
    series: [
      { key: 'vus', label: 'VUs', color: COLORS.teal },
      { key: 'vusMax', label: 'VUs allocated', color: COLORS.gray, dash: [4, 4] },
    ],
  },
};

// x ticks: whole seconds, then round minutes and hours
const X_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400];
function fmtElapsed(v) {
  if (v < 60) return `${v}s`;
  const hh = Math.floor(v / 3600), mm = Math.floor((v % 3600) / 60), ss = Math.round(v % 60);
  return hh ? `${hh}h${mm ? String(mm).padStart(2, '0') : ''}` : `${mm}m${ss ? String(ss).padStart(2, '0') : ''}`;
}

export class Chart {
  constructor(name, def) {
    this.def = def;
    this.plot = null;
    this.el = h('div.chart-body');
    this.box = h('figure.chart', { 'data-testid': `chart-${name}`, 'data-points': '0', 'data-source': 'none' },
      h('figcaption', null, def.title), this.el);
    this.pending = null;
    this.ro = null;
  }

  // Creates the plot once the container is in the document (it needs a width).
  mount() {
    if (this.plot) return;
    if (typeof window.uPlot !== 'function') {
      this.el.replaceChildren(h('p.error-box', { role: 'alert' },
        'Charts unavailable: uPlot did not load (/ui/vendor/uPlot.iife.min.js).'));
      return;
    }
    const width = Math.max(240, this.el.clientWidth || 480);
    const fmt = this.def.fmt;
    const opts = {
      width,
      height: 200,
      scales: { x: { time: false }, y: { range: (u, min, max) => [Math.min(0, min ?? 0), max > 0 ? max * 1.1 : 1] } },
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      axes: [
        { label: 'time since start', labelSize: 18, size: 36, incrs: X_INCRS, values: (u, vals) => vals.map(fmtElapsed) },
        { size: 64, values: (u, vals) => vals.map((v) => fmt(v)) },
      ],
      series: [
        { label: 'second', value: (u, v) => (v === null || v === undefined ? '–' : fmtElapsed(v)) },
        ...this.def.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          dash: s.dash,
          fill: s.fill,
          spanGaps: false,
          points: { show: false },
          value: (u, v) => fmt(v),
        })),
      ],
    };
    this.plot = new window.uPlot(opts, this.pending || this.empty(), this.el);
    this.pending = null;
    this.ro = new ResizeObserver(() => {
      const w = this.el.clientWidth;
      if (this.plot && w > 0 && Math.abs(w - this.plot.width) > 2) this.plot.setSize({ width: w, height: 200 });
    });
    this.ro.observe(this.el);
  }

  empty() { return [[], ...this.def.series.map(() => [])]; }

  // data: the series object of run.js ({x: [...], rps: [...], ...})
  setData(data, source) {
    const arrays = data ? [data.x, ...this.def.series.map((s) => data[s.key])] : this.empty();
    this.box.dataset.points = String(arrays[0].length);
    if (source) this.box.dataset.source = source;
    if (this.plot) this.plot.setData(arrays.map((a) => a.slice()));
    else this.pending = arrays.map((a) => a.slice());
  }

  destroy() {
    if (this.ro) this.ro.disconnect();
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }
}

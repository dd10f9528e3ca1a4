// Metric series as line charts with uPlot (vendored), loaded on first use.
import {loadScript, loadStyle} from './api.js';

const VENDOR = '/ui/static/vendor';

export async function loadCharts() {
  loadStyle(`${VENDOR}/uPlot.min.css`);
  await loadScript(`${VENDOR}/uPlot.iife.min.js`);
}

const PALETTE = ['#2458d6', '#e8590c', '#1f8a4c', '#7b61c4', '#c4321f', '#b7791f'];

/**
 * A line chart of series [{label, points: [{step, value}]}] sharing an x axis (step), in container.
 * With time, steps are epoch milliseconds and the axis shows times.
 */
export function lineChart(container, title, series, {width = 520, height = 220, time = false, yLabel = ''} = {}) {
  const x = (p) => (time ? Number(p.step) / 1000 : Number(p.step));  // uPlot's time scale counts seconds
  const steps = [...new Set(series.flatMap((s) => s.points.map(x)))].sort((a, b) => a - b);
  const index = new Map(steps.map((x, i) => [x, i]));
  const columns = series.map((s) => {
    const column = new Array(steps.length).fill(null);
    for (const p of s.points) {
      const v = typeof p.value === 'number' ? p.value : Number(p.value);
      column[index.get(x(p))] = Number.isFinite(v) ? v : null;
    }
    return column;
  });
  const opts = {
    title, width, height, scales: {x: {time}},
    axes: [{label: time ? 'time' : 'step'}, yLabel ? {label: yLabel} : {}],
    series: [{label: time ? 'time' : 'step'}, ...series.map((s, i) => ({label: s.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true}))],
  };
  return new window.uPlot(opts, [steps, ...columns], container);
}

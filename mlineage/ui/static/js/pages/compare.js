// Compare runs: the comparison report of GET /api/v1/compare (mlineage.reports): params and metrics with
// differences highlighted, the best run, parallel coordinates, metric charts and the lineage difference.
import {get, hasPath} from '../api.js';
import {href} from '../app.js';
import {errorBox, fill, h, stateBadge, table} from '../dom.js';
import {lineChart, loadCharts} from '../charts.js';

const SVG = 'http://www.w3.org/2000/svg';
const PALETTE = ['#2458d6', '#e8590c', '#1f8a4c', '#7b61c4', '#c4321f', '#b7791f'];

function show(value) {
  if (value === null || value === undefined) return '—';
  return typeof value === 'number' ? String(Number(value.toPrecision(6))) : String(value);
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Parallel coordinates of the numeric params and metrics: one axis each, one line per run. */
function parallelCoordinates(runs, axes) {
  const width = Math.max(360, axes.length * 140);
  const height = 240;
  const top = 30;
  const bottom = height - 30;
  const x = (i) => 60 + i * ((width - 120) / Math.max(1, axes.length - 1));
  const root = svg('svg', {width, height, viewBox: `0 0 ${width} ${height}`, id: 'parallel', 'font-size': 11});
  const scales = axes.map(({values}) => {
    const nums = values.filter((v) => typeof v === 'number');
    const lo = Math.min(...nums);
    const hi = Math.max(...nums);
    return (v) => (typeof v !== 'number' ? null : hi === lo ? (top + bottom) / 2 : bottom - ((v - lo) / (hi - lo)) * (bottom - top));
  });
  axes.forEach((axis, i) => {
    root.append(svg('line', {x1: x(i), x2: x(i), y1: top, y2: bottom, stroke: '#a9b0bd'}),
      svg('text', {x: x(i), y: top - 10, 'text-anchor': 'middle'}, axis.name));
  });
  runs.forEach((run, r) => {
    const points = axes.map((axis, i) => [x(i), scales[i](axis.values[r])]).filter(([, y]) => y !== null);
    root.append(svg('polyline', {points: points.map((p) => p.join(',')).join(' '), fill: 'none', stroke: PALETTE[r % PALETTE.length], 'stroke-width': 2},
      svg('title', {}, run.run)));
  });
  return root;
}

export async function render(root, {query, current}) {
  const runs = (query.get('runs') || '').split(',').map((x) => x.trim()).filter(Boolean);
  const metric = query.get('metric') || '';
  const mode = query.get('mode') || 'max';
  fill(root, h('h1', {}, 'Compare runs'));
  const available = await hasPath('/api/v1/compare');
  if (!current()) return;
  if (!available) {
    root.append(h('div', {class: 'notice', id: 'compare-absent'}, 'Run comparison is not available on this server: it has no comparison reports (GET /api/v1/compare).'));
    return;
  }
  if (runs.length < 1) {
    root.append(h('p', {class: 'muted', id: 'compare-empty'}, 'Select runs on the ', h('a', {href: '#/runs'}, 'runs page'), ', then “Compare selected”.'));
    return;
  }
  const metricInput = h('input', {name: 'metric', value: metric, placeholder: 'metric for the best run', size: 18});
  const modeSelect = h('select', {name: 'mode'}, ['max', 'min'].map((m) => h('option', {value: m, selected: m === mode}, m)));
  const form = h('form', {class: 'toolbar', id: 'compare-options'}, `Runs ${runs.join(', ')}`, h('label', {}, 'Best by', metricInput), modeSelect, h('button', {class: 'primary'}, 'Compare'));
  form.addEventListener('submit', (e) => { e.preventDefault(); location.hash = href('compare', [], {runs: runs.join(','), metric: metricInput.value.trim(), mode: modeSelect.value}); });
  root.append(form);
  let report;
  try {
    report = await get('/compare', {runs, metric, mode: metric ? mode : ''});
  } catch (error) {
    if (current()) root.append(errorBox(error));
    return;
  }
  if (!current()) return;
  const differs = {params: new Set(report.differs.params), metrics: new Set(report.differs.metrics)};
  const header = ['', ...report.runs.map((r) => h('a', {href: href('run', [String(r.id)])}, r.run))];
  const rowsOf = (field) => {
    const keys = [...new Set(report.runs.flatMap((r) => Object.keys(r[field] || {})))].sort();
    return keys.map((key) => {
      const differing = differs[field].has(key);
      return [h('td', {class: differing ? 'differs' : ''}, key), ...report.runs.map((r) => h('td', {class: `num${differing ? ' differs' : ''}${field === 'metrics' && report.best === r.run && key === report.metric ? ' best' : ''}`}, show((r[field] || {})[key])))];
    });
  };
  const paramRows = rowsOf('params');
  const metricRows = rowsOf('metrics');
  const numericAxes = [];
  for (const field of ['params', 'metrics']) {
    const keys = [...new Set(report.runs.flatMap((r) => Object.keys(r[field] || {})))].sort();
    for (const key of keys) {
      const values = report.runs.map((r) => (r[field] || {})[key]);
      if (values.some((v) => typeof v === 'number')) numericAxes.push({name: key, values});
    }
  }
  const lineage = report.lineage_difference;
  const charts = h('div', {id: 'compare-charts'}, h('span', {class: 'muted'}, 'Loading series…'));
  root.append(
    report.best ? h('p', {id: 'compare-best'}, 'Best run by ', h('strong', {}, report.metric), ` (${report.mode}): `, h('strong', {}, report.best)) : null,
    h('div', {class: 'card'}, h('h2', {}, 'Runs'), table(['run', 'state', 'steps', 'duration (s)', 'git commit'],
      report.runs.map((r) => [r.run, stateBadge(r.state), r.steps ?? '—', show(r.duration_s), r.git_commit || '—']))),
    h('div', {class: 'card', id: 'compare-params'}, h('h2', {}, 'Params'), h('p', {class: 'muted'}, 'Highlighted: differs between the runs.'),
      paramRows.length ? table(header, paramRows) : h('p', {class: 'muted'}, 'No params.')),
    h('div', {class: 'card', id: 'compare-metrics'}, h('h2', {}, 'Final metrics'), metricRows.length ? table(header, metricRows) : h('p', {class: 'muted'}, 'No metrics.')),
    numericAxes.length > 1 ? h('div', {class: 'card'}, h('h2', {}, 'Parallel coordinates'), parallelCoordinates(report.runs, numericAxes),
      h('div', {class: 'legend'}, report.runs.map((r, i) => h('span', {style: `color:${PALETTE[i % PALETTE.length]}`}, `■ ${r.run}`)))) : null,
    h('div', {class: 'card'}, h('h2', {}, 'Metric series'), charts),
    lineage ? h('div', {class: 'card', id: 'compare-lineage'}, h('h2', {}, `Lineage difference (${lineage.a} vs ${lineage.b})`),
      (lineage.only_a.length || lineage.only_b.length || lineage.changes.length)
        ? h('pre', {class: 'export'}, JSON.stringify({only_a: lineage.only_a, only_b: lineage.only_b, changes: lineage.changes}, null, 2))
        : h('p', {class: 'muted'}, 'Both runs read the same upstream artifacts.')) : null);

  // Series: each run's steps' metrics, one chart per metric name with a line per run.
  const byName = new Map();
  for (const step of report.steps || []) {
    let summary;
    try { summary = await get(`/executions/${step.execution_id}/metrics`); } catch (_) { continue; }
    for (const m of summary.metrics) {
      const points = await get(`/executions/${step.execution_id}/metrics/${encodeURIComponent(m.name)}`, {page_size: 5000});
      if (!byName.has(m.name)) byName.set(m.name, []);
      byName.get(m.name).push({label: step.run, points: points.points});
    }
  }
  if (!current()) return;
  if (!byName.size) { fill(charts, h('p', {class: 'muted'}, 'No metric series recorded.')); return; }
  await loadCharts();
  if (!current()) return;
  fill(charts);
  for (const [name, series] of [...byName].slice(0, 12)) {
    const box = h('div', {class: 'chart', 'data-metric': name});
    charts.append(box);
    lineChart(box, name, series);
  }
}

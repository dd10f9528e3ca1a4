// Serving: deployments (mlineage.integrations.serving) and, per model version, the metrics their scrapes recorded.
import {get} from '../api.js';
import {href} from '../app.js';
import {errorBox, fill, h, kvTable, nodeLink, table, time, valueText} from '../dom.js';
import {lineChart, loadCharts} from '../charts.js';

const DEPLOYMENT = 'deployment';
const SERVING = 'ModelServing';
const MAX_POINTS = 5000;

/**
 * A series name as record_scrape writes it: `<model>/<version>/<metric>[labels]`, `gpu/<uuid>/<metric>` or
 * `server/<metric>`. Returns {scope: 'model'|'gpu'|'server', model, version, gpu, metric, labels}.
 */
export function parseSeries(name) {
  const match = /^(.*?)(?:\[(.*)\])?$/.exec(name);
  const labels = Object.fromEntries((match[2] || '').split(',').filter(Boolean).map((pair) => pair.split('=')));
  const parts = match[1].split('/');
  if (parts[0] === 'server' && parts.length === 2) return {scope: 'server', metric: parts[1], labels};
  if (parts[0] === 'gpu' && parts.length >= 3) return {scope: 'gpu', gpu: parts.slice(1, -1).join('/'), metric: parts[parts.length - 1], labels};
  if (parts.length >= 3) return {scope: 'model', model: parts.slice(0, -2).join('/'), version: parts[parts.length - 2], metric: parts[parts.length - 1], labels};
  return {scope: 'server', metric: match[1], labels};
}

// What each server calls a request, a failure, an inference and the latency (cumulative microseconds and its count).
const TRITON = 'nv_inference_';
const TF_SERVING = 'tensorflow:serving:';

/** The series of one model version that the view reads, by role: [{name, role}] (roles: ok, failed, inferences, latency, latencyCount). */
function roles(series) {
  const found = [];
  const has = (metric) => series.some((s) => s.metric === metric);
  for (const s of series) {
    const m = s.metric;
    let role = null;
    if (m === `${TRITON}request_success`) role = 'ok';
    else if (m === `${TRITON}request_failure`) role = 'failed';
    else if (m === `${TRITON}count`) role = 'inferences';
    else if (m === `${TRITON}request_duration_us`) role = 'latency';
    // Without Triton's end-to-end duration, queueing plus the compute phases make the request's time.
    else if (!has(`${TRITON}request_duration_us`) && /^nv_inference_(queue_duration_us|compute_(input|infer|output)_duration_us)$/.test(m)) role = 'latency';
    else if (m === `${TF_SERVING}request_count`) role = s.labels.status && s.labels.status !== 'OK' ? 'failed' : 'ok';
    else if (m === `${TF_SERVING}request_latency_sum`) role = 'latency';
    else if (m === `${TF_SERVING}request_latency_count`) role = 'latencyCount';
    if (role) found.push({...s, role});
  }
  return found;
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** Per model version: the latest totals (requests, failed, inferences, mean latency in ms). */
function totals(series) {
  const by = (role) => sum(series.filter((s) => s.role === role).map((s) => Number(s.last_value) || 0));
  const ok = by('ok');
  const latencyCount = series.some((s) => s.role === 'latencyCount') ? by('latencyCount') : ok;
  const latency = series.some((s) => s.role === 'latency') && latencyCount > 0 ? by('latency') / latencyCount / 1000 : null;
  return {ok, failed: by('failed'), inferences: series.some((s) => s.role === 'inferences') ? by('inferences') : null, latency,
    last: Math.max(...series.map((s) => Number(s.last_timestamp_ms) || 0))};
}

/** Points of several cumulative series summed per scrape time: Map(time → total). */
function summed(pointLists) {
  const out = new Map();
  for (const points of pointLists) for (const p of points) out.set(Number(p.step), (out.get(Number(p.step)) || 0) + Number(p.value));
  return out;
}

/** Between consecutive scrapes: Δnumerator / Δdenominator × scale (rates of counters, mean latency per interval). */
function perInterval(numerator, denominator, scale) {
  const times = [...numerator.keys()].sort((a, b) => a - b);
  const points = [];
  for (let i = 1; i < times.length; i++) {
    const [t0, t1] = [times[i - 1], times[i]];
    const dn = numerator.get(t1) - numerator.get(t0);
    const dd = denominator ? denominator.get(t1) - denominator.get(t0) : (t1 - t0) / 1000;
    // A counter that went down is a server restart: no value for that interval.
    if (dn >= 0 && dd > 0) points.push({step: t1, value: dn / dd * scale});
  }
  return points;
}

const number = (x, digits = 4) => (x === null || x === undefined || !Number.isFinite(x)) ? '—' : String(Number(x.toPrecision(digits)));

export async function render(root, {args, current}) {
  const [id] = args;
  if (id === undefined) return renderList(root, current);
  if (!/^\d+$/.test(id)) {
    fill(root, h('h1', {}, 'Serving'), errorBox({code: 'INVALID_ARGUMENT', message: `a deployment is /serving/CONTEXT_ID, not "${args.join('/')}"`}));
    return;
  }
  let deployment;
  let executions;
  try {
    [deployment, executions] = await Promise.all([get(`/contexts/${id}`), get(`/contexts/${id}/executions`, {page_size: 100})]);
  } catch (error) {
    if (current()) fill(root, h('h1', {}, 'Serving'), errorBox(error));
    return;
  }
  if (!current()) return;
  const props = {...deployment.properties, ...deployment.custom_properties};
  const servings = (executions.executions || []).filter((e) => e.type === SERVING);
  const versionsSlot = h('div', {class: 'card', id: 'serving-versions'}, h('h2', {}, 'Per model version'), h('span', {class: 'muted'}, 'Loading metrics…'));
  const gpuSlot = h('div', {class: 'card', id: 'serving-gpus'}, h('h2', {}, 'Utilisation'), h('span', {class: 'muted'}, '…'));
  const chartsSlot = h('div', {class: 'card', id: 'serving-charts'}, h('h2', {}, 'Over time'), h('span', {class: 'muted'}, '…'));
  fill(root, h('h1', {}, `Deployment ${deployment.name}`),
    deployment.type !== DEPLOYMENT ? h('div', {class: 'notice'}, `Context ${id} is a ${deployment.type}, not a ${DEPLOYMENT}: its serving metrics, if any, are below.`) : null,
    h('div', {class: 'card'}, kvTable([
      ...['server', 'model_name', 'model_version', 'destination', 'endpoint'].filter((k) => props[k]).map((k) => [k, valueText(props[k])]),
      ['serving', servings.length ? h('span', {}, servings.map((e) => nodeLink('execution', e.id, `${e.type} ${e.id}`))) : h('span', {class: 'muted'}, 'none recorded')],
      ['links', h('span', {}, nodeLink('context', id, 'node and history'), ' · ', h('a', {href: '#/serving'}, 'all deployments'))],
    ])),
    versionsSlot, gpuSlot, chartsSlot);
  if (!servings.length) {
    fill(versionsSlot, h('h2', {}, 'Per model version'), h('p', {class: 'muted'}, `No ${SERVING} execution in this context: record the push with mlineage.integrations.serving.record_push.`));
    gpuSlot.remove(); chartsSlot.remove();
    return;
  }
  const summaries = (await Promise.all(servings.map((e) => get(`/executions/${e.id}/metrics`))))
    .flatMap((answer) => answer.metrics.map((m) => ({...m, execution: answer.execution_id, ...parseSeries(m.name)})));
  if (!current()) return;
  if (!summaries.length) {
    fill(versionsSlot, h('h2', {}, 'Per model version'), h('p', {class: 'muted', id: 'serving-none'}, 'No metrics scraped yet: mlineage serving watch ENDPOINT --deployment NAME records them.'));
    gpuSlot.remove(); chartsSlot.remove();
    return;
  }
  const versions = new Map();
  for (const s of summaries.filter((x) => x.scope === 'model')) {
    const key = `${s.model}/${s.version}`;
    if (!versions.has(key)) versions.set(key, {model: s.model, version: s.version, series: []});
    versions.get(key).series.push(s);
  }
  for (const v of versions.values()) { v.series = roles(v.series); v.totals = totals(v.series); }
  fill(versionsSlot, h('h2', {}, 'Per model version'), versions.size ? table(['model', 'version', 'requests', 'failed', 'inferences', 'mean latency', 'last scrape'],
    [...versions.values()].map((v) => [v.model, v.version, number(v.totals.ok, 6), number(v.totals.failed, 6), number(v.totals.inferences, 6),
      v.totals.latency === null ? '—' : `${number(v.totals.latency, 3)} ms`, time(v.totals.last)])) : h('p', {class: 'muted'}, 'No per-model series recorded.'));
  const utilisation = summaries.filter((s) => /utilization$/.test(s.metric) && (s.scope === 'gpu' || s.scope === 'server'));
  fill(gpuSlot, h('h2', {}, 'Utilisation'), utilisation.length ? table(['of', 'metric', 'last', 'min', 'max'], utilisation.map((s) => [
    s.scope === 'gpu' ? `GPU ${s.gpu}` : 'server', s.metric, `${number(100 * s.last_value, 3)} %`, `${number(100 * s.min_value, 3)} %`, `${number(100 * s.max_value, 3)} %`]))
    : h('p', {class: 'muted'}, 'No utilisation recorded.'));

  // Charts: request rate and mean latency per interval for each version, utilisation over time.
  const points = new Map();
  const wanted = [...new Set([...[...versions.values()].flatMap((v) => v.series), ...utilisation].map((s) => `${s.execution}\u0000${s.name}`))];
  await Promise.all(wanted.map(async (key) => {
    const [execution, name] = key.split('\u0000');
    const answer = await get(`/executions/${execution}/metrics/${encodeURIComponent(name)}`, {page_size: MAX_POINTS});
    points.set(key, answer.points);
  }));
  await loadCharts();
  if (!current()) return;
  const of = (s) => points.get(`${s.execution}\u0000${s.name}`) || [];
  fill(chartsSlot, h('h2', {}, 'Over time'));
  const drawn = [];
  const chart = (title, series, yLabel) => {
    if (!series.some((s) => s.points.length)) return;
    const box = h('div', {class: 'chart', 'data-chart': title});
    chartsSlot.append(box);
    lineChart(box, title, series, {time: true, yLabel});
    drawn.push({title, series: series.map((s) => s.points.map((p) => p.value))});
  };
  for (const v of versions.values()) {
    const ok = summed(v.series.filter((s) => s.role === 'ok').map(of));
    const latency = summed(v.series.filter((s) => s.role === 'latency').map(of));
    const count = v.series.some((s) => s.role === 'latencyCount') ? summed(v.series.filter((s) => s.role === 'latencyCount').map(of)) : ok;
    chart(`${v.model} v${v.version} · requests/s`, [{label: 'requests/s', points: perInterval(ok, null, 1)}], 'requests/s');
    if (latency.size) chart(`${v.model} v${v.version} · mean latency (ms)`, [{label: 'ms', points: perInterval(latency, count, 1 / 1000)}], 'ms');
  }
  if (utilisation.length) {
    chart('utilisation (%)', utilisation.map((s) => ({label: s.scope === 'gpu' ? `GPU ${s.gpu.slice(0, 12)}` : `server ${s.metric}`,
      points: of(s).map((p) => ({step: p.step, value: 100 * Number(p.value)}))})), '%');
  }
  if (!drawn.length) chartsSlot.append(h('p', {class: 'muted'}, 'One scrape so far: rates and latencies over time need two.'));
  window.mlineage = Object.assign(window.mlineage || {}, {servingCharts: drawn});  // what the charts show, for tests
}

async function renderList(root, current) {
  const slot = h('div', {id: 'deployments'}, h('span', {class: 'muted'}, 'Loading deployments…'));
  fill(root, h('h1', {}, 'Serving'), slot);
  try {
    const answer = await get('/contexts', {type_name: DEPLOYMENT, page_size: 100, order_by: 'create_time desc'});
    if (!current()) return;
    const list = answer.contexts || [];
    const prop = (c, k) => valueText((c.properties || {})[k] || (c.custom_properties || {})[k]) || '—';
    fill(slot, list.length ? table(['deployment', 'server', 'model', 'version', 'endpoint', 'recorded'], list.map((c) => [
      h('a', {href: href('serving', [c.id])}, c.name), prop(c, 'server'), prop(c, 'model_name'), prop(c, 'model_version'), prop(c, 'endpoint'), time(c.create_time_since_epoch)]))
      : h('p', {class: 'muted'}, 'No deployments recorded (mlineage.integrations.serving.record_push records one).'),
    answer.next_page_token ? h('p', {class: 'muted'}, 'The newest 100 are shown.') : null);
  } catch (error) {
    if (current()) fill(slot, errorBox(error));
  }
}

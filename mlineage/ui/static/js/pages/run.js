// A run (a pipeline_run context, or any context): its steps as a graph, params, metric charts, inputs/outputs, GPU, environment.
import {ApiError, get} from '../api.js';
import {href} from '../app.js';
import {duration, errorBox, fill, h, kvTable, nodeLink, stateBadge, table, time, valueText} from '../dom.js';
import {draw, elements, loadCytoscape} from '../graph.js';
import {lineChart, loadCharts} from '../charts.js';
import {runFacts, runState} from './runs.js';

const MAX_MEMBERS = 500;
const MAX_CHARTS = 12;
const ENVIRONMENT_KEYS = ['git_commit', 'git_branch', 'git_dirty', 'image', 'container_image', 'host', 'user', 'platform', 'python_version', 'cpu_count'];

async function all(path, field) {
  const found = [];
  let token = '';
  do {
    const page = await get(path, {page_size: 100, page_token: token});
    found.push(...(page[field] || []));
    token = page.next_page_token || '';
  } while (token && found.length < MAX_MEMBERS);
  return {nodes: found, more: Boolean(token)};
}

export async function render(root, {args, current}) {
  const [id] = args;
  if (!/^\d+$/.test(id || '')) {
    fill(root, h('h1', {}, 'Run'), errorBox({code: 'INVALID_ARGUMENT', message: `a run is /run/CONTEXT_ID, not "${args.join('/')}"`}));
    return;
  }
  // The run and its members are asked for at once; the graph library (a large script whose parsing holds the
  // page's thread) loads only once the page has drawn.
  let run;
  let executions;
  let artifacts;
  try {
    [run, executions, artifacts] = await Promise.all([get(`/contexts/${id}`),
      all(`/contexts/${id}/executions`, 'executions'), all(`/contexts/${id}/artifacts`, 'artifacts')]);
  } catch (error) {
    if (current()) fill(root, h('h1', {}, `Run ${id}`), errorBox(error),
      error instanceof ApiError && error.status === 404 ? h('p', {}, h('a', {href: `#/node/context/${id}`}, 'Its history, if it was deleted')) : null);
    return;
  }
  if (!current()) return;
  const facts = runFacts(run);
  const ids = executions.nodes.map((e) => e.id);
  const events = ids.length ? (await get('/events', {execution_id: ids})).events || [] : [];
  if (!current()) return;
  const known = new Map(artifacts.nodes.map((a) => [a.id, a]));
  const missing = [...new Set(events.map((ev) => ev.artifact_id).filter((a) => !known.has(a)))];
  // Inputs from outside the run (another run's model, a shared dataset), in one request; deleted ones are left out.
  if (missing.length) {
    const outside = await get('/artifacts', {filter: `id IN (${missing.slice(0, 1000).map(Number).join(',')})`, page_size: 1000});
    if (!current()) return;
    for (const artifact of outside.artifacts || []) known.set(artifact.id, artifact);
  }
  const graphSlot = h('div', {class: 'graph small', id: 'run-graph'});
  const chartsSlot = h('div', {id: 'run-charts'}, h('span', {class: 'muted'}, 'Loading metrics…'));
  const outputs = events.filter((ev) => !String(ev.type).endsWith('INPUT'));
  const produced = new Set(outputs.map((ev) => ev.artifact_id));
  const stepName = new Map(executions.nodes.map((e) => [e.id, valueText((e.custom_properties || {}).step) || e.type]));
  const ioRows = events.map((ev) => {
    const a = known.get(ev.artifact_id);
    const input = String(ev.type).endsWith('INPUT');
    return [stepName.get(ev.execution_id) || ev.execution_id, input ? (produced.has(ev.artifact_id) ? 'input (from the run)' : 'input') : 'output',
      a ? nodeLink('artifact', a.id, `${a.type} ${a.name || a.uri || '#' + a.id}`) : `artifact ${ev.artifact_id} (deleted)`, a ? h('code', {}, a.uri || '') : ''];
  });
  const paramRows = [];
  const gpuRows = [];
  const environment = new Map();
  for (const e of executions.nodes) {
    for (const [key, value] of Object.entries(e.custom_properties || {}).sort()) {
      if (key.startsWith('param.')) paramRows.push([stepName.get(e.id), key.slice(6), h('code', {}, valueText(value))]);
      else if (/gpu/i.test(key)) gpuRows.push([stepName.get(e.id), key, h('code', {}, valueText(value))]);
      else if (ENVIRONMENT_KEYS.includes(key)) environment.set(key, new Set([...(environment.get(key) || []), valueText(value)]));
    }
    for (const [key, value] of Object.entries(e.properties || {})) {
      if (['hyperparameters', 'learning_rate', 'train_args'].includes(key)) paramRows.push([stepName.get(e.id), key, h('code', {}, valueText(value))]);
    }
  }
  const lastOutput = outputs.length ? outputs[outputs.length - 1].artifact_id : null;
  const status = facts.status || runState(executions.nodes);
  fill(root,
    h('h1', {}, `Run ${run.name || run.id}`, ' ', stateBadge(status)),
    h('div', {class: 'card'}, kvTable([
      ['pipeline', facts.pipeline || '—'], ['type', run.type], ['started', time(facts.started)], ['duration', duration(facts.duration)],
      ['steps', `${executions.nodes.length}${executions.more ? '+' : ''}`], ['artifacts', `${known.size}`],
      ['links', h('span', {}, nodeLink('context', run.id, 'node and history'), ' · ',
        lastOutput ? h('a', {href: href('lineage', ['artifact', lastOutput], {direction: 'up', hops: 20}), id: 'run-lineage'}, 'lineage of its last output') : 'no outputs', ' · ',
        h('a', {href: href('compare', [], {runs: run.id})}, 'compare'))],
    ])),
    h('h2', {}, 'Steps'), graphSlot,
    h('div', {class: 'card'}, table(['step', 'type', 'state', 'started', 'duration'], executions.nodes.map((e) => {
      const c = e.custom_properties || {};
      const start = Number(valueText(c.started_at_ms) || e.create_time_since_epoch);
      const end = valueText(c.ended_at_ms);
      return [nodeLink('execution', e.id, stepName.get(e.id)), e.type, stateBadge(e.last_known_state), time(start), duration(end ? Number(end) - start : null)];
    }))),
    h('div', {class: 'grid2'},
      h('div', {class: 'card', id: 'run-params'}, h('h2', {}, 'Params'), paramRows.length ? table(['step', 'param', 'value'], paramRows) : h('p', {class: 'muted'}, 'No params recorded.')),
      h('div', {class: 'card', id: 'run-environment'}, h('h2', {}, 'Environment'), environment.size ? kvTable([...environment].map(([k, v]) => [k, [...v].join(', ')])) : h('p', {class: 'muted'}, 'No environment recorded.'),
        h('h2', {}, 'GPU'), gpuRows.length ? table(['step', 'fact', 'value'], gpuRows) : h('p', {class: 'muted'}, 'No GPU recorded.'))),
    h('div', {class: 'card'}, h('h2', {}, 'Metrics'), chartsSlot),
    h('div', {class: 'card', id: 'run-io'}, h('h2', {}, 'Inputs and outputs'), ioRows.length ? table(['step', 'direction', 'artifact', 'uri'], ioRows) : h('p', {class: 'muted'}, 'No events.')));

  const graph = {artifacts: [...known.values()], executions: executions.nodes, events};
  loadCytoscape().then(() => {
    if (!current()) return;
    const cy = draw(graphSlot, elements(graph));
    cy.on('tap', 'node', (event) => { location.hash = `#/node/${event.target.data('kind')}/${event.target.data('nid')}`; });
    window.mlineage = Object.assign(window.mlineage || {}, {runCy: cy});
  }).catch((error) => current() && fill(graphSlot, errorBox(error)));

  // The charts come after the page counts as drawn (not awaited by render); 'mlineage:complete' marks their end.
  charts(executions.nodes, stepName, chartsSlot, current).catch((error) => current() && fill(chartsSlot, errorBox(error)))
    .then(() => current() && performance.mark('mlineage:complete'));
}

async function charts(steps, stepName, slot, current) {
  const summaries = await Promise.all(steps.map((e) => get(`/executions/${e.id}/metrics`).then((x) => ({e, metrics: x.metrics})).catch(() => ({e, metrics: []}))));
  if (!current()) return;
  const wanted = summaries.flatMap(({e, metrics}) => metrics.map((m) => ({e, m}))).slice(0, MAX_CHARTS);
  if (!wanted.length) { fill(slot, h('p', {class: 'muted'}, 'No metric series recorded.')); return; }
  await loadCharts();
  if (!current()) return;
  const series = await Promise.all(wanted.map(({e, m}) => get(`/executions/${e.id}/metrics/${encodeURIComponent(m.name)}`, {page_size: 5000})));
  if (!current()) return;
  fill(slot);
  wanted.forEach(({e, m}, i) => {
    const box = h('div', {class: 'chart', 'data-metric': m.name});
    slot.append(box);
    lineChart(box, `${stepName.get(e.id)} · ${m.name}`, [{label: m.name, points: series[i].points}]);
  });
}

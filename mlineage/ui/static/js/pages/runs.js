// Runs: the pipelines, and their runs (pipeline_run contexts), newest first, searchable with MLMD's filter language.
import {ApiError, get} from '../api.js';
import {href} from '../app.js';
import {duration, errorBox, fill, h, stateBadge, table, time, valueNumber, valueText} from '../dom.js';

const PAGE_SIZE = 20;
const RUN_TYPE = 'pipeline_run';
const PIPELINE_TYPE = 'pipeline';
// A pipeline's runs are found through its newest steps (see pipelineLink); more than this and older runs without
// a parent link are left out, and the page says so.
const PIPELINE_STEPS = 5000;

/**
 * The filter that finds a pipeline's runs: runs whose parent context is the pipeline, or that share a step with it.
 * TFX associates each execution with the pipeline and the pipeline_run contexts and does not always set a parent
 * link between them; the step client sets the link. Resolves to {filter, partial}.
 */
export async function pipelineLink(pipelineId) {
  const steps = [];
  let token = '';
  do {
    const page = await get(`/contexts/${pipelineId}/executions`, {page_size: 1000, page_token: token, order_by: 'create_time desc'});
    steps.push(...(page.executions || []).map((e) => e.id));
    token = page.next_page_token || '';
  } while (token && steps.length < PIPELINE_STEPS);
  const parent = `parent_contexts_a.id = ${Number(pipelineId)}`;
  return {filter: steps.length ? `(${parent} OR executions_a.id IN (${steps.join(',')}))` : parent, partial: Boolean(token)};
}

export function runFacts(run) {
  const custom = run.custom_properties || {};
  const props = run.properties || {};
  const started = Number(valueText(custom.started_at_ms) || run.create_time_since_epoch || 0);
  const endedText = valueText(custom.ended_at_ms);
  const ended = endedText ? Number(endedText) : null;
  return {
    pipeline: valueText(custom.pipeline_name || props.pipeline_name) || '',
    status: valueText(custom.status || props.status) || '',
    started,
    duration: ended ? ended - started : null,
  };
}

/** A run's state from its steps when the run does not record one (TFX's runs): failed, running or complete. */
export function runState(executions) {
  const states = executions.map((e) => e.last_known_state || 'UNKNOWN');
  if (!states.length) return '';
  if (states.some((s) => s === 'FAILED')) return 'FAILED';
  if (states.some((s) => s === 'RUNNING' || s === 'NEW' || s === 'UNKNOWN')) return 'RUNNING';
  if (states.some((s) => s === 'CANCELED')) return 'CANCELED';
  return 'COMPLETE';
}

export async function render(root, {query, current}) {
  const filter = query.get('filter') || '';
  const token = query.get('page') || '';
  const back = query.getAll('back');
  const runType = query.get('type') || RUN_TYPE;
  const pipelineType = query.get('pipeline_type') || PIPELINE_TYPE;
  const pipelineId = query.get('pipeline') || '';
  // What every link of this page keeps: the types shown and the pipeline chosen.
  const kept = {type: query.get('type') || '', pipeline_type: query.get('pipeline_type') || '', pipeline: pipelineId};
  const errorSlot = h('div', {});
  const input = h('input', {name: 'filter', value: filter, placeholder: "MLMD filter, e.g. parent_contexts_a.name = 'taxi' AND custom_properties.status.string_value = 'COMPLETE'", 'aria-label': 'filter'});
  const form = h('form', {class: 'search', id: 'run-search'}, input, h('button', {class: 'primary'}, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = href('runs', [], {...kept, filter: input.value.trim()});
  });
  const pipelines = h('div', {class: 'card', id: 'pipelines'}, h('span', {class: 'muted'}, 'Pipelines…'));
  const runsSlot = h('div', {id: 'runs'}, h('p', {class: 'muted'}, 'Loading runs…'));
  const heading = h('h1', {}, 'Runs');
  fill(root, heading, pipelines, form, errorSlot, runsSlot);

  get('/contexts', {type_name: pipelineType, page_size: 100, order_by: 'create_time desc'}).then((answer) => {
    if (!current()) return;
    const list = answer.contexts || [];
    fill(pipelines, h('strong', {}, 'Pipelines: '), list.length ? list.map((p) => h('a', {
      class: p.id === pipelineId ? 'pill current' : 'pill', href: href('runs', [], {...kept, pipeline: p.id}),
    }, p.name)) : h('span', {class: 'muted'}, 'none recorded'),
    pipelineId ? h('a', {class: 'pill', id: 'all-runs', href: href('runs', [], {...kept, pipeline: ''})}, 'all runs') : null);
  }).catch((error) => current() && fill(pipelines, errorBox(error)));

  let answer;
  let partial = false;
  let pipelineName = '';
  try {
    let wanted = filter;
    if (pipelineId) {
      if (!/^\d+$/.test(pipelineId)) throw new ApiError(400, 'INVALID_ARGUMENT', `a pipeline is a context id, not "${pipelineId}"`);
      const [pipeline, link] = await Promise.all([get(`/contexts/${pipelineId}`), pipelineLink(pipelineId)]);
      if (!current()) return;
      pipelineName = pipeline.name || '';
      fill(heading, 'Runs of ', h('a', {href: `#/node/context/${pipeline.id}`}, pipeline.name || `pipeline ${pipeline.id}`));
      partial = link.partial;
      wanted = filter ? `${link.filter} AND (${filter})` : link.filter;
    }
    answer = await get('/contexts', {type_name: runType, filter: wanted, page_size: PAGE_SIZE, page_token: token, order_by: 'create_time desc'});
  } catch (error) {
    if (!current()) return;
    fill(errorSlot, errorBox(error));
    fill(runsSlot, h('p', {class: 'muted'}, 'No runs shown: fix the filter above.'));
    input.setAttribute('aria-invalid', 'true');
    return;
  }
  if (!current()) return;
  const runs = answer.contexts || [];
  const selected = new Set();
  const compare = h('a', {class: 'pill', id: 'compare-selected', href: '#/compare'}, 'Compare selected');
  const metricCells = new Map();
  const stateCells = new Map();
  const rows = runs.map((run) => {
    const facts = runFacts(run);
    const box = h('input', {type: 'checkbox', 'aria-label': `select ${run.name}`, onchange: (event) => {
      if (event.target.checked) selected.add(run.id); else selected.delete(run.id);
      compare.setAttribute('href', href('compare', [], {runs: [...selected].join(',')}));
    }});
    const metrics = h('td', {class: 'muted'}, '…');
    metricCells.set(run.id, metrics);
    const state = h('td', {}, stateBadge(facts.status));
    if (!facts.status) stateCells.set(run.id, state);
    return [box, h('a', {href: href('run', [run.id])}, run.name || `run ${run.id}`), facts.pipeline || pipelineName || '—',
      state, time(facts.started), duration(facts.duration), metrics];
  });
  const pager = h('div', {class: 'pager'},
    back.length ? h('a', {href: href('runs', [], {...kept, filter, page: back[back.length - 1] === '-' ? '' : back[back.length - 1], back: back.slice(0, -1)})}, '← Newer') : null,
    answer.next_page_token ? h('a', {id: 'older', href: href('runs', [], {...kept, filter, page: answer.next_page_token, back: [...back, token || '-']})}, 'Older →') : null,
    h('span', {class: 'muted'}, `${runs.length} run${runs.length === 1 ? '' : 's'} on this page`));
  fill(runsSlot, runs.length ? table(['', 'Run', 'Pipeline', 'State', 'Started', 'Duration', 'Key metrics'], rows)
    : h('p', {class: 'muted'}, filter || pipelineId ? 'No run matches.' : 'No runs recorded yet.'), pager,
    partial ? h('p', {class: 'muted', id: 'runs-partial'}, `Runs found through the pipeline's newest ${PIPELINE_STEPS} steps and its child runs; older runs without a parent link are not listed.`) : null,
    runs.length ? h('div', {class: 'toolbar'}, compare) : null);
  // Key metrics after the first paint: the last value of each metric.* a step of the run logged.
  // Not awaited: the page counts as drawn (body[data-ready]) before these arrive.
  Promise.all(runs.map((run) => get(`/contexts/${run.id}/executions`, {page_size: 100}).then((page) => {
    if (!current()) return;
    const found = [];
    for (const execution of page.executions || []) {
      for (const [key, value] of Object.entries(execution.custom_properties || {})) {
        if (key.startsWith('metric.') && valueNumber(value) !== null) found.push(`${key.slice(7)}=${Number(valueNumber(value).toPrecision(4))}`);
      }
    }
    fill(metricCells.get(run.id), found.slice(0, 4).join('  ') || '—');
    if (stateCells.has(run.id)) fill(stateCells.get(run.id), stateBadge(runState(page.executions || [])));
  }).catch(() => current() && fill(metricCells.get(run.id), '—')))).then(() => current() && performance.mark('mlineage:complete'));
}

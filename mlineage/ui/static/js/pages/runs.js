// Runs: the pipelines, and their runs (pipeline_run contexts), newest first, searchable with MLMD's filter language.
import {get} from '../api.js';
import {href} from '../app.js';
import {duration, errorBox, fill, h, stateBadge, table, time, valueNumber, valueText} from '../dom.js';

const PAGE_SIZE = 20;
const RUN_TYPE = 'pipeline_run';

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
  const errorSlot = h('div', {});
  const input = h('input', {name: 'filter', value: filter, placeholder: "MLMD filter, e.g. parent_contexts_a.name = 'taxi' AND custom_properties.status.string_value = 'COMPLETE'", 'aria-label': 'filter'});
  const form = h('form', {class: 'search', id: 'run-search'}, input, h('button', {class: 'primary'}, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = href('runs', [], {filter: input.value.trim()});
  });
  const pipelines = h('div', {class: 'card', id: 'pipelines'}, h('span', {class: 'muted'}, 'Pipelines…'));
  const runsSlot = h('div', {id: 'runs'}, h('p', {class: 'muted'}, 'Loading runs…'));
  fill(root, h('h1', {}, 'Runs'), pipelines, form, errorSlot, runsSlot);

  get('/contexts', {type_name: 'pipeline', page_size: 100, order_by: 'create_time desc'}).then((answer) => {
    if (!current()) return;
    const list = answer.contexts || [];
    fill(pipelines, h('strong', {}, 'Pipelines: '), list.length ? list.map((p) => h('a', {
      class: 'pill', href: href('runs', [], {filter: `parent_contexts_a.name = '${p.name.replace(/'/g, "\\'")}'`}),
    }, p.name)) : h('span', {class: 'muted'}, 'none recorded'));
  }).catch((error) => current() && fill(pipelines, errorBox(error)));

  let answer;
  try {
    answer = await get('/contexts', {type_name: RUN_TYPE, filter, page_size: PAGE_SIZE, page_token: token, order_by: 'create_time desc'});
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
    return [box, h('a', {href: href('run', [run.id])}, run.name || `run ${run.id}`), facts.pipeline || '—',
      state, time(facts.started), duration(facts.duration), metrics];
  });
  const pager = h('div', {class: 'pager'},
    back.length ? h('a', {href: href('runs', [], {filter, page: back[back.length - 1] === '-' ? '' : back[back.length - 1], back: back.slice(0, -1)})}, '← Newer') : null,
    answer.next_page_token ? h('a', {id: 'older', href: href('runs', [], {filter, page: answer.next_page_token, back: [...back, token || '-']})}, 'Older →') : null,
    h('span', {class: 'muted'}, `${runs.length} run${runs.length === 1 ? '' : 's'} on this page`));
  fill(runsSlot, runs.length ? table(['', 'Run', 'Pipeline', 'State', 'Started', 'Duration', 'Key metrics'], rows)
    : h('p', {class: 'muted'}, filter ? 'No run matches this filter.' : 'No runs recorded yet.'), pager,
    runs.length ? h('div', {class: 'toolbar'}, compare) : null);
  // Key metrics after the first paint: the last value of each metric.* a step of the run logged.
  for (const run of runs) {
    get(`/contexts/${run.id}/executions`, {page_size: 100}).then((page) => {
      if (!current()) return;
      const found = [];
      for (const execution of page.executions || []) {
        for (const [key, value] of Object.entries(execution.custom_properties || {})) {
          if (key.startsWith('metric.') && valueNumber(value) !== null) found.push(`${key.slice(7)}=${Number(valueNumber(value).toPrecision(4))}`);
        }
      }
      fill(metricCells.get(run.id), found.slice(0, 4).join('  ') || '—');
      if (stateCells.has(run.id)) fill(stateCells.get(run.id), stateBadge(runState(page.executions || [])));
    }).catch(() => current() && fill(metricCells.get(run.id), '—'));
  }
}

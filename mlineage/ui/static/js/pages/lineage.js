// Lineage explorer: a node's lineage up, down or both, as a dagre-laid DAG; click to expand, load more, paths, export.
import {get} from '../api.js';
import {href} from '../app.js';
import {errorBox, fill, h, nodeLink} from '../dom.js';
import {download, draw, elements, layout, loadCytoscape, toMermaid, toSvg} from '../graph.js';

const DEFAULT_MAX_NODES = 300;
const list = (text) => String(text || '').split(',').map((x) => x.trim()).filter(Boolean);

function startForm() {
  const kind = h('select', {name: 'kind'}, h('option', {value: 'artifact'}, 'artifact'), h('option', {value: 'execution'}, 'execution'));
  const id = h('input', {name: 'id', placeholder: 'id', size: 8});
  const form = h('form', {class: 'toolbar'}, 'Start from', kind, id, h('button', {class: 'primary'}, 'Explore'));
  form.addEventListener('submit', (e) => { e.preventDefault(); if (id.value.trim()) location.hash = href('lineage', [kind.value, id.value.trim()]); });
  return form;
}

export async function render(root, {args, query, current}) {
  const [kind, id] = args;
  if (!kind) {
    fill(root, h('h1', {}, 'Lineage explorer'), h('p', {class: 'muted'}, 'Open the lineage of an artifact or an execution (or use “Lineage” on any node page).'), startForm());
    return;
  }
  if (!['artifact', 'execution'].includes(kind) || !/^\d+$/.test(id || '')) {
    fill(root, h('h1', {}, 'Lineage explorer'), errorBox({code: 'INVALID_ARGUMENT', message: `the lineage starts from an artifact or an execution id, not "${args.join('/')}"`}), startForm());
    return;
  }
  const options = {
    direction: query.get('direction') || 'both',
    hops: query.get('hops') || '3',
    max_nodes: query.get('max_nodes') || String(DEFAULT_MAX_NODES),
    artifact_type: query.get('artifact_type') || '',
    execution_type: query.get('execution_type') || '',
    artifact_state: query.get('artifact_state') || '',
    execution_state: query.get('execution_state') || '',
  };
  const field = (name, attrs = {}) => h('input', {name, value: options[name], ...attrs});
  const direction = h('select', {name: 'direction'}, ['up', 'down', 'both'].map((d) => h('option', {value: d, selected: d === options.direction}, d)));
  const controls = h('form', {class: 'toolbar', id: 'lineage-options'},
    h('label', {}, 'Direction', direction),
    h('label', {}, 'Hops', field('hops', {type: 'number', min: 0, max: 100, style: 'width:5em'})),
    h('label', {}, 'Node cap', field('max_nodes', {type: 'number', min: 1, max: 100000, style: 'width:6em'})),
    h('label', {}, 'Artifact types', field('artifact_type', {placeholder: 'Model, Examples', size: 14})),
    h('label', {}, 'Execution types', field('execution_type', {placeholder: 'Trainer', size: 12})),
    h('label', {}, 'Artifact states', field('artifact_state', {placeholder: 'LIVE', size: 8})),
    h('label', {}, 'Execution states', field('execution_state', {placeholder: 'COMPLETE', size: 10})),
    h('button', {class: 'primary'}, 'Apply'));
  controls.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(controls).entries());
    location.hash = href('lineage', [kind, id], data);
  });
  const status = h('div', {class: 'toolbar', id: 'lineage-status'});
  const message = h('div', {});
  const container = h('div', {class: 'graph', id: 'lineage-graph'});
  const side = h('div', {class: 'card', id: 'lineage-side'}, h('span', {class: 'muted'}, 'Click a node to load its neighbours.'));
  const exported = h('div', {});
  const clickMode = h('select', {id: 'click-mode'}, h('option', {value: 'expand'}, 'click expands a node'), h('option', {value: 'path'}, 'click picks path ends'));
  const tools = h('div', {class: 'toolbar'}, clickMode,
    h('button', {type: 'button', id: 'clear-path', onclick: () => { pathEnds = []; cy && cy.elements().removeClass('path'); showPath(null); }}, 'Clear path'),
    h('span', {class: 'muted'}, 'Export:'),
    h('button', {type: 'button', id: 'export-png', onclick: () => cy && download(`lineage-${kind}-${id}.png`, cy.png({full: true, output: 'blob', bg: '#ffffff'}))}, 'PNG'),
    h('button', {type: 'button', id: 'export-svg', onclick: () => cy && download(`lineage-${kind}-${id}.svg`, toSvg(cy), 'image/svg+xml')}, 'SVG'),
    h('button', {type: 'button', id: 'export-mermaid', onclick: () => { if (!cy) return; const text = toMermaid(cy); fill(exported, h('pre', {class: 'export', id: 'mermaid-text'}, text)); download(`lineage-${kind}-${id}.mmd`, text, 'text/plain'); }}, 'Mermaid'));
  fill(root, h('h1', {}, 'Lineage of ', nodeLink(kind, id, `${kind} ${id}`)), controls, message, status, tools, container, side, exported);

  const params = {
    [`${kind}_id`]: id, direction: options.direction, max_hops: options.hops, max_nodes: options.max_nodes,
    artifact_type: list(options.artifact_type), execution_type: list(options.execution_type),
    artifact_state: list(options.artifact_state), execution_state: list(options.execution_state), contexts: false,
  };
  let cy = null;
  let cursor = '';
  let pathEnds = [];
  const t0 = performance.now();
  let answer;
  try {
    [answer] = await Promise.all([get('/lineage', params), loadCytoscape()]);
  } catch (error) {
    if (current()) { fill(message, errorBox(error)); container.remove(); tools.remove(); side.remove(); }
    return;
  }
  if (!current()) return;
  const fetched = performance.now();
  const hops = Object.fromEntries((answer.hops || []).map((x) => [`${x.kind}:${x.id}`, x.hop]));
  cy = draw(container, elements(answer.graph, answer.tombstones, hops));
  const laidOutMs = performance.now() - t0;
  // The request (with the scripts' loading) and the layout apart (and which layout), for bench/ui_bench.py.
  const timings = {fetchMs: fetched - t0, layoutMs: performance.now() - fetched, laidOutMs,
    layout: layout(cy.nodes().length).name};
  window.mlineage = Object.assign(window.mlineage || {}, {cy, timings});

  const loadMore = h('button', {type: 'button', id: 'load-more', onclick: async () => {
    loadMore.disabled = true;
    try {
      const next = await get('/lineage', {...params, cursor});
      add(elements(next.graph, next.tombstones));
      cursor = next.truncated ? next.cursor : '';
    } catch (error) { fill(message, errorBox(error)); }
    loadMore.disabled = false;
    update();
  }}, 'truncated — load more');

  function update() {
    fill(status, h('span', {id: 'lineage-counts'}, `${cy.nodes().length} nodes · ${cy.edges().length} edges`),
      h('span', {class: 'muted'}, `laid out in ${Math.round(laidOutMs)} ms`), cursor ? loadMore : null);
    document.body.dataset.lineageNodes = String(cy.nodes().length);
  }

  function add(elems) {
    const fresh = elems.filter((el) => cy.getElementById(el.data.id).empty());
    if (!fresh.length) return 0;
    cy.add(fresh);
    cy.layout(layout(cy.nodes().length)).run();
    return fresh.length;
  }

  function showPath(text) {
    const note = side.querySelector('.path-note');
    if (note) note.remove();
    if (text) side.append(h('p', {class: 'path-note'}, text));
  }

  cursor = answer.truncated ? answer.cursor : '';
  update();

  cy.on('tap', 'node', async (event) => {
    const node = event.target;
    const nk = node.data('kind');
    const nid = node.data('nid');
    fill(side, h('strong', {}, node.data('label').replace('\n', ' · ')), ' ',
      nodeLink(nk, nid, 'open node'), ' ', h('a', {href: href('lineage', [nk, nid], options)}, 'explore from here'));
    if (clickMode.value === 'path') {
      pathEnds = [...pathEnds.slice(-1), node];
      cy.elements().removeClass('path');
      if (pathEnds.length === 2) {
        const found = cy.elements().aStar({root: pathEnds[0], goal: pathEnds[1], directed: false});
        if (found.found) { found.path.addClass('path'); showPath(`Path: ${found.path.nodes().length} nodes, ${found.path.edges().length} edges.`); }
        else showPath('No path between these two nodes in the graph shown.');
      } else showPath('Pick a second node.');
      return;
    }
    if (node.data('deleted')) return;
    try {
      const around = await get('/lineage', {[`${nk}_id`]: nid, direction: 'both', max_hops: 1, contexts: false,
        artifact_type: params.artifact_type, execution_type: params.execution_type,
        artifact_state: params.artifact_state, execution_state: params.execution_state});
      const added = add(elements(around.graph, around.tombstones));
      side.append(h('p', {class: 'muted', id: 'expanded'}, added ? `Expanded: ${added} new elements.` : 'No new neighbours.'));
      update();
    } catch (error) { side.append(errorBox(error)); }
  });
}

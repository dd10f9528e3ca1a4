// Lineage graphs drawn with Cytoscape.js, laid out by dagre (vendored) or, when large, layered.js; their export as PNG, SVG, Mermaid.
import {loadScript} from './api.js';
import {register as registerLayered} from './layered.js';

const VENDOR = '/ui/static/vendor';
let ready = null;

/** Load Cytoscape.js and cytoscape-dagre once (pages without a graph never load them). */
export function loadCytoscape() {
  if (!ready) {
    ready = loadScript(`${VENDOR}/cytoscape.min.js`)
      .then(() => loadScript(`${VENDOR}/cytoscape-dagre.min.js`))
      .then(() => { window.cytoscape.use(window.cytoscapeDagre); registerLayered(window.cytoscape); });
  }
  return ready;
}

export const STATE_COLOURS = {
  COMPLETE: '#1f8a4c', CACHED: '#5aa36f', LIVE: '#1f8a4c', FAILED: '#c4321f', CANCELED: '#c4321f',
  RUNNING: '#2458d6', NEW: '#6b8fe3', PENDING: '#b7791f', UNKNOWN: '#8b8f99',
  DELETED: '#8b8f99', MARKED_FOR_DELETION: '#8b8f99', ABANDONED: '#8b8f99', REFERENCE: '#7b61c4',
};

// Light fills of the state colours, for executions.
const FILLS = {COMPLETE: '#e3f4ea', CACHED: '#e8f3eb', FAILED: '#fdecea', CANCELED: '#fdecea', RUNNING: '#e7eefc', NEW: '#eef2fc'};

export const nodeId = (kind, id) => `${kind === 'artifact' ? 'a' : 'e'}${id}`;

function tail(uri) {
  const parts = String(uri || '').split('/').filter(Boolean);
  return parts.slice(-2).join('/');
}

/** Cytoscape elements from a LineageGraph (JSON mapping) plus the walk's tombstones. */
export function elements(graph, tombstones = [], hops = {}) {
  const out = [];
  for (const a of graph.artifacts || []) {
    out.push({group: 'nodes', data: {id: nodeId('artifact', a.id), kind: 'artifact', nid: a.id, type: a.type || '',
      state: a.state || 'UNKNOWN', hop: hops[`ARTIFACT:${a.id}`],
      label: `${a.type || 'Artifact'}\n${a.name || tail(a.uri) || '#' + a.id}`}});
  }
  for (const e of graph.executions || []) {
    out.push({group: 'nodes', data: {id: nodeId('execution', e.id), kind: 'execution', nid: e.id, type: e.type || '',
      state: e.last_known_state || 'UNKNOWN', hop: hops[`EXECUTION:${e.id}`],
      label: `${e.type || 'Execution'}\n#${e.id}`}});
  }
  for (const t of tombstones) {
    const kind = t.kind.toLowerCase();
    out.push({group: 'nodes', data: {id: nodeId(kind, t.id), kind, nid: t.id, type: t.type || '', state: 'DELETED',
      deleted: true, label: `${t.type || kind}\n${t.name || '#' + t.id} (deleted)`}});
  }
  const present = new Set(out.map((x) => x.data.id));
  for (const ev of graph.events || []) {
    const a = nodeId('artifact', ev.artifact_id);
    const e = nodeId('execution', ev.execution_id);
    if (!present.has(a) || !present.has(e)) continue;
    const input = String(ev.type || '').endsWith('INPUT');
    out.push({group: 'edges', data: {id: `${a}-${e}-${ev.type}`, source: input ? a : e, target: input ? e : a, type: ev.type}});
  }
  return out;
}

// Colours by state as selectors rather than functions: Cytoscape caches what selectors give, not what functions do.
const STYLE = [
  {selector: 'node', style: {
    label: 'data(label)', 'text-wrap': 'wrap', 'text-max-width': 150, 'font-size': 10, 'text-valign': 'center',
    'text-halign': 'center', width: 150, height: 42, 'background-color': '#fff', 'border-width': 2,
    'border-color': '#8b8f99', color: '#1d2330', 'min-zoomed-font-size': 6}},
  ...Object.entries(STATE_COLOURS).map(([state, colour]) => ({selector: `node[state = "${state}"]`, style: {'border-color': colour}})),
  {selector: 'node[kind = "artifact"]', style: {shape: 'round-rectangle', 'background-color': '#f3f6fd'}},
  {selector: 'node[kind = "execution"]', style: {shape: 'rectangle', 'background-color': '#f1f1f3'}},
  ...Object.entries(FILLS).map(([state, fill]) => ({selector: `node[kind = "execution"][state = "${state}"]`, style: {'background-color': fill}})),
  {selector: 'node[?deleted]', style: {'border-style': 'dashed', color: '#8b8f99', 'background-color': '#f1f1f3'}},
  {selector: 'node[hop = 0]', style: {'border-width': 4}},
  {selector: 'edge', style: {width: 1.5, 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', 'line-color': '#a9b0bd', 'target-arrow-color': '#a9b0bd'}},
  {selector: '.path', style: {'line-color': '#e8590c', 'target-arrow-color': '#e8590c', 'border-color': '#e8590c', width: 4}},
  {selector: ':selected', style: {'overlay-color': '#2458d6', 'overlay-opacity': 0.15}},
];

const DAGRE = {name: 'dagre', rankDir: 'LR', nodeSep: 18, rankSep: 60, animate: false};
// Over this many nodes dagre takes seconds (its crossing minimisation and positioning, even with the tight-tree
// ranker): layered.js lays out the same left-to-right ranks with a fixed amount of work (bench/ui_bench.py).
const LARGE = 300;
const LAYERED = {name: 'layered', nodeSep: 18, rankSep: 60, nodeWidth: 150, nodeHeight: 42, animate: false};

/** The layout for a graph of `nodes` nodes: dagre, or layered.js over LARGE nodes. */
export function layout(nodes) {
  return nodes > LARGE ? LAYERED : DAGRE;
}

/** A Cytoscape instance in container showing elements, laid out left to right. */
export function draw(container, elems) {
  const nodes = elems.filter((el) => el.group === 'nodes').length;
  return window.cytoscape({container, elements: elems, style: STYLE, layout: layout(nodes),
    minZoom: 0.05, maxZoom: 3});
}

function escapeXml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;'}[c]));
}

/** The graph as a standalone SVG document, from the laid-out positions. */
export function toSvg(cy) {
  const box = cy.elements().boundingBox();
  const pad = 20;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="${box.x1 - pad} ${box.y1 - pad} ${box.w + 2 * pad} ${box.h + 2 * pad}" font-family="sans-serif" font-size="10">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0L10,5L0,10z" fill="#a9b0bd"/></marker></defs>'];
  cy.edges().forEach((edge) => {
    const s = edge.sourceEndpoint();
    const t = edge.targetEndpoint();
    parts.push(`<line x1="${s.x}" y1="${s.y}" x2="${t.x}" y2="${t.y}" stroke="#a9b0bd" stroke-width="1.5" marker-end="url(#arrow)"/>`);
  });
  cy.nodes().forEach((node) => {
    const p = node.position();
    const w = node.width();
    const ht = node.height();
    const colour = STATE_COLOURS[node.data('state')] || '#8b8f99';
    const rx = node.data('kind') === 'artifact' ? 8 : 0;
    parts.push(`<g data-id="${escapeXml(node.id())}"><rect x="${p.x - w / 2}" y="${p.y - ht / 2}" width="${w}" height="${ht}" rx="${rx}" fill="#fff" stroke="${colour}" stroke-width="2"${node.data('deleted') ? ' stroke-dasharray="4 3"' : ''}/>`);
    const lines = String(node.data('label')).split('\n');
    lines.forEach((line, i) => parts.push(`<text x="${p.x}" y="${p.y + (i - (lines.length - 1) / 2) * 12 + 3}" text-anchor="middle">${escapeXml(line)}</text>`));
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** The graph as a Mermaid flowchart (what is drawn, expansions included). */
export function toMermaid(cy) {
  const lines = ['flowchart LR'];
  const label = (node) => String(node.data('label')).replace(/\n/g, ' ').replace(/"/g, '#quot;');
  cy.nodes().forEach((node) => {
    lines.push(node.data('kind') === 'artifact' ? `  ${node.id()}(["${label(node)}"])` : `  ${node.id()}["${label(node)}"]`);
  });
  cy.edges().forEach((edge) => lines.push(`  ${edge.source().id()} --> ${edge.target().id()}`));
  return lines.join('\n') + '\n';
}

/** Offer text or a blob URL as a download. */
export function download(name, content, type) {
  const blob = content instanceof Blob ? content : new Blob([content], {type});
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement('a'), {href: url, download: name});
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

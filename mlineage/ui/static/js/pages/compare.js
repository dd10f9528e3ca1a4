// Compare runs: the comparison report of GET /api/v1/compare, once the server has it; until then, plainly absent.
import {hasPath} from '../api.js';
import {fill, h} from '../dom.js';

export async function render(root, {query, current}) {
  const runs = (query.get('runs') || '').split(',').filter(Boolean);
  fill(root, h('h1', {}, 'Compare runs'), h('p', {class: 'muted'}, runs.length ? `Selected runs: ${runs.join(', ')}` : 'Select runs on the runs page, then “Compare selected”.'));
  const available = await hasPath('/api/v1/compare');
  if (!current()) return;
  if (!available) {
    root.append(h('div', {class: 'notice', id: 'compare-absent'},
      'Run comparison is not available on this server: it has no comparison reports (GET /api/v1/compare) yet.'));
    return;
  }
  root.append(h('div', {class: 'notice', id: 'compare-absent'},
    'This server has GET /api/v1/compare, but this version of the UI does not draw its reports yet.'));
}

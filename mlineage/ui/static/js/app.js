// The UI's router: the URL fragment (#/page/arg…?query) names the view; each page module renders into <main>.
import {errorBox, fill, h} from './dom.js';

const PAGES = {
  runs: () => import('./pages/runs.js'),
  run: () => import('./pages/run.js'),
  node: () => import('./pages/node.js'),
  lineage: () => import('./pages/lineage.js'),
  types: () => import('./pages/types.js'),
  compare: () => import('./pages/compare.js'),
};

const main = document.getElementById('page');
let generation = 0;

/** The current route: {page, args, query}. */
export function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = hash.split('?');
  const [page = 'runs', ...args] = path.split('/').filter(Boolean).map(decodeURIComponent);
  return {page, args, query: new URLSearchParams(search)};
}

/** A fragment for a page and query (empty values dropped). */
export function href(page, args = [], query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
  }
  const path = [page, ...args.map((a) => encodeURIComponent(a))].join('/');
  return `#/${path}${q.toString() ? `?${q}` : ''}`;
}

async function render() {
  const mine = ++generation;
  const {page, args, query} = route();
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.classList.toggle('current', link.dataset.nav === page || (page === 'run' && link.dataset.nav === 'runs'));
  }
  const load = PAGES[page];
  if (!load) {
    fill(main, h('h1', {}, 'Not found'), errorBox({code: 'NOT_FOUND', message: `no page "${page}" in this UI`}),
      h('p', {}, h('a', {href: '#/runs'}, 'Back to the runs')));
    document.body.dataset.ready = page;
    return;
  }
  const container = h('div', {});
  try {
    const module = await load();
    // A newer navigation wins: the old page draws into a detached element.
    const current = () => mine === generation;
    fill(main, container);
    await module.render(container, {args, query, current});
  } catch (error) {
    if (mine !== generation) return;
    console.warn(error);
    fill(main, container);
    container.append(errorBox(error));
  }
  if (mine === generation) document.body.dataset.ready = page;  // for tests and the first-paint bench
}

document.getElementById('goto').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.target;
  const id = form.id.value.trim();
  if (id) location.hash = href('node', [form.kind.value, id]);
});

window.addEventListener('hashchange', () => { delete document.body.dataset.ready; render(); });
render();

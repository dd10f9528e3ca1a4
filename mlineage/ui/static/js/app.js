// The UI's router: the URL fragment (#/page/arg…?query) names the view; each page module renders into <main>.
import {forgetToken, signIn, signOut, signedIn} from './api.js';
import {errorBox, fill, h} from './dom.js';

const PAGES = {
  runs: () => import('./pages/runs.js'),
  run: () => import('./pages/run.js'),
  node: () => import('./pages/node.js'),
  lineage: () => import('./pages/lineage.js'),
  types: () => import('./pages/types.js'),
  compare: () => import('./pages/compare.js'),
  serving: () => import('./pages/serving.js'),
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
    fill(main, container);
    container.append(errorBox(error));
  }
  if (mine === generation) {
    document.body.dataset.ready = page;  // for tests and the first-paint bench (bench/ui_bench.py)
    performance.mark('mlineage:ready');
  }
}

/** Why the sign-in form is shown, in words: the server's refusal of the kept token (expired, revoked) or none. */
export function refusalText(message, hadToken) {
  const text = String(message || '');
  if (!hadToken) return 'This server asks for a token: paste one made by `mlineage token create`.';
  if (/expired/i.test(text)) return 'Your token has expired. Sign in with a new one (`mlineage token create --expires 30d`).';
  if (/revoked/i.test(text)) return 'Your token was revoked. Sign in with another one.';
  return `The server refused your token (${text}). Sign in with another one.`;
}

/** The sign-in form: a token (mlineage token create), and a namespace for an admin's token. */
export function signInForm(reason = '') {
  const token = h('input', {name: 'token', type: 'password', placeholder: 'token', size: 36, autocomplete: 'off'});
  const namespace = h('input', {name: 'namespace', placeholder: 'namespace (admins: optional)', size: 22, value: signedIn().namespace});
  const form = h('form', {class: 'card toolbar', id: 'sign-in'}, h('strong', {}, 'Sign in'), token, namespace, h('button', {class: 'primary'}, 'Sign in'),
    reason ? h('div', {class: 'notice', id: 'sign-in-reason', role: 'status'}, reason) : null);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    signIn(token.value.trim(), namespace.value.trim());
    showIdentity();
    render();
  });
  return form;
}

function showIdentity() {
  const slot = document.getElementById('identity');
  const {token, namespace} = signedIn();
  if (!token) { fill(slot); return; }
  fill(slot, h('span', {class: 'muted'}, namespace ? `namespace ${namespace}` : 'signed in'), ' ',
    h('button', {type: 'button', id: 'sign-out', onclick: () => { signOut(); showIdentity(); render(); }}, 'Sign out'));
}

document.getElementById('goto').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.target;
  const id = form.id.value.trim();
  if (id) location.hash = href('node', [form.kind.value, id]);
});

showIdentity();
window.addEventListener('mlineage:unauthenticated', (event) => {
  // A kept token that the server now refuses is dropped, so the next request does not send it again.
  const hadToken = Boolean(signedIn().token);
  if (hadToken) { forgetToken(); showIdentity(); }
  const reason = refusalText(event.detail, hadToken);
  const shown = document.getElementById('sign-in');
  if (!shown) main.prepend(signInForm(reason));
  else if (hadToken) shown.replaceWith(signInForm(reason));
});
window.addEventListener('hashchange', () => {
  delete document.body.dataset.ready;
  performance.clearMarks('mlineage:ready');
  performance.clearMarks('mlineage:complete');
  render();
});
render();

// The REST API (/api/v1/...) as the pages call it: JSON in, JSON out, errors as ApiError.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Sign-in: a bearer token (and, for an admin, a namespace) kept for this tab only, sent with every request.
const TOKEN = 'mlineage.token';
const NAMESPACE = 'mlineage.namespace';

export function signIn(token, namespace = '') {
  sessionStorage.setItem(TOKEN, token);
  if (namespace) sessionStorage.setItem(NAMESPACE, namespace); else sessionStorage.removeItem(NAMESPACE);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(NAMESPACE);
}

/** Drop a token the server refused (expired, revoked), keeping the namespace for the next sign-in. */
export function forgetToken() {
  sessionStorage.removeItem(TOKEN);
}

export function signedIn() {
  return {token: sessionStorage.getItem(TOKEN) || '', namespace: sessionStorage.getItem(NAMESPACE) || ''};
}

function credentials() {
  const {token, namespace} = signedIn();
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (namespace) headers['X-Mlineage-Namespace'] = namespace;
  return headers;
}

/** GET path (under /api/v1) with query parameters (arrays repeat); resolves to JSON, rejects with ApiError. */
export async function get(path, params = {}, {text = false} = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    for (const one of Array.isArray(value) ? value : [value]) query.append(key, String(one));
  }
  const url = `/api/v1${path}${query.toString() ? `?${query}` : ''}`;
  let response;
  try {
    response = await fetch(url, {headers: {Accept: text ? 'text/plain' : 'application/json', ...credentials()}});
  } catch (err) {
    throw new ApiError(0, 'UNAVAILABLE', `the server cannot be reached (${err.message})`);
  }
  if (!response.ok) {
    let code = `HTTP ${response.status}`;
    let message = response.statusText || 'request failed';
    try {
      const body = await response.json();
      if (body && body.code) code = body.code;
      if (body && body.message) message = body.message;
    } catch (_) { /* not our error body */ }
    // The page shows its error where it asked; the sign-in form appears above it (app.js).
    if (response.status === 401) window.dispatchEvent(new CustomEvent('mlineage:unauthenticated', {detail: message}));
    throw new ApiError(response.status, code, message);
  }
  return text ? response.text() : response.json();
}

/** Whether the server's OpenAPI document has a path (for pages whose API may not exist yet). */
export async function hasPath(path) {
  const response = await fetch('/openapi.json');
  if (!response.ok) return false;
  const doc = await response.json();
  return Object.prototype.hasOwnProperty.call(doc.paths || {}, path);
}

export const PLURAL = {artifact: 'artifacts', execution: 'executions', context: 'contexts'};
export const KINDS = Object.keys(PLURAL);

/** Load a classic script once (the vendored libraries), so pages without graphs never pay for them. */
const loaded = new Map();
export function loadScript(src) {
  if (!loaded.has(src)) {
    loaded.set(src, new Promise((resolve, reject) => {
      const el = document.createElement('script');
      el.src = src;
      el.onload = () => resolve();
      el.onerror = () => reject(new Error(`could not load ${src}`));
      document.head.append(el);
    }));
  }
  return loaded.get(src);
}

export function loadStyle(href) {
  if (!document.querySelector(`link[href="${href}"]`)) {
    document.head.append(Object.assign(document.createElement('link'), {rel: 'stylesheet', href}));
  }
}

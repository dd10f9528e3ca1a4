// DOM helpers for the pages: elements built from data (text only, never HTML from the store), formats.

/** h('a', {href: '#/x', class: 'c'}, 'text', child…): an element; strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the contents of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A readable error box (the API's code and message, never a stack trace). */
export function errorBox(error) {
  const code = error && error.code ? `${error.code}: ` : '';
  const message = error && error.message ? error.message : String(error);
  return h('div', {class: 'error', role: 'alert'}, code + message);
}

export function table(headers, rows) {
  return h('table', {}, h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c) => (c instanceof Node && c.tagName === 'TD') ? c : h('td', {}, c))))));
}

export function kvTable(entries) {
  return h('table', {class: 'kv'}, h('tbody', {}, entries.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, v)))));
}

export function stateBadge(state) {
  return state ? h('span', {class: `state ${state}`}, state) : h('span', {class: 'muted'}, '—');
}

export function time(ms) {
  if (ms === undefined || ms === null || ms === '' || Number(ms) === 0) return '—';
  return new Date(Number(ms)).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function duration(ms) {
  if (ms === undefined || ms === null || isNaN(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A property Value ({int_value: "3"}, …) as display text. */
export function valueText(value) {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'object') return String(value);
  for (const key of ['string_value', 'int_value', 'double_value', 'bool_value']) {
    if (key in value) return String(value[key]);
  }
  if ('struct_value' in value) return JSON.stringify(value.struct_value);
  if ('proto_value' in value) return `proto ${value.proto_value.type_url || ''}`;
  return JSON.stringify(value);
}

/** The number a Value holds, or null. */
export function valueNumber(value) {
  if (!value || typeof value !== 'object') return null;
  if ('double_value' in value) return Number(value.double_value);
  if ('int_value' in value) return Number(value.int_value);
  return null;
}

export function nodeLink(kind, id, label) {
  return h('a', {href: `#/node/${kind}/${id}`}, label || `${kind} ${id}`);
}

export function propertyRows(node) {
  const rows = [];
  for (const [key, value] of Object.entries(node.properties || {}).sort()) rows.push([key, valueText(value), 'property']);
  for (const [key, value] of Object.entries(node.custom_properties || {}).sort()) rows.push([key, valueText(value), 'custom']);
  return rows;
}

// Types browser: artifact, execution and context types with their declared properties; a type's nodes, paged.
import {KINDS, PLURAL, get} from '../api.js';
import {href} from '../app.js';
import {errorBox, fill, h, nodeLink, stateBadge, table, time} from '../dom.js';

const PAGE_SIZE = 50;

export async function render(root, {args, query, current}) {
  const [kind, name] = args;
  if (kind && name) return renderType(root, kind, name, query, current);
  const slots = KINDS.map((k) => [k, h('div', {class: 'card', id: `types-${k}`}, h('h2', {}, `${k} types`), h('span', {class: 'muted'}, '…'))]);
  fill(root, h('h1', {}, 'Types'), slots.map(([, slot]) => slot));
  await Promise.all(slots.map(async ([k, slot]) => {
    try {
      const answer = await get(`/${k}_types`);
      if (!current()) return;
      const types = answer[`${k}_types`] || [];
      slot.lastChild.replaceWith(types.length ? table(['name', 'version', 'base type', 'declared properties', 'id'], types.map((t) => [
        h('a', {href: href('types', [k, t.name], {version: t.version})}, t.name), t.version || '—', t.base_type || '—',
        Object.entries(t.properties || {}).map(([p, v]) => `${p}: ${v}`).join(', ') || '—', t.id])) : h('p', {class: 'muted'}, 'none'));
    } catch (error) { if (current()) slot.lastChild.replaceWith(errorBox(error)); }
  }));
}

async function renderType(root, kind, name, query, current) {
  if (!KINDS.includes(kind)) {
    fill(root, h('h1', {}, 'Types'), errorBox({code: 'INVALID_ARGUMENT', message: `no kind "${kind}": artifact, execution or context`}));
    return;
  }
  const version = query.get('version') || '';
  const token = query.get('page') || '';
  fill(root, h('h1', {}, `${kind} type ${name}`, version ? ` (${version})` : ''), h('p', {}, h('a', {href: '#/types'}, '← all types')));
  try {
    const [type, page] = await Promise.all([
      get(`/${kind}_types/by-name`, {name, version}).catch(() => null),
      get(`/${PLURAL[kind]}`, {type_name: name, type_version: version, page_size: PAGE_SIZE, page_token: token, order_by: 'create_time desc'}),
    ]);
    if (!current()) return;
    if (type && type.properties) root.append(h('p', {class: 'muted'}, `Declared properties: ${Object.entries(type.properties).map(([p, v]) => `${p}: ${v}`).join(', ') || 'none'}`));
    const nodes = page[PLURAL[kind]] || [];
    root.append(nodes.length ? table(['id', 'name / uri', 'state', 'created'], nodes.map((n) => [
      nodeLink(kind, n.id, n.id), n.name || n.uri || '—', kind === 'context' ? '' : stateBadge(kind === 'execution' ? n.last_known_state : n.state), time(n.create_time_since_epoch)]))
      : h('p', {class: 'muted'}, `No ${PLURAL[kind]} of this type.`),
    page.next_page_token ? h('div', {class: 'pager'}, h('a', {href: href('types', [kind, name], {version, page: page.next_page_token})}, 'Older →')) : null);
  } catch (error) { if (current()) root.append(errorBox(error)); }
}

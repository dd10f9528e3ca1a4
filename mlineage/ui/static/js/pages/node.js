// A node (artifact, execution, context): properties, type, events, contexts, neighbours, history with diffs, as-of.
import {ApiError, KINDS, PLURAL, get} from '../api.js';
import {href} from '../app.js';
import {errorBox, fill, h, kvTable, nodeLink, propertyRows, stateBadge, table, time, valueText} from '../dom.js';

function stateOf(kind, node) {
  return kind === 'execution' ? node.last_known_state : node.state;
}

function summary(kind, node) {
  const rows = [['id', node.id], ['type', h('a', {href: href('types', [kind, node.type || ''])}, node.type || `type ${node.type_id}`)]];
  if (node.name) rows.push(['name', node.name]);
  if (node.uri) rows.push(['uri', h('code', {}, node.uri)]);
  if (kind !== 'context') rows.push(['state', stateBadge(stateOf(kind, node))]);
  if (node.external_id) rows.push(['external id', h('code', {}, node.external_id)]);
  rows.push(['created', time(node.create_time_since_epoch)], ['updated', time(node.last_update_time_since_epoch)]);
  return kvTable(rows);
}

function properties(node) {
  const rows = propertyRows(node);
  return rows.length ? table(['key', 'value', 'kind'], rows.map(([k, v, where]) => [k, h('code', {}, v), h('span', {class: 'muted'}, where)]))
    : h('p', {class: 'muted'}, 'No properties.');
}

function asOfControl(kind, id, asOf) {
  const input = h('input', {name: 'as_of', id: 'as-of-input', value: asOf || '', placeholder: '2026-05-01T12:00:00Z or epoch ms', size: 28});
  const form = h('form', {class: 'toolbar', id: 'as-of'}, h('label', {}, 'As of', input), h('button', {class: 'primary'}, 'Show'),
    asOf ? h('a', {href: href('node', [kind, id])}, 'back to now') : null);
  form.addEventListener('submit', (event) => { event.preventDefault(); location.hash = href('node', [kind, id], {as_of: input.value.trim()}); });
  return form;
}

function timeline(kind, id, revisions, current) {
  const diffSlot = h('div', {id: 'diff'});
  const options = () => revisions.map((r) => h('option', {value: r.revision}, `#${r.revision} ${r.operation} ${r.time}`));
  const from = h('select', {id: 'diff-from'}, options());
  const to = h('select', {id: 'diff-to'}, options());
  if (revisions.length > 1) { from.value = String(revisions[revisions.length - 2].revision); to.value = String(revisions[revisions.length - 1].revision); }
  const show = async () => {
    try {
      const diff = await get(`/${PLURAL[kind]}/${id}/history/diff`, {from: from.value, to: to.value});
      if (!current()) return;
      fill(diffSlot, diff.changes.length ? table(['field', `#${diff.from}`, `#${diff.to}`], diff.changes.map((c) => [
        h('code', {}, c.path), h('td', {class: 'before mono'}, c.before === null ? '(unset)' : valueText(c.before)),
        h('td', {class: 'after mono'}, c.after === null ? '(unset)' : valueText(c.after))])) : h('p', {class: 'muted'}, 'No difference.'));
      diffSlot.firstChild.classList.add('diff');
    } catch (error) { fill(diffSlot, errorBox(error)); }
  };
  const items = revisions.map((r) => h('li', {class: r.operation},
    h('strong', {}, `#${r.revision} ${r.operation}`), ' ', h('span', {class: 'mono'}, r.time), ' ',
    h('span', {class: 'muted'}, `by ${r.surface}${r.actor ? ' ' + r.actor : ''}${r.peer ? ' from ' + r.peer : ''}`), ' ',
    r.changed.length ? h('span', {class: 'muted'}, `changed ${r.changed.join(', ')}`) : null, ' ',
    r.operation !== 'delete' ? h('a', {href: href('node', [kind, id], {as_of: String(r.time_ms)}), class: 'as-of-link'}, 'view as of this revision') : null));
  return h('div', {}, h('ol', {class: 'timeline', id: 'history'}, items),
    revisions.length > 1 ? h('div', {class: 'toolbar'}, 'Diff', from, '→', to, h('button', {type: 'button', id: 'diff-show', onclick: show}, 'Show diff')) : null,
    diffSlot);
}

async function neighbours(kind, id, asOf) {
  const at = {as_of: asOf};
  if (kind === 'context') {
    const [executions, artifacts, parents, children] = await Promise.all([
      get(`/contexts/${id}/executions`, {...at, page_size: 50}), get(`/contexts/${id}/artifacts`, {...at, page_size: 50}),
      get(`/contexts/${id}/parents`, at), get(`/contexts/${id}/children`, at)]);
    const links = (k, nodes) => nodes.length ? nodes.map((n) => h('span', {class: 'pill'}, nodeLink(k, n.id, `${n.type} ${n.name || n.uri || '#' + n.id}`))) : h('span', {class: 'muted'}, 'none');
    return h('div', {}, kvTable([
      ['parents', links('context', parents.contexts || [])], ['children', links('context', children.contexts || [])],
      ['executions', links('execution', executions.executions || [])], ['artifacts', links('artifact', artifacts.artifacts || [])],
    ]), (executions.next_page_token || artifacts.next_page_token) ? h('p', {class: 'muted'}, 'First 50 of each shown.') : null,
    h('p', {}, h('a', {href: href('run', [id])}, 'Open as a run')));
  }
  const events = (await get(`/${PLURAL[kind]}/${id}/events`, at)).events || [];
  const other = kind === 'artifact' ? 'execution' : 'artifact';
  const rows = events.map((ev) => [ev.type, nodeLink(other, ev[`${other}_id`]), h('code', {}, (ev.path && ev.path.steps || []).map((s) => s.key ?? s.index).join('/')), time(ev.milliseconds_since_epoch)]);
  return h('div', {}, rows.length ? table(['event', other, 'path', 'time'], rows) : h('p', {class: 'muted'}, 'No events.'),
    h('p', {}, h('a', {href: href('lineage', [kind, id]), id: 'open-lineage'}, 'Explore the lineage')));
}

export async function render(root, {args, query, current}) {
  const [kind, id] = args;
  const asOf = query.get('as_of') || '';
  if (!KINDS.includes(kind) || !/^\d+$/.test(id || '')) {
    fill(root, h('h1', {}, 'Node'), errorBox({code: 'INVALID_ARGUMENT', message: `a node is /node/artifact|execution|context/ID, not "${args.join('/')}"`}));
    return;
  }
  const plural = PLURAL[kind];
  const title = h('h1', {}, `${kind} ${id}`);
  const banner = h('div', {});
  const body = h('div', {});
  fill(root, title, asOfControl(kind, id, asOf), banner, body);

  const history = get(`/${plural}/${id}/history`).then((x) => x.revisions).catch((error) => error);
  let node = null;
  try {
    node = await get(`/${plural}/${id}`, {as_of: asOf});
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) { if (current()) fill(banner, errorBox(error)); return; }
    const revisions = await history;
    if (!current()) return;
    if (!Array.isArray(revisions)) { fill(banner, errorBox(error)); return; }
    // A tombstone (deleted, or not yet created at the as-of moment): its history says which.
    const last = revisions[revisions.length - 1];
    const before = [...revisions].reverse().find((r) => r.node);
    if (last.operation === 'delete' && !asOf) {
      fill(banner, h('div', {class: 'deleted', id: 'tombstone'}, `Deleted at ${last.time} (by ${last.surface}). What it was before, from its history:`));
    } else {
      fill(banner, errorBox(error));
    }
    if (before) fill(body, h('div', {class: 'card'}, h('h2', {}, 'Last revision'), summary(kind, before.node), properties(before.node)));
    body.append(h('div', {class: 'card'}, h('h2', {}, 'History'), timeline(kind, id, revisions, current)));
    return;
  }
  if (!current()) return;
  fill(title, `${node.type || kind} `, node.name || node.uri || `#${node.id}`, ' ', h('span', {class: 'muted'}, `${kind} ${id}`));
  if (asOf) fill(banner, h('div', {class: 'notice', id: 'as-of-notice'}, `As the store was at ${asOf}.`));
  const typeSlot = h('div', {}, h('span', {class: 'muted'}, '…'));
  const neighbourSlot = h('div', {}, h('span', {class: 'muted'}, '…'));
  const contextSlot = h('div', {id: 'node-contexts'}, h('span', {class: 'muted'}, '…'));
  const historySlot = h('div', {}, h('span', {class: 'muted'}, '…'));
  fill(body, h('div', {class: 'grid2'},
    h('div', {class: 'card'}, h('h2', {}, 'Summary'), summary(kind, node)),
    h('div', {class: 'card', id: 'properties'}, h('h2', {}, 'Properties'), properties(node))),
  h('div', {class: 'grid2'},
    h('div', {class: 'card'}, h('h2', {}, kind === 'context' ? 'Members and parents' : 'Events and neighbours'), neighbourSlot),
    kind === 'context' ? h('div', {class: 'card'}, h('h2', {}, 'Type'), typeSlot)
      : h('div', {class: 'card'}, h('h2', {}, 'Contexts'), contextSlot, h('h2', {}, 'Type'), typeSlot)),
  h('div', {class: 'card'}, h('h2', {}, 'History'), historySlot));

  get(`/${kind}_types/${node.type_id}`).then((type) => current() && fill(typeSlot, kvTable([
    ['name', type.name], ['version', type.version || '—'], ['base type', type.base_type || '—'],
    ['declared properties', Object.entries(type.properties || {}).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none']])))
    .catch((error) => current() && fill(typeSlot, errorBox(error)));
  neighbours(kind, id, asOf).then((el) => current() && fill(neighbourSlot, el)).catch((error) => current() && fill(neighbourSlot, errorBox(error)));
  if (kind !== 'context') {
    get(`/${plural}/${id}/contexts`, {as_of: asOf}).then((x) => current() && fill(contextSlot, (x.contexts || []).length
      ? x.contexts.map((c) => h('span', {class: 'pill'}, nodeLink('context', c.id, `${c.type} ${c.name}`))) : h('span', {class: 'muted'}, 'none')))
      .catch((error) => current() && fill(contextSlot, errorBox(error)));
  }
  const revisions = await history;
  if (!current()) return;
  fill(historySlot, Array.isArray(revisions) ? timeline(kind, id, revisions, current) : errorBox(revisions));
}

// A layered (Sugiyama-style) left-to-right layout for large lineage graphs, registered with Cytoscape as 'layered'.
//
// dagre spends seconds on a 1,000-node lineage (its crossing minimisation re-sorts every rank until four sweeps in a
// row bring nothing, and its Brandes-Köpf positioning runs four passes over the dummy-padded graph); this layout does
// the same steps with a fixed, small amount of work each: ranks by longest path (sources pulled next to their first
// consumer), dummy nodes on edges that skip ranks, a fixed number of barycentre sweeps keeping the order with the
// fewest crossings, then each rank's rows placed as near their neighbours' mean as the order and spacing allow
// (pool-adjacent-violators: the least-squares answer, in linear time).

const DEFAULTS = {nodeWidth: 150, nodeHeight: 42, nodeSep: 18, rankSep: 60, dummyHeight: 8, sweeps: 8, passes: 4};

/** Ranks (0 = leftmost) of n nodes joined by edges [u, v]; edges closing a cycle are ignored (the result lists them). */
function rank(n, edges) {
  const out = Array.from({length: n}, () => []);
  for (const [u, v] of edges) out[u].push(v);
  // Back edges from an iterative depth-first search close cycles: leave them out of the ranking.
  const state = new Uint8Array(n); // 0 unseen, 1 on the stack, 2 done
  const back = new Set();
  for (let s = 0; s < n; s++) {
    if (state[s]) continue;
    const stack = [[s, 0]];
    state[s] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [u, i] = top;
      if (i < out[u].length) {
        top[1] = i + 1;
        const v = out[u][i];
        if (state[v] === 1) back.add(`${u} ${v}`);
        else if (!state[v]) { state[v] = 1; stack.push([v, 0]); }
      } else { state[u] = 2; stack.pop(); }
    }
  }
  const kept = edges.filter(([u, v]) => u !== v && !back.has(`${u} ${v}`));
  const succ = Array.from({length: n}, () => []);
  const indeg = new Int32Array(n);
  for (const [u, v] of kept) { succ[u].push(v); indeg[v]++; }
  const order = [];
  for (let u = 0; u < n; u++) if (!indeg[u]) order.push(u);
  const ranks = new Int32Array(n);
  for (let i = 0; i < order.length; i++) {
    const u = order[i];
    for (const v of succ[u]) {
      if (ranks[u] + 1 > ranks[v]) ranks[v] = ranks[u] + 1;
      if (--indeg[v] === 0) order.push(v);
    }
  }
  // A node with inputs of its own stays; one without (a source) moves right, next to its earliest consumer.
  const hasIn = new Uint8Array(n);
  for (const [, v] of kept) hasIn[v] = 1;
  for (let i = order.length - 1; i >= 0; i--) {
    const u = order[i];
    if (hasIn[u] || !succ[u].length) continue;
    let least = Infinity;
    for (const v of succ[u]) least = Math.min(least, ranks[v]);
    ranks[u] = least - 1;
  }
  let low = Infinity;
  for (let u = 0; u < n; u++) low = Math.min(low, ranks[u]);
  for (let u = 0; u < n; u++) ranks[u] -= low;
  return {ranks, kept};
}

/** Crossings between two neighbouring ranks: edges as [upper position, lower position], counted with a Fenwick tree. */
function crossingsBetween(pairs, size) {
  pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const tree = new Int32Array(size + 1);
  let seen = 0;
  let crossings = 0;
  for (const [, q] of pairs) {
    let below = 0; // inserted so far at a lower position <= q
    for (let i = q + 1; i > 0; i -= i & -i) below += tree[i];
    crossings += seen - below;
    for (let i = q + 1; i <= size; i += i & -i) tree[i]++;
    seen++;
  }
  return crossings;
}

/** Least-squares positions for wanted[i] keeping order and gaps: y[i+1] - y[i] >= gap[i] (pool adjacent violators). */
function place(wanted, gaps) {
  const n = wanted.length;
  const offset = new Float64Array(n);
  for (let i = 1; i < n; i++) offset[i] = offset[i - 1] + gaps[i - 1];
  // Isotonic regression of wanted - offset: blocks of (sum, count), merged while a block's mean falls below the last.
  const sums = [];
  const counts = [];
  for (let i = 0; i < n; i++) {
    let sum = wanted[i] - offset[i];
    let count = 1;
    while (sums.length && sums[sums.length - 1] / counts[counts.length - 1] > sum / count) {
      sum += sums.pop();
      count += counts.pop();
    }
    sums.push(sum);
    counts.push(count);
  }
  const y = new Float64Array(n);
  let i = 0;
  for (let b = 0; b < sums.length; b++) {
    const mean = sums[b] / counts[b];
    for (let k = 0; k < counts[b]; k++, i++) y[i] = mean + offset[i];
  }
  return y;
}

/**
 * Positions {id: {x, y}} laying out nodes (ids) and edges ([source id, target id]) in ranks from left to right.
 * Options (all optional): nodeWidth, nodeHeight, nodeSep, rankSep, dummyHeight, sweeps, passes.
 */
export function layeredPositions(ids, edgeList, options = {}) {
  const o = {...DEFAULTS, ...options};
  const index = new Map(ids.map((id, i) => [id, i]));
  const real = ids.length;
  const given = [];
  for (const [s, t] of edgeList) {
    if (index.has(s) && index.has(t)) given.push([index.get(s), index.get(t)]);
  }
  const {ranks: realRanks, kept} = rank(real, given);
  // Dummy nodes: every edge joins neighbouring ranks once an edge over k ranks becomes a chain of k - 1 dummies.
  const ranks = Array.from(realRanks);
  const up = Array.from({length: real}, () => []); // neighbours in the rank to the left
  const down = Array.from({length: real}, () => []); // neighbours in the rank to the right
  const link = (u, v) => { down[u].push(v); up[v].push(u); };
  for (const [u, v] of kept) {
    let from = u;
    for (let r = ranks[u] + 1; r < ranks[v]; r++) {
      const d = ranks.length;
      ranks.push(r);
      up.push([]);
      down.push([]);
      link(from, d);
      from = d;
    }
    link(from, v);
  }
  const n = ranks.length;
  let top = 0;
  for (let u = 0; u < n; u++) top = Math.max(top, ranks[u]);
  // First order: depth first from the leftmost nodes, in the order given (as dagre starts).
  const layers = Array.from({length: top + 1}, () => []);
  const seen = new Uint8Array(n);
  const starts = Array.from({length: n}, (_, u) => u).sort((a, b) => ranks[a] - ranks[b] || a - b);
  for (const s of starts) {
    if (seen[s]) continue;
    const stack = [s];
    seen[s] = 1;
    while (stack.length) {
      const u = stack.pop();
      layers[ranks[u]].push(u);
      for (let i = down[u].length - 1; i >= 0; i--) {
        const v = down[u][i];
        if (!seen[v]) { seen[v] = 1; stack.push(v); }
      }
    }
  }
  const pos = new Float64Array(n);
  const number = () => { for (const layer of layers) layer.forEach((u, i) => { pos[u] = i; }); };
  const crossings = () => {
    let total = 0;
    for (let r = 0; r < top; r++) {
      const pairs = [];
      for (const u of layers[r]) for (const v of down[u]) pairs.push([pos[u], pos[v]]);
      total += crossingsBetween(pairs, layers[r + 1].length);
    }
    return total;
  };
  number();
  let best = layers.map((layer) => layer.slice());
  let fewest = crossings();
  for (let sweep = 0; sweep < o.sweeps && fewest > 0; sweep++) {
    const downward = sweep % 2 === 0;
    for (let k = 1; k <= top; k++) {
      const r = downward ? k : top - k;
      const towards = downward ? up : down;
      const layer = layers[r];
      const keys = new Map();
      for (const u of layer) {
        const near = towards[u];
        let key = pos[u];
        if (near.length) { let sum = 0; for (const v of near) sum += pos[v]; key = sum / near.length; }
        keys.set(u, key);
      }
      layer.sort((a, b) => keys.get(a) - keys.get(b) || pos[a] - pos[b]);
      layer.forEach((u, i) => { pos[u] = i; });
    }
    const count = crossings();
    if (count < fewest) { fewest = count; best = layers.map((layer) => layer.slice()); }
  }
  for (let r = 0; r <= top; r++) layers[r] = best[r];
  number();
  // Rows: each rank packed and centred, then moved towards its neighbours' rows, alternately from each side.
  const height = (u) => (u < real ? o.nodeHeight : o.dummyHeight);
  const y = new Float64Array(n);
  for (const layer of layers) {
    let at = 0;
    for (const u of layer) { y[u] = at + height(u) / 2; at += height(u) + o.nodeSep; }
    for (const u of layer) y[u] -= at / 2;
  }
  for (let pass = 0; pass < o.passes; pass++) {
    const downward = pass % 2 === 0;
    for (let k = 1; k <= top; k++) {
      const r = downward ? k : top - k;
      const towards = downward ? up : down;
      const layer = layers[r];
      if (!layer.length) continue;
      const wanted = layer.map((u) => {
        const near = towards[u];
        if (!near.length) return y[u];
        let sum = 0;
        for (const v of near) sum += y[v];
        return sum / near.length;
      });
      const gaps = layer.slice(1).map((u, i) => (height(layer[i]) + height(u)) / 2 + o.nodeSep);
      const placed = place(wanted, gaps);
      layer.forEach((u, i) => { y[u] = placed[i]; });
    }
  }
  const positions = {};
  for (let u = 0; u < real; u++) positions[ids[u]] = {x: ranks[u] * (o.nodeWidth + o.rankSep), y: y[u]};
  return positions;
}

/** The 'layered' layout as a Cytoscape extension: positions from layeredPositions, then Cytoscape's fit. */
function LayeredLayout(options) {
  this.options = {fit: true, padding: 30, animate: false, ...options};
}

LayeredLayout.prototype.run = function run() {
  const options = this.options;
  const nodes = options.eles.nodes();
  const edges = options.eles.edges().map((edge) => [edge.source().id(), edge.target().id()]);
  const positions = layeredPositions(nodes.map((node) => node.id()), edges, options);
  nodes.layoutPositions(this, options, (node) => positions[node.id()]);
  return this;
};

LayeredLayout.prototype.stop = function stop() { return this; };

/** Register the layout with a Cytoscape constructor. */
export function register(cytoscape) {
  cytoscape('layout', 'layered', LayeredLayout);
}

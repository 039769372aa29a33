/**
 * Merge order for several mirror lists of one source, as rendered by OpenShift
 * (openshift/runtime-utils `mergedMirrors` + `topoGraph.Sorted`).
 *
 * Pure functions, no I/O. See docs/registries-semantics.md §3.3.
 */
import { byteOrderCompare, sortByByteOrder } from '../core/byte-order.js';

interface TopoNode {
  readonly name: string;
  used: boolean;
  /** Predecessors not yet output (consumed destructively while sorting). */
  readonly ins: Set<TopoNode>;
  /** All successors. */
  readonly outs: Set<TopoNode>;
}

/** Orders the nodes of a directed graph like runtime-utils topoGraph.Sorted: Kahn's algorithm with a FIFO queue;
 * initial queue = in-degree-0 nodes in byte order; successors reaching in-degree 0 are sorted (byte order) and appended;
 * when the queue empties with nodes left (a cycle), take the first unused node in global byte order, ignore its remaining in-edges, continue.
 *
 * Duplicate edges collapse. A self edge `a -> a` counts as an in-edge of `a`, exactly as upstream: such a node
 * never reaches in-degree 0 and is only ever emitted by the cycle breaker.
 * `nodes` adds extra (possibly isolated) nodes, like upstream `AddNode`.
 * `last` (not upstream): a node the cycle breaker takes only when no other node is left (see mergeMirrorLists).
 * The result depends only on the edge set and node set, never on the order in which they are given. */
export function topoSort(edges: ReadonlyArray<readonly [string, string]>, nodes?: Iterable<string>, last?: string): string[] {
  const graph = new Map<string, TopoNode>();
  const node = (name: string): TopoNode => {
    let n = graph.get(name);
    if (n === undefined) {
      n = { name, used: false, ins: new Set(), outs: new Set() };
      graph.set(name, n);
    }
    return n;
  };
  for (const [from, to] of edges) {
    const f = node(from);
    const t = node(to);
    f.outs.add(t);
    t.ins.add(f);
  }
  if (nodes !== undefined) {
    for (const name of nodes) node(name);
  }

  const byName = (a: TopoNode, b: TopoNode): number => byteOrderCompare(a.name, b.name);
  const byteOrder = sortByByteOrder([...graph.values()], (n) => n.name);
  // The order the cycle breaker walks: byte order, `last` moved to the end.
  const all = last === undefined || !graph.has(last) ? byteOrder : [...byteOrder.filter((n) => n.name !== last), graph.get(last) as TopoNode];

  // FIFO queue (array + head index). Initial content is a subsequence of byte order, hence sorted.
  const queue: TopoNode[] = byteOrder.filter((n) => n.ins.size === 0);
  let head = 0;
  let breakerIndex = 0;
  const out: string[] = [];

  while (out.length < all.length) {
    let next: TopoNode | undefined;
    if (head < queue.length) {
      next = queue[head++];
    } else {
      // Cycle: use the first unused node in global order, ignoring its remaining in-edges.
      while (breakerIndex < all.length && all[breakerIndex]?.used === true) breakerIndex++;
      next = all[breakerIndex++];
    }
    if (next === undefined || next.used) {
      // Unreachable: a node enters the queue at most once and only while unused.
      throw new Error('internal error in topoSort: inconsistent graph state');
    }
    next.used = true;
    out.push(next.name);

    const batch: TopoNode[] = [];
    for (const succ of next.outs) {
      succ.ins.delete(next);
      // succ.used may be true if it was emitted by the cycle breaker (or is `next` itself, via a self edge).
      if (succ.ins.size === 0 && !succ.used) batch.push(succ);
    }
    batch.sort(byName);
    for (const n of batch) queue.push(n); // no spread: a node may have 100 000 successors
  }
  return out;
}

/** runtime-utils mergedMirrors: for each set add edges m[i]->m[i+1]; if the set does not contain the source also add last->source;
 * duplicate edges collapse, self edges harmless; sort; drop the source only if it comes out last. Sets whose mirrors are empty or all equal to the source are ignored (return [] when none remain).
 *
 * One deliberate difference: upstream's cycle breaker takes the byte-order-first node, which may be the source, so
 * a cycle (`[a, b]` and `[b, a]`, or a repeated mirror `[a, a]`, possible in an ICSP) put a source that sorts first
 * BEFORE its mirrors (`quay.io/x` with `[r.local, r.local]` gave `[quay.io/x, r.local]`): every pull then went to
 * the source first, the opposite of what any set says. Our breaker takes the source only when no mirror is left,
 * and a source that no set lists as a mirror is always last (dropped); without a cycle the result is upstream's. */
export function mergeMirrorLists(source: string, lists: ReadonlyArray<ReadonlyArray<string>>): string[] {
  const real = lists.filter((mirrors) => mirrors.some((m) => m !== source)); // not a real mirror set: empty, or only the source
  if (real.length === 0) return [];
  const only = real.length === 1 ? (real[0] as ReadonlyArray<string>) : undefined;
  if (only !== undefined && allDistinct(only)) return chainOrder(source, only);
  const edges: Array<readonly [string, string]> = [];
  for (const mirrors of real) {
    for (let i = 0; i + 1 < mirrors.length; i++) {
      edges.push([mirrors[i] as string, mirrors[i + 1] as string]);
    }
    if (!mirrors.includes(source)) {
      edges.push([mirrors[mirrors.length - 1] as string, source]);
    }
  }
  // Every node, including the source, is reached through an edge: each kept set has a non-source mirror,
  // so it either has >= 2 entries (pair edges) or a single non-source entry (edge to the source).
  const sorted = topoSort(edges, undefined, source);
  // A source no set lists is only ever the target of "then the source": it belongs last, and is dropped. Without a
  // cycle it comes out last anyway (every mirror leads to it); a cycle broken at a mirror can release it early.
  if (!real.some((mirrors) => mirrors.includes(source))) return sorted.filter((m) => m !== source);
  if (sorted[sorted.length - 1] === source) sorted.pop();
  return sorted;
}

/**
 * What the graph gives for one set of distinct mirrors, without building it: the edges form one
 * path (m1 → … → mk, then → source when the source is not among them), so the sort walks it in
 * order; the source is dropped when last. Most sources have one set (oc-mirror writes one entry
 * per image): 10 000 graphs were a quarter of the merge.
 */
function chainOrder(source: string, mirrors: ReadonlyArray<string>): string[] {
  return mirrors[mirrors.length - 1] === source ? mirrors.slice(0, -1) : [...mirrors];
}

function allDistinct(list: ReadonlyArray<string>): boolean {
  if (list.length < 8) return list.every((m, i) => list.indexOf(m) === i);
  return new Set(list).size === list.length;
}

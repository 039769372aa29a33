import t from 'tap';
import { shuffled } from '../helpers/shuffle.js';
import fc from 'fast-check';
import { byteOrderCompare } from '../../src/core/byte-order.js';
import { mergeMirrorLists, topoSort } from '../../src/merge/topo.js';

type Edge = readonly [string, string];

/** "AB" -> ['A', 'B'] */
const edge = (s: string): Edge => {
  if (s.length !== 2) throw new Error(`bad edge spec ${s}`);
  return [s.charAt(0), s.charAt(1)];
};

const rotations = <T>(xs: readonly T[]): T[][] => (xs.length === 0 ? [[]] : xs.map((_, i) => [...xs.slice(i), ...xs.slice(0, i)]));

// runtime-utils TestTopoGraph (pkg/registries/topo_test.go); two disconnected copies (upper/lower case).
const topoVectors: ReadonlyArray<{ name: string; edges: string[]; extraNodes?: string[]; expected: string }> = [
  { name: 'empty graph gives empty order', edges: [], expected: '' },
  {
    name: 'Shared-from: one root fans out, siblings in byte order after both roots',
    edges: ['AB', 'AC', 'AD', 'ab', 'ac', 'ad'],
    expected: 'AaBCDbcd',
  },
  {
    name: 'Shared-to: all roots first (uppercase before lowercase), then the shared sinks',
    edges: ['AD', 'BD', 'CD', 'ad', 'bd', 'cd'],
    expected: 'ABCabcDd',
  },
  {
    name: 'Path: FIFO queue interleaves the two components layer by layer',
    edges: ['AB', 'BC', 'CD', 'DE', 'ab', 'bc', 'cd', 'de'],
    expected: 'AaBbCcDdEe',
  },
  {
    name: 'Complete loop: cycle broken at first node in byte order, component finished before next break',
    edges: ['AB', 'BC', 'CD', 'DA', 'ab', 'bc', 'cd', 'da'],
    expected: 'ABCDabcd',
  },
  {
    name: 'Loop with extra input and output: loop entered from A, E released after D',
    edges: ['AB', 'BC', 'CD', 'DB', 'DE', 'ab', 'bc', 'cd', 'db', 'de'],
    expected: 'AaBCDEbcde',
  },
  // Newer upstream topo_test.go (AddNode).
  { name: 'single isolated node', edges: [], extraNodes: ['A'], expected: 'A' },
  {
    name: 'isolated node joins the initial queue in byte order',
    edges: ['AD', 'AC', 'AB', 'BC'],
    extraNodes: ['E'],
    expected: 'AEBDC',
  },
];

t.test('topoSort: TestTopoGraph vectors, every rotation and several shuffles of the edge order', async (t) => {
  for (const v of topoVectors) {
    t.test(v.name, async (t) => {
      const edges = v.edges.map(edge);
      const orders = [...rotations(edges), ...[1, 2, 3, 4, 5, 6, 7, 8].map((seed) => shuffled(edges, seed))];
      for (const [i, order] of orders.entries()) {
        t.equal(topoSort(order, v.extraNodes).join(''), v.expected, `edge order #${i}: ${order.map((e) => e.join('')).join(' ')}`);
      }
    });
  }
});

t.test('topoSort: details', async (t) => {
  t.strictSame(
    topoSort([
      ['a', 'b'],
      ['a', 'b'],
      ['a', 'b'],
    ]),
    ['a', 'b'],
    'duplicate edges collapse',
  );
  t.strictSame(topoSort([['b', 'a']], ['a', 'b', 'a']), ['b', 'a'], 'extra nodes already in the graph change nothing');
  t.strictSame(
    topoSort([
      ['a', 'b'],
      ['b', 'b'],
    ]),
    ['a', 'b'],
    'a self edge is an in-edge too: b is released by nothing, so it is emitted by the cycle breaker after the queue drains',
  );
  t.strictSame(
    topoSort([
      ['x', 'x'],
      ['y', 'z'],
    ]),
    ['y', 'z', 'x'],
    'a self-loop node is never a root: it comes after everything reachable from the roots, although x < y',
  );
  t.strictSame(
    topoSort([
      ['b', 'a'],
      ['B', 'a'],
    ]),
    ['B', 'b', 'a'],
    'byte order puts uppercase before lowercase (not locale order)',
  );
  t.strictSame(
    topoSort([
      ['r', 'c'],
      ['r', 'b'],
      ['b', 'a'],
    ]),
    ['r', 'b', 'c', 'a'],
    'FIFO, not a min-priority queue: c (layer 1) comes before a (layer 2) although a < c',
  );
  t.strictSame(topoSort([], ['b', 'a', 'b']), ['a', 'b'], 'isolated nodes only, sorted, deduplicated');
  t.ok(byteOrderCompare('Z', 'a') < 0 && byteOrderCompare('a', 'Z') > 0 && byteOrderCompare('q', 'q') === 0, 'byteOrderCompare');
});

t.test('mergeMirrorLists: runtime-utils / MCO vectors', async (t) => {
  const rows: ReadonlyArray<{ name: string; source: string; lists: string[][]; expected: string[] }> = [
    {
      name: 'V1: sets sharing an element keep the strict order z1, y2, x3 (not alphabetical)',
      source: 'source.example.com',
      lists: [
        ['z1.example.com', 'y2.example.com'],
        ['y2.example.com', 'x3.example.com'],
      ],
      expected: ['z1.example.com', 'y2.example.com', 'x3.example.com'],
    },
    {
      name: 'separate mirror sets: a single list keeps its own order',
      source: 'source.example.net',
      lists: [['z1.example.net', 'y2.example.net', 'x3.example.net']],
      expected: ['z1.example.net', 'y2.example.net', 'x3.example.net'],
    },
    {
      name: 'V2: disjoint sets are ordered alphabetically',
      source: 'source.vendor.com',
      lists: [['registry2.vendor.com'], ['local-mirror.example.com']],
      expected: ['local-mirror.example.com', 'registry2.vendor.com'],
    },
    {
      name: 'V3: conflicting order (cycle) is broken at the first mirror in byte order',
      source: 'source.vendor2.com',
      lists: [
        ['registry1.vendor2.com', 'registry2.vendor2.com'],
        ['local-mirror2.example.com', 'registry2.vendor2.com', 'registry1.vendor2.com'],
      ],
      expected: ['local-mirror2.example.com', 'registry1.vendor2.com', 'registry2.vendor2.com'],
    },
    {
      name: 'V4: source listed inside a set is kept because it does not come out last',
      source: 'source.example.com',
      lists: [
        ['z1.example.com', 'source.example.com', 'y2.example.com'],
        ['source.example.com', 'y2.example.com', 'x3.example.com'],
      ],
      expected: ['z1.example.com', 'source.example.com', 'y2.example.com', 'x3.example.com'],
    },
    { name: 'V5: a set with only the source is ignored', source: 'S.com', lists: [['S.com']], expected: [] },
    { name: 'V5: a set with the source repeated is ignored', source: 'S.com', lists: [['S.com', 'S.com', 'S.com']], expected: [] },
    { name: 'V5: an empty set is ignored', source: 'S.com', lists: [[]], expected: [] },
    { name: 'V5: no sets at all', source: 'S.com', lists: [], expected: [] },
    {
      name: 'V5: ignored sets add no edges to the real ones',
      source: 'S.com',
      lists: [[], ['S.com', 'S.com'], ['m.com']],
      expected: ['m.com'],
    },
    {
      name: 'V14: three one-mirror sets for one source come out alphabetically',
      source: 'insecure.com/ns-dupe-i1',
      lists: [['other.com/ns-o3'], ['other.com/ns-o1'], ['other.com/ns-o2']],
      expected: ['other.com/ns-o1', 'other.com/ns-o2', 'other.com/ns-o3'],
    },
    {
      name: 'deviation: a cycle between mirrors is broken at a mirror, never at the source (upstream: [S, a, b])',
      source: 'S',
      lists: [
        ['b', 'a'],
        ['a', 'b'],
      ],
      expected: ['a', 'b'],
    },
    {
      name: 'deviation: quay.io/x with conflicting r1/r2 orders: the mirrors, source last (upstream put the source first)',
      source: 'quay.io/x',
      lists: [
        ['r1.local', 'r2.local'],
        ['r2.local', 'r1.local'],
      ],
      expected: ['r1.local', 'r2.local'],
    },
    {
      name: 'derived: same conflict with a source sorting after the mirrors drops the source as usual',
      source: 'zz.io/x',
      lists: [
        ['r1.local', 'r2.local'],
        ['r2.local', 'r1.local'],
      ],
      expected: ['r1.local', 'r2.local'],
    },
    {
      name: 'deviation: a repeated mirror (ICSP [a, a]) is a self edge; the source still comes last (upstream: [quay.io/x, r.local])',
      source: 'quay.io/x',
      lists: [['r.local', 'r.local']],
      expected: ['r.local'],
    },
    {
      name: 'upstream quirk: repeated mirror is harmless when the source sorts after it',
      source: 'zz.io/x',
      lists: [['r.local', 'r.local']],
      expected: ['r.local'],
    },
    {
      name: 'source only at the end of a set: no extra edge, dropped because last',
      source: 'S.com',
      lists: [['m2.com', 'S.com'], ['m1.com']],
      expected: ['m1.com', 'm2.com'],
    },
  ];
  for (const r of rows) {
    t.strictSame(mergeMirrorLists(r.source, r.lists), r.expected, r.name);
  }
});

t.test('mergeMirrorLists: does not mutate its input', async (t) => {
  const lists = [
    ['b', 'a'],
    ['a', 'b'],
  ];
  const copy = JSON.parse(JSON.stringify(lists)) as string[][];
  mergeMirrorLists('S', lists);
  t.strictSame(lists, copy);
});

// ---------- properties ----------

const nodeName = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'A', 'B', 'S', 'm1.example.com', 'm2.example.com');
const edgeArb = fc.tuple(nodeName, nodeName);

t.test('property: topoSort is independent of edge order and duplicates', async (t) => {
  fc.assert(
    fc.property(fc.array(edgeArb, { maxLength: 14 }), fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), (edges, seeds) => {
      const expected = topoSort(edges);
      for (const seed of seeds) {
        const permuted = shuffled(edges, seed);
        if (topoSort(permuted).join('\n') !== expected.join('\n')) return false;
        if (topoSort([...permuted, ...edges]).join('\n') !== expected.join('\n')) return false;
      }
      return true;
    }),
  );
  t.pass('checked');
});

t.test('property: topoSort outputs every node exactly once', async (t) => {
  fc.assert(
    fc.property(fc.array(edgeArb, { maxLength: 14 }), fc.array(nodeName, { maxLength: 3 }), (edges, extra) => {
      const out = topoSort(edges, extra);
      const all = new Set<string>([...edges.flat(), ...extra]);
      return out.length === all.size && new Set(out).size === out.length && out.every((n) => all.has(n));
    }),
  );
  t.pass('checked');
});

t.test('property: on an acyclic graph every edge goes forward', async (t) => {
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'G', 'H'];
  fc.assert(
    fc.property(fc.shuffledSubarray(names, { minLength: 2 }), fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 16 }), (rank, pairs) => {
      // Edges only from lower to higher rank: a DAG.
      const edges: Edge[] = [];
      for (const [x, y] of pairs) {
        const i = x % rank.length;
        const j = y % rank.length;
        if (i < j) edges.push([rank[i] as string, rank[j] as string]);
      }
      const pos = new Map(topoSort(edges).map((n, i) => [n, i] as const));
      return edges.every(([u, v]) => (pos.get(u) ?? -1) < (pos.get(v) ?? -1));
    }),
  );
  t.pass('checked');
});

t.test('property: mergeMirrorLists is independent of list order (and list duplication)', async (t) => {
  const mirror = fc.constantFrom('m1.example.com', 'm2.example.com', 'M3.example.com', 'a.io', 'src.io', 'z.io/ns');
  const source = fc.constantFrom('src.io', 'A.io', 'zzz.io');
  fc.assert(
    fc.property(source, fc.array(fc.array(mirror, { maxLength: 4 }), { maxLength: 5 }), fc.nat(), (src, lists, seed) => {
      const expected = mergeMirrorLists(src, lists);
      const permuted = shuffled(lists, seed);
      return (
        mergeMirrorLists(src, permuted).join('\n') === expected.join('\n') && mergeMirrorLists(src, [...permuted, ...lists]).join('\n') === expected.join('\n')
      );
    }),
  );
  t.pass('checked');
});

t.test('property: mergeMirrorLists output = real mirrors of kept sets, each once; source never last', async (t) => {
  const mirror = fc.constantFrom('m1.example.com', 'm2.example.com', 'a.io', 'src.io', 'z.io/ns');
  fc.assert(
    fc.property(fc.array(fc.array(mirror, { maxLength: 4 }), { maxLength: 5 }), (lists) => {
      const src = 'src.io';
      const out = mergeMirrorLists(src, lists);
      const kept = lists.filter((l) => l.some((m) => m !== src));
      const mirrors = new Set<string>(kept.flat().filter((m) => m !== src));
      const nonSource = out.filter((m) => m !== src);
      return (
        new Set(out).size === out.length &&
        nonSource.length === mirrors.size &&
        nonSource.every((m) => mirrors.has(m)) &&
        out[out.length - 1] !== src &&
        (kept.length > 0 || out.length === 0)
      );
    }),
  );
  t.pass('checked');
});

t.test(
  'property: mergeMirrorLists is upstream mergedMirrors (edges of each real set, topoSort, source dropped when last), its breaker taking the source last',
  async (t) => {
    // The definition, built as runtime-utils builds it, against mergeMirrorLists, which skips the
    // graph for one set of distinct mirrors: one or two lists, repeats and the source included.
    const mirror = fc.constantFrom('m1.example.com', 'm2.example.com', 'M3.example.com', 'a.io', 'src.io', 'z.io/ns');
    const upstream = (src: string, lists: ReadonlyArray<readonly string[]>): string[] => {
      const real = lists.filter((l) => l.some((m) => m !== src));
      if (real.length === 0) return [];
      const edges: Edge[] = [];
      for (const l of real) {
        l.forEach((m, i) => i + 1 < l.length && edges.push([m, l[i + 1] as string]));
        if (!l.includes(src)) edges.push([l[l.length - 1] as string, src]);
      }
      const sorted = topoSort(edges, undefined, src);
      if (!real.some((l) => l.includes(src))) return sorted.filter((m) => m !== src); // our deviation: a source no set lists goes last
      return sorted[sorted.length - 1] === src ? sorted.slice(0, -1) : sorted;
    };
    /** runtime-utils exactly: its breaker takes the byte-order-first node; the raw sort, the source not yet dropped. */
    const rawUpstream = (src: string, lists: ReadonlyArray<readonly string[]>): string[] => {
      const edges: Edge[] = [];
      for (const l of lists.filter((l) => l.some((m) => m !== src))) {
        l.forEach((m, i) => i + 1 < l.length && edges.push([m, l[i + 1] as string]));
        if (!l.includes(src)) edges.push([l[l.length - 1] as string, src]);
      }
      return topoSort(edges);
    };
    fc.assert(
      fc.property(fc.constantFrom('src.io', 'A.io', 'zzz.io'), fc.array(fc.array(mirror, { maxLength: 10 }), { minLength: 1, maxLength: 2 }), (src, lists) => {
        return mergeMirrorLists(src, lists).join('\n') === upstream(src, lists).join('\n');
      }),
      { numRuns: 3000 },
    );
    t.strictSame(mergeMirrorLists('s.io', [['a.io', 's.io', 'b.io']]), ['a.io', 's.io', 'b.io'], 'the source inside one set stays where it is');
    t.strictSame(mergeMirrorLists('s.io', [['b.io', 'a.io', 's.io']]), ['b.io', 'a.io'], 'the source last is dropped');
    t.strictSame(mergeMirrorLists('s.io', [['b.io', 'a.io', 'b.io']]), upstream('s.io', [['b.io', 'a.io', 'b.io']]), 'a repeat takes the graph');
    // Wherever runtime-utils itself puts the source last (every case without a cycle), ours is exactly its result.
    fc.assert(
      fc.property(fc.constantFrom('src.io', 'A.io', 'zzz.io'), fc.array(fc.array(mirror, { maxLength: 10 }), { minLength: 1, maxLength: 3 }), (src, lists) => {
        const raw = rawUpstream(src, lists);
        return raw[raw.length - 1] !== src || mergeMirrorLists(src, lists).join('\n') === raw.slice(0, -1).join('\n');
      }),
      { numRuns: 3000 },
    );
  },
);

t.test('property: a source that sorts first is never put before a mirror by a cycle (upstream put it first)', async (t) => {
  const mirror = fc.constantFrom('m1.example.com', 'm2.example.com', 'a.io', 'z.io/ns');
  fc.assert(
    fc.property(fc.array(fc.array(mirror, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 3 }), (lists) => {
      return !mergeMirrorLists('A.io', lists).includes('A.io'); // the source in no set: it can only come out last, and is dropped
    }),
    { numRuns: 2000 },
  );
  t.pass('checked');
});

/**
 * The import rules of docs/architecture.md, checked over every file of src/: which folders a
 * folder may import, and that pure files (the pure folders but their named edge files) import
 * nothing with effects, directly or through another file of ours.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { repoPath } from './helpers/repo.js';

const SRC = repoPath('src');

const PURE_FOLDERS = ['core', 'toml', 'reference', 'registries-conf', 'fragments', 'merge', 'pipeline', 'sources', 'health', 'metrics'];
/** Files of the pure folders that read or write (docs/architecture.md names each as its folder's edge). */
const EDGE_FILES = new Set([
  'core/home-dir.ts',
  'core/log.ts',
  'core/version.ts',
  'fragments/policy-dir.ts',
  'fragments/fragment-io.ts',
  'registries-conf/load.ts',
  'registries-conf/drop-ins.ts',
  'health/store.ts',
  'health/prober.ts',
  'metrics/file.ts',
]);
/** Pure files in the shells' folders (docs/architecture.md marks them pure). */
const PURE_FILES_ELSEWHERE = new Set([
  'daemon/config.ts',
  'daemon/run-options.ts',
  'daemon/retry.ts',
  'daemon/status-report.ts',
  'daemon/reload-status.ts',
  'control/protocol.ts',
  'cli/unified-diff.ts',
  'registry/www-authenticate.ts',
  'registry/errors.ts',
  'registry/timeouts.ts',
  'registry/api-host.ts',
  'local-mirror/mapping.ts',
  'local-mirror/render.ts',
  'containerd/hosts-toml.ts',
  'containerd/attempts.ts',
  'containerd/cri-config.ts',
  'local-mirror/request.ts',
  'local-mirror/counters.ts',
  'local-mirror/upstream-sources.ts',
  'local-mirror/blob-sizes.ts',
  'local-mirror/registries-d.ts',
]);
/** Packages and node modules with effects (a pure file may use node:crypto, node:util, smol-toml, yaml...). */
const EFFECTFUL_PACKAGES = /^(node:)?(fs|fs\/promises|net|child_process|os|tls|http|https|dgram|worker_threads)$|^(pino|undici|unix-dgram)$/;

const PURE = PURE_FOLDERS;
/** Which of our folders each folder may import (its own always). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  core: [],
  toml: ['core'],
  reference: ['core'],
  'registries-conf': ['core', 'toml', 'reference'],
  fragments: ['core', 'toml', 'reference', 'registries-conf'],
  merge: ['core', 'toml', 'reference', 'registries-conf', 'fragments'],
  pipeline: ['core', 'toml', 'reference', 'registries-conf', 'fragments', 'merge'],
  sources: ['core', 'reference', 'registries-conf', 'health'],
  health: ['core', 'reference', 'registries-conf', 'sources'],
  metrics: ['core', 'reference', 'registries-conf', 'sources', 'health'],
  output: PURE,
  registry: [...PURE, 'output'],
  control: ['core'],
  systemd: ['core'],
  'local-mirror': [...PURE, 'output', 'registry'],
  containerd: [...PURE, 'output', 'registry', 'local-mirror'],
  daemon: [...PURE, 'output', 'registry', 'control', 'systemd', 'local-mirror', 'containerd'],
  cli: [...PURE, 'output', 'registry', 'control', 'systemd', 'daemon', 'local-mirror', 'containerd'],
};

/** An edge file of a pure folder may also use the edge folders (the health store its lock, the prober the client). */
const EDGES_MAY_ALSO_IMPORT = ['output', 'registry', 'systemd'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The static, non-type-only imports of a file: our files (relative to src/) and package names. */
function importsOf(file: string): { ours: string[]; packages: string[] } {
  const ours: string[] = [];
  const packages: string[] = [];
  for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s+(?!type\b)[^'";]*?from\s+'([^']+)'|^import\s+'([^']+)'/gm)) {
    const spec = (m[1] ?? m[2]) as string;
    if (spec.startsWith('.')) ours.push(relative(SRC, join(dirname(file), spec).replace(/\.js$/, '.ts')));
    else packages.push(spec);
  }
  return { ours, packages };
}

const files = sourceFiles(SRC).map((f) => relative(SRC, f));
const graph = new Map(files.map((f) => [f, importsOf(join(SRC, f))]));
const folderOf = (f: string): string => (f.includes('/') ? (f.split('/')[0] as string) : '');

t.test('every file lives in a known folder', async (t) => {
  t.same(
    files.filter((f) => !(folderOf(f) in MAY_IMPORT)),
    [],
    'no file outside the folders of docs/architecture.md',
  );
});

t.test('each folder imports only the folders it may', async (t) => {
  const breaks: string[] = [];
  for (const [f, { ours }] of graph) {
    const from = folderOf(f);
    for (const target of ours) {
      const to = folderOf(target);
      const allowed = [...(MAY_IMPORT[from] ?? []), ...(EDGE_FILES.has(f) ? EDGES_MAY_ALSO_IMPORT : [])];
      if (to !== from && !allowed.includes(to)) breaks.push(`${f} imports ${target}`);
    }
  }
  t.same(breaks, []);
});

t.test('pure files reach nothing with effects, however far they import', async (t) => {
  const isPure = (f: string): boolean => (PURE_FOLDERS.includes(folderOf(f)) && !EDGE_FILES.has(f)) || PURE_FILES_ELSEWHERE.has(f);
  const breaks: string[] = [];
  for (const f of files.filter(isPure)) {
    const seen = new Set<string>();
    const visit = (at: string, path: string[]): void => {
      if (seen.has(at)) return;
      seen.add(at);
      const deps = graph.get(at);
      if (!deps) return;
      for (const p of deps.packages) if (EFFECTFUL_PACKAGES.test(p)) breaks.push(`${[...path, at].join(' → ')} → ${p}`);
      for (const o of deps.ours) {
        if (!isPure(o)) breaks.push(`${[...path, at].join(' → ')} → ${o}`);
        else visit(o, [...path, at]);
      }
    };
    visit(f, []);
  }
  t.same([...new Set(breaks)], []);
});

t.test('the files named here exist (a rename must update this list and the docs)', async (t) => {
  for (const f of [...EDGE_FILES, ...PURE_FILES_ELSEWHERE]) t.ok(graph.has(f), f);
});

/** Pure modules must not pull in modules with effects (network stack, logger, file reads at import time). */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Every module (project file or package name) reachable by static, non-type-only imports from `entry`. */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^'";]*?from\s+'([^']+)'/gm)) {
      const spec = m[1] as string;
      if (spec.startsWith('.')) visit(join(dirname(file), spec).replace(/\.js$/, '.ts'));
      else seen.add(spec);
    }
  };
  visit(join(SRC, entry));
  return seen;
}

t.test('the mirror view does not load the prober (and with it undici)', async (t) => {
  const deps = reachable('health/mirror-view.ts');
  t.notOk(deps.has(join(SRC, 'health/prober.ts')), 'no prober');
  t.notOk(deps.has('undici'), 'no undici');
});

t.test('validating the configuration does not load the logger (pino)', async (t) => {
  const deps = reachable('daemon/config.ts');
  t.notOk(deps.has(join(SRC, 'core/log.ts')), 'no core/log.ts');
  t.notOk(deps.has('pino'), 'no pino');
  t.notOk(deps.has('pino-pretty'), 'no pino-pretty');
});

t.test('rendering reads nothing: the pipeline does not load core/version.ts (it reads package.json)', async (t) => {
  for (const entry of ['registries-conf/render.ts', 'pipeline/strict.ts', 'pipeline/forgiving.ts']) {
    t.notOk(reachable(entry).has(join(SRC, 'core/version.ts')), `${entry}: no core/version.ts`);
  }
});

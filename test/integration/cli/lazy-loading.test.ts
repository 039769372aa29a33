/**
 * What a command loads is what it needs (issue #15): `render` of TOML fragments loads neither
 * the registry client (undici) nor the YAML parser nor the TOML position parser (built only when
 * a diagnostic's line is read), and neither does the daemon up to READY=1 with its probes off.
 * The program runs bundled (tools/bundle.js): a shared chunk that pulled one of them in at start
 * would break this without breaking anything else. These packages are CommonJS, so every one
 * loaded is in the process's require cache, which a preloaded module writes out at exit
 * (smol-toml, an ES module, is not: the logger, pino, shows that the record works).
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from '../../helpers/cli.js';
import { fragment, startDaemon, workspace } from '../../helpers/daemon.js';

const LAZY = ['undici', 'yaml', 'toml-eslint-parser'];
const ICSP =
  'apiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\nmetadata:\n  name: a\nspec:\n' +
  '  repositoryDigestMirrors:\n  - source: quay.io/team\n    mirrors:\n    - mirror.example/team\n';

/** A module to preload (`--import`) that writes the packages loaded to a file at exit. */
function recorder(t: Test): { env: Record<string, string>; packages(): Set<string> } {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-lazy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'loaded.txt');
  const hook = join(dir, 'record.mjs');
  writeFileSync(
    hook,
    "import { createRequire } from 'node:module';\nimport { writeFileSync } from 'node:fs';\n" +
      "process.on('exit', () => writeFileSync(process.env.MPD_LOADED_OUT, Object.keys(createRequire(import.meta.url).cache).join('\\n')));\n",
  );
  return {
    // While the run collects coverage, tap's processinfo adds its own --import beside this one
    // (helpers/untracked.ts): its modules are in the record too, and none of them is one of LAZY.
    env: { NODE_OPTIONS: `--import ${hook}`, MPD_LOADED_OUT: out },
    packages: () =>
      new Set(
        readFileSync(out, 'utf8')
          .split('\n')
          .map((p) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(p)?.[1])
          .filter((p): p is string => p !== undefined),
      ),
  };
}

/** `render` of one fragment named `name`; the packages it loaded. */
function renderLoads(t: Test, name: string, text: string): Set<string> {
  const rec = recorder(t);
  const dir = mkdtempSync(join(tmpdir(), 'mpd-lazy-render-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'policy.d'));
  writeFileSync(join(dir, 'policy.d', name), text);
  const args = ['render', '--policy-dir', join(dir, 'policy.d'), '--base', '/dev/null', '--output', join(dir, 'registries.conf'), '--allow-unsafe-fragments'];
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...rec.env }, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, r.stderr);
  return rec.packages();
}

t.test('render of a TOML fragment loads no registry client, YAML or TOML position parser', async (t) => {
  const packages = renderLoads(t, '10-a.toml', fragment('quay.io/team', ['mirror.example/team']));
  t.ok(packages.has('pino'), 'the record works: the logger it needs is listed');
  for (const p of LAZY) t.notOk(packages.has(p), `${p} not loaded`);
});

t.test('a YAML fragment loads the YAML parser, and still not the registry client', async (t) => {
  const packages = renderLoads(t, '10-a.yaml', ICSP);
  t.ok(packages.has('yaml'), 'yaml loaded for it');
  t.notOk(packages.has('undici'), 'undici not loaded');
});

t.test('the daemon up to READY=1, probes off, loads none of them either', async (t) => {
  const rec = recorder(t);
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/team', ['mirror.example/team']));
  const d = await startDaemon(t, ws, { env: rec.env });
  t.equal(await d.stop(), 0);
  const packages = rec.packages();
  t.ok(packages.has('pino'), 'the record works');
  for (const p of LAZY) t.notOk(packages.has(p), `${p} not loaded`);
});

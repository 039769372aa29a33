/**
 * What the package tests (test/integration/packaging/) share: running a command, reading a .deb's file
 * list, and a small policy directory to run the extracted program on.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './repo.js';
import { untracked } from './untracked.js';

/**
 * Set when the package tests skip themselves: `MPD_TEST_PACKAGES=0`, for a second run of the
 * suite on another runtime (CI's Node 24 run), the packages having been built and tested in the
 * first. Neither kind depends on the node running the suite: a .deb or .rpm carries an addon
 * built for its build host's node, whose ABI check the first run covers, and the program runs
 * on this runtime throughout the suite; the bundled ones carry their own runtime.
 */
export const PACKAGES_TESTED_ELSEWHERE = process.env['MPD_TEST_PACKAGES'] === '0' && 'MPD_TEST_PACKAGES=0: the packages were built and tested in another run';

/**
 * stage.sh's environment in the tests: the program as `npm test`'s pretest has just compiled
 * and bundled it (dist/cli), not compiled again from HEAD in each staging (~12 s of CPU each).
 */
export const STAGE_ENV = { ...process.env, MPD_BUILT_CLI: join(REPO_ROOT, 'dist', 'cli') };

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

/**
 * A command to completion, its output as text (2 min and 64 MiB of output unless `opts` says
 * otherwise); as users run it, outside the test runner's loader hooks (untracked.ts): the
 * builds' npm and node-gyp, and the packaged program.
 */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): Ran {
  const r = spawnSync(...untracked(cmd, args), { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024, ...opts });
  const out: Ran = { status: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  if (r.error) out.error = r.error;
  return out;
}

/** `dpkg-deb -c`: each path (directories without their trailing /) → "MODE OWNER/GROUP". */
export function debContents(deb: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of run('dpkg-deb', ['-c', deb]).stdout.split('\n')) {
    const m = /^(\S+)\s+(\S+)\s+\d+\s+\S+\s+\S+\s+\.(\/.*?)\/?(?: -> .*)?$/.exec(line);
    if (m) out.set((m[3] as string) || '/', `${m[1]} ${m[2]}`);
  }
  return out;
}

/** A policy dir (a TOML fragment and an ICSP), base and output dir under `dir` (owned by root, not group/other-writable). */
export function policyFixture(dir: string): { policy: string; base: string; out: string; state: string } {
  const policy = join(dir, 'policy.d');
  mkdirSync(policy, { recursive: true, mode: 0o755 });
  writeFileSync(join(policy, '10-hub.toml'), '[[mirror-set]]\nsource = "docker.io"\nmirrors = ["mirror.example/dockerhub"]\npull-from-mirror = "all"\n', {
    mode: 0o644,
  });
  writeFileSync(
    join(policy, '20-icsp.yaml'),
    'apiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\nmetadata:\n  name: quay\nspec:\n  repositoryDigestMirrors:\n  - source: quay.io/openshift\n    mirrors:\n    - mirror.example/openshift\n',
    { mode: 0o644 },
  );
  const base = join(dir, 'base.conf');
  writeFileSync(base, 'unqualified-search-registries = ["docker.io"]\n');
  const out = join(dir, 'out');
  mkdirSync(out, { recursive: true, mode: 0o755 });
  return { policy, base, out, state: join(dir, 'state') };
}

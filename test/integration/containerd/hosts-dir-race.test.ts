/**
 * A hosts.toml that someone writes between our read of it and our replace (or unlink) is never
 * replaced or removed unseen (src/containerd/hosts-dir.ts). The race is made to happen at a
 * fixed point, not by timing: writeFileAtomic and readRegularFile are the real ones, wrapped so
 * that the other writer's file lands just after our first read.
 */
import t, { type Test } from 'tap';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as atomic from '../../../src/output/atomic-write.js';
import type * as HostsDir from '../../../src/containerd/hosts-dir.js';
import { formatDiagnostic } from '../../../src/core/diagnostic.js';
import { HOSTS_TOML_HEADER } from '../../../src/containerd/hosts-toml.js';

const ours = (server: string): string => `${HOSTS_TOML_HEADER}server = "${server}"\n`;

/** hosts-dir.ts with `land(path)` run once, just after the first read of a hosts.toml (by writeFileAtomic or for an unlink). */
async function racing(t: Test, land: (path: string) => void): Promise<typeof HostsDir> {
  let landed = false;
  const once = (path: string): void => {
    if (landed || !path.endsWith('/hosts.toml')) return;
    landed = true;
    land(path);
  };
  // Absolute URLs: tap's mocks resolve a relative path from the caller's source-mapped place
  // (test/…/x.test.ts), not from this compiled test.
  return t.mockImport<typeof HostsDir>(new URL('../../../src/containerd/hosts-dir.js', import.meta.url).href, {
    [new URL('../../../src/output/atomic-write.js', import.meta.url).href]: {
      ...atomic,
      writeFileAtomic: (path: string, data: string | Buffer, opts: atomic.WriteOptions = {}) => {
        const hook = opts.beforeReplace;
        let calls = 0;
        return atomic.writeFileAtomic(path, data, {
          ...opts,
          ...(hook
            ? {
                beforeReplace: (current: Buffer | undefined) => {
                  const verdict = hook(current);
                  if (++calls === 1) once(path); // after the first read and its verdict: the other writer lands
                  return verdict;
                },
              }
            : {}),
        });
      },
      readRegularFile: async (path: string) => {
        const bytes = await atomic.readRegularFile(path);
        once(path);
        return bytes;
      },
    },
  });
}

t.test('a hand-written hosts.toml put in place of ours between our read and our replace is left, and reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-race-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const real = await import('../../../src/containerd/hosts-dir.js');
  await real.writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }]);
  const theirs = 'server = "https://quay.io"\n[host."https://hand.example"]\n';
  const { writeHostsDir } = await racing(t, (path) => writeFileSync(path, theirs));
  const outcome = await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://other.example') }]);
  t.equal(readFileSync(join(dir, 'quay.io', 'hosts.toml'), 'utf8'), theirs, 'theirs is not overwritten');
  t.match(outcome.conflicts.map(formatDiagnostic), [/quay\.io\/hosts\.toml: .*written by someone else; left as it is/]);
  t.same(outcome.written, []);
  t.same(outcome.current, []);
  t.same(readdirSync(join(dir, 'quay.io')), ['hosts.toml'], 'no temp file left');
});

t.test('a hosts.toml created where there was none, between our read and our replace, is left', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-race-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const theirs = 'server = "https://quay.io"\n';
  const { writeHostsDir } = await racing(t, (path) => writeFileSync(path, theirs));
  const outcome = await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }]);
  t.equal(readFileSync(join(dir, 'quay.io', 'hosts.toml'), 'utf8'), theirs);
  t.equal(outcome.conflicts.length, 1);
});

t.test('ours edited by hand between our read and our replace: the edit is kept, then ours written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-race-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const real = await import('../../../src/containerd/hosts-dir.js');
  await real.writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }]);
  const file = join(dir, 'quay.io', 'hosts.toml');
  const edited = `${readFileSync(file, 'utf8')}# a hand edit\n`;
  const { writeHostsDir } = await racing(t, (path) => writeFileSync(path, edited));
  const outcome = await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://other.example') }]);
  t.equal(outcome.edited.length, 1, 'reported as edited');
  t.equal(readFileSync(outcome.edited[0]?.savedAs ?? '', 'utf8'), edited, 'the edit kept');
  t.equal(readFileSync(file, 'utf8'), real.stampedText(ours('https://other.example')), 'ours written');
  t.same(outcome.written, ['quay.io']);
  t.same(outcome.conflicts, []);
});

t.test('a hand-written hosts.toml put in place of ours between our read and our unlink (host dropped) stays', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-race-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const real = await import('../../../src/containerd/hosts-dir.js');
  await real.writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }]);
  const theirs = 'server = "https://quay.io"\n';
  const { writeHostsDir } = await racing(t, (path) => writeFileSync(path, theirs));
  const outcome = await writeHostsDir(dir, []);
  t.equal(readFileSync(join(dir, 'quay.io', 'hosts.toml'), 'utf8'), theirs, 'not removed');
  t.same(outcome.removed, []);
});

t.test('a symbolic link put in place of ours between our read and our replace is left, even to a file bearing our header', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-race-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const real = await import('../../../src/containerd/hosts-dir.js');
  await real.writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }]);
  const target = join(dir, 'operator.toml');
  writeFileSync(target, real.stampedText(ours('https://quay.io'))); // by its bytes, ours
  const { writeHostsDir } = await racing(t, (path) => {
    rmSync(path);
    symlinkSync(target, path);
  });
  const outcome = await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://other.example') }]);
  t.ok(lstatSync(join(dir, 'quay.io', 'hosts.toml')).isSymbolicLink(), 'the link is not replaced');
  t.match(outcome.conflicts.map(formatDiagnostic), [/quay\.io\/hosts\.toml: .*a symbolic link to .*operator\.toml/]);
  t.same(outcome.current, []);
  t.same(readdirSync(join(dir, 'quay.io')), ['hosts.toml'], 'no temp file left');
});

t.test('without a race, the same wrapped module writes and removes as before (the control)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-race-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(dir, { recursive: true });
  const { writeHostsDir } = await racing(t, () => undefined);
  t.same((await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }])).written, ['quay.io']);
  t.same((await writeHostsDir(dir, [])).removed, ['quay.io']);
  t.notOk(existsSync(join(dir, 'quay.io')));
});

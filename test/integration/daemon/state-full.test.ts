/**
 * The state directory full while the daemon runs (a real ENOSPC: a 64 KiB tmpfs mounted over
 * it in a private mount namespace of the daemon's own): the new fragment is rendered (the
 * policy is valid), but the daemon is degraded and says why, until a retry with backoff (not
 * the 30 s rescan, set far away here) saves the last-good copies.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runArgs, fragment, pollUntil, replaceFile, startDaemon, workspace } from '../../helpers/daemon.js';

const isRoot = process.getuid?.() === 0;

/** Fills the file system of `dir` with one file; returns its path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const chunk = Buffer.alloc(16 * 1024, 0x78);
  for (let i = 0; i < 1024; i++) {
    try {
      writeFileSync(path, chunk, { flag: 'a' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') return path;
      throw e;
    }
  }
  throw new Error(`${dir} did not fill up`);
}

t.test(
  'state directory full while running: degraded with the reason, retried with backoff, healthy once saved',
  { skip: !isRoot && 'needs root: unshare -m and mount a small tmpfs' },
  async (t) => {
    const ws = workspace(t);
    replaceFile(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
    const mountState = 'mkdir -p "$0" && mount -t tmpfs -o size=64k,mode=0700 mpd-test-state "$0" && exec "$@"';
    const d = await startDaemon(t, ws, {
      wrap: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', mountState, ws.state],
      argv: [...runArgs(ws), '--rescan-interval-ms', '600000'],
    });
    await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');
    t.equal((await d.status()).state, 'healthy');
    // The daemon's view of its state dir (the tmpfs is in its mount namespace only).
    const state = `/proc/${d.pid}/root${ws.state}`;
    // The last-good copy is saved after the output, in the background (issue #15): waited for.
    await pollUntil(() => existsSync(join(state, 'last-good', '10-a.toml')), 'the last-good copy in the tmpfs (it is the state dir)');
    const filler = fill(state);
    const from = d.log().length;

    replaceFile(join(ws.policy, '20-b.toml'), fragment('quay.io/b', ['mirror-b.example/b']));
    await d.waitForOutput((o) => o.includes('mirror-b.example/b'), 'the new fragment rendered (its policy is valid)');
    const s = await d.waitForStatus((x) => x.state === 'degraded', 'degraded');
    t.match(s.degraded.join('\n'), /cannot save the last-good copies in .*last-good: .*no space left on device/);
    t.same(
      s.fragments.map((f) => [f.file, f.state]),
      [
        ['10-a.toml', 'valid'],
        ['20-b.toml', 'valid'],
      ],
    );
    await d.waitForLog(/cannot save the last-good copies .*no space left on device.*; retrying in 1 s/, from);
    t.notOk(existsSync(join(state, 'last-good', '20-b.toml')));

    rmSync(filler);
    await d.waitForStatus((x) => x.state === 'healthy', 'healthy once a retry saved the copies (the rescan is 10 minutes away)');
    t.equal(readFileSync(join(state, 'last-good', '20-b.toml'), 'utf8'), fragment('quay.io/b', ['mirror-b.example/b']));
    await d.waitForLog(/last-good copies saved in .* again/, from);

    // A hand edit of the output while the state dir is full: not replaced (the edit would be lost) until a copy is kept.
    const filler2 = fill(state);
    const edited = `${readFileSync(ws.output, 'utf8')}# hand edit\n`;
    writeFileSync(ws.output, edited);
    const s2 = await d.waitForStatus((x) => x.state === 'degraded', 'degraded: the edited output cannot be kept');
    t.match(s2.degraded.join('\n'), /cannot write .*registries\.conf: not replaced, since a copy of it cannot be kept in .*(?:ENOSPC|no space left on device)/);
    t.equal(readFileSync(ws.output, 'utf8'), edited, 'the hand edit is still there');
    rmSync(filler2);
    await d.waitForOutput((o) => !o.includes('# hand edit'), 'our render restored once the edited copy is kept');
    const kept = readdirSync(join(state, 'drift')).filter((n) => n.endsWith('.conf'));
    t.equal(kept.length, 1);
    t.equal(readFileSync(join(state, 'drift', kept[0] as string), 'utf8'), edited, 'the edited copy is kept');
    await d.waitForStatus((x) => x.state === 'healthy', 'healthy');
    t.equal(await d.stop(), 0);
  },
);

/**
 * An idle daemon does not re-render (issue #15): the watcher's event for our own write of the
 * output is no reason to render, the periodic rescan that finds nothing a render reads changed
 * renders nothing, while a degraded daemon goes on rendering at each
 * rescan (its retry) and reading the whole directory there, and a change is still rendered.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fragment, runArgs, sleep, startDaemon, workspace } from '../../helpers/daemon.js';
import { SETTLE_MS } from '../../../src/daemon/render-scheduler.js';

const RESCAN_MS = 150;

t.test('healthy and idle: rescans render nothing; a change renders', async (t) => {
  const ws = workspace(t);
  for (let i = 0; i < 5; i++) writeFileSync(join(ws.policy, `${10 + i}-f.toml`), fragment(`quay.io/team${i}`, [`mirror.example/team${i}`]));
  const d = await startDaemon(t, ws, { argv: [...runArgs(ws), '--rescan-interval-ms', String(RESCAN_MS), '--log-level', 'trace'] });
  await d.waitForOutput((o) => o.includes('mirror.example/team4'));
  // The first write makes the output's directory: inotify may report only the directory (its
  // entries' watch is armed when it appears, maybe after the output was renamed into it).
  await d.waitForLog(/ (registries\.conf|out): our own write/);
  t.notMatch(d.log(), /"msg":"(add|change) registries\.conf"|\b(add|change) registries\.conf\n/, 'our own write is no reason to render');
  // Events are followed by one more render once they settle (SETTLE_MS); after that, none.
  await sleep(SETTLE_MS + RESCAN_MS * 3);
  const before = (await d.status()).renders;
  await sleep(RESCAN_MS * 10);
  const after = await d.status();
  t.equal(after.state, 'healthy');
  t.equal(after.renders, before, 'ten rescans, no render');
  writeFileSync(join(ws.policy, '20-new.toml'), fragment('quay.io/new', ['mirror.example/new']));
  await d.waitForOutput((o) => o.includes('mirror.example/new'), 'the change rendered');
  t.equal(await d.stop(), 0);
});

t.test('degraded: every rescan renders, as a retry', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-bad.toml'), '[[mirror-set]\n');
  const d = await startDaemon(t, ws, { argv: [...runArgs(ws), '--rescan-interval-ms', String(RESCAN_MS)] });
  const first = await d.waitForStatus((s) => s.state === 'degraded' && s.renders >= 1, 'degraded');
  await d.waitForStatus((s) => s.renders >= first.renders + 3, 'renders at the rescans');
  t.pass('a degraded daemon re-renders at its rescans');
  t.equal(await d.stop(), 0);
});

t.test('degraded: the rescan still reads the whole directory, so a change no event reported is rendered', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-bad.toml'), '[[mirror-set]\n');
  const file = join(ws.policy, '20-f.toml');
  writeFileSync(file, fragment('quay.io/f', ['mirror-one.example/f']));
  const d = await startDaemon(t, ws, { argv: [...runArgs(ws), '--rescan-interval-ms', String(RESCAN_MS)] });
  await d.waitForOutput((o) => o.includes('mirror-one.example/f'), 'the fragment rendered');
  t.equal((await d.status()).state, 'degraded');
  await sleep(SETTLE_MS * 2); // the start's events settled: from now on only the rescan reads
  // A write inotify does not report (through a shared mapping, as a change on NFS or a dropped
  // event queue): same length, the file's time moves.
  execFileSync('python3', ['-c', MMAP_REPLACE, file, 'mirror-one', 'mirror-two']);
  const out = await d.waitForOutput((o) => o.includes('mirror-two.example/f'), 'the change, found by a rescan');
  t.notMatch(out, /mirror-one\.example/);
  t.equal(await d.stop(), 0);
});

/** Python: replaces argv[2] with argv[3] (same length) in the file argv[1] through a shared mapping: no inotify event. */
const MMAP_REPLACE = `
import mmap, os, sys
with open(sys.argv[1], 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0)
    i = m.find(sys.argv[2].encode())
    m[i:i + len(sys.argv[3])] = sys.argv[3].encode()
    m.flush()
    m.close()
`;

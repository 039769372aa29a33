/**
 * The forgiving daemon, live: an invalid fragment is held at its last good content, a
 * never-valid one is left out, of two conflicting fragments the one changed most recently
 * gives way (and the error names both), and a restart keeps all of that (state dir).
 * Files are replaced by rename, so the daemon never sees one half-written.
 */
import t from 'tap';
import { join } from 'node:path';
import { fragment, idms, replaceFile, startDaemon, workspace } from '../../helpers/daemon.js';
import type { DaemonStatus } from '../../../src/daemon/daemon.js';

const stateOf = (s: DaemonStatus, file: string): string | undefined => s.fragments.find((f) => f.file === file)?.state;
const errorsOf = (s: DaemonStatus, file: string): string => s.fragments.find((f) => f.file === file)?.errors.join('\n') ?? '';

t.test('invalid fragment held at its last good content; a never-valid one left out; restart keeps both', async (t) => {
  const ws = workspace(t);
  const a = join(ws.policy, '10-a.toml');
  replaceFile(a, fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');

  // Break 10-a.toml (a mirror containers/image could not use): held.
  replaceFile(a, fragment('quay.io/a', ['UPPER.example/A']));
  let s = await d.waitForStatus((x) => stateOf(x, '10-a.toml') === 'held', '10-a.toml held');
  t.equal(s.state, 'degraded');
  t.match(errorsOf(s, '10-a.toml'), /^10-a\.toml:3:\d+: invalid format for mirror "UPPER\.example\/A"/m, 'FILE:LINE:COL error');
  t.match(s.degraded.join('\n'), /1 fragment\(s\) held/);
  let out = await d.waitForOutput(() => true);
  t.match(out, /mirror-a\.example\/a/, 'its old mirrors are still in the output');
  t.notMatch(out, /UPPER/);
  await d.waitForLog(/10-a\.toml:3:\d+: invalid format for mirror .*\(its last valid content stays in effect\)/);

  // A TOML syntax error is held the same way.
  replaceFile(a, '[[mirror-set]\nsource = "quay.io/a"\n');
  s = await d.waitForStatus((x) => /^10-a\.toml:1:\d+: /m.test(errorsOf(x, '10-a.toml')), 'a syntax error located');
  t.equal(stateOf(s, '10-a.toml'), 'held');

  // A new fragment that was never valid: left out; the valid rest is rendered.
  replaceFile(join(ws.policy, '20-new.toml'), fragment('quay.io/n', ['lower.example/ok', 'BAD.example/N']));
  replaceFile(join(ws.policy, '30-c.toml'), fragment('quay.io/c', ['mirror-c.example/c']));
  out = await d.waitForOutput((o) => o.includes('mirror-c.example/c'), 'the valid new fragment');
  s = await d.status();
  t.equal(stateOf(s, '20-new.toml'), 'invalid');
  t.match(errorsOf(s, '20-new.toml'), /^20-new\.toml:3:\d+: /m);
  t.notMatch(out, /lower\.example\/ok/, 'nothing of the never-valid fragment is in effect');
  t.match(out, /# fragments: 10-a\.toml, 30-c\.toml\n/);
  t.match(out, /mirror-a\.example\/a/);
  t.equal(await d.stop(), 0);

  // Restart with the same state dir: the last good content of 10-a.toml survives.
  const before = out;
  const d2 = await startDaemon(t, ws);
  const s2 = await d2.status();
  t.equal(stateOf(s2, '10-a.toml'), 'held', 'still held after a restart');
  t.equal(stateOf(s2, '20-new.toml'), 'invalid');
  t.equal(stateOf(s2, '30-c.toml'), 'valid');
  t.equal(await d2.waitForOutput(() => true), before, 'the output is the same after the restart');

  // Fixed: valid again, in effect, and said so.
  replaceFile(a, fragment('quay.io/a', ['mirror-a3.example/a']));
  await d2.waitForOutput((o) => o.includes('mirror-a3.example/a') && !o.includes('mirror-a.example/a'), 'the fixed fragment');
  await d2.waitForLog(/10-a\.toml is valid again/);
  t.equal(stateOf(await d2.status(), '10-a.toml'), 'valid');
  t.equal(await d2.stop(), 0);
});

t.test('conflicting mirrorSourcePolicy: the fragment changed most recently gives way; the error names both', async (t) => {
  const ws = workspace(t);
  const never = join(ws.policy, '10-never.yaml');
  const other = join(ws.policy, '20-other.yaml');
  replaceFile(never, idms('never', 'quay.io/x', ['mirror-1.example/x'], true));
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-1.example/x'), 'the first render');

  // A new file that allows contacting the source: it is the newer one, and never valid: left out.
  replaceFile(other, idms('other', 'quay.io/x', ['mirror-2.example/x'], false));
  let s = await d.waitForStatus((x) => stateOf(x, '20-other.yaml') === 'invalid', '20-other.yaml left out');
  t.equal(stateOf(s, '10-never.yaml'), 'valid');
  let err = errorsOf(s, '20-other.yaml');
  t.match(err, /conflicting mirrorSourcePolicy/);
  t.match(err, /10-never\.yaml/, 'names the first file');
  t.match(err, /20-other\.yaml/, 'names the second file');
  let out = await d.waitForOutput(() => true);
  t.notMatch(out, /mirror-2\.example/);
  t.match(out, /location = "quay\.io\/x"\nblocked = true/);

  // Make them agree: both valid.
  replaceFile(other, idms('other', 'quay.io/x', ['mirror-2.example/x'], true));
  await d.waitForOutput((o) => o.includes('mirror-2.example/x'), 'both in effect');
  await d.waitForStatus((x) => x.state === 'healthy', 'healthy');

  // Now change the FIRST file (by name) to conflict: it changed last, so it is the one held.
  replaceFile(never, idms('never', 'quay.io/x', ['mirror-1b.example/x'], false));
  s = await d.waitForStatus((x) => stateOf(x, '10-never.yaml') === 'held', '10-never.yaml held');
  t.equal(stateOf(s, '20-other.yaml'), 'valid', 'the file that did not change stays in effect');
  err = errorsOf(s, '10-never.yaml');
  t.match(err, /conflicting mirrorSourcePolicy/);
  t.match(err, /10-never\.yaml/);
  t.match(err, /20-other\.yaml/);
  out = await d.waitForOutput(() => true);
  t.match(out, /mirror-1\.example\/x/, 'the held file keeps its last good mirrors');
  t.notMatch(out, /mirror-1b\.example/);
  t.equal(await d.stop(), 0);

  // A restart does not turn this around: the file whose content is its last good stays in effect.
  const d2 = await startDaemon(t, ws);
  const s2 = await d2.status();
  t.equal(stateOf(s2, '10-never.yaml'), 'held', 'the changed file is still the one held after a restart');
  t.equal(stateOf(s2, '20-other.yaml'), 'valid');
  t.equal(await d2.waitForOutput(() => true), out, 'same output after the restart');
  t.equal(await d2.stop(), 0);
});

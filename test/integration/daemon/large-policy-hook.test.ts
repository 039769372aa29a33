/**
 * The daemon's `largePolicy` hook (`run` gives V8 its optimizing compilers back by it:
 * src/cli/daemon-process.ts): called once, at the first render whose fragments hold
 * LARGE_POLICY_BYTES of text, before that render parses them; not for a small policy; not again.
 * The daemon runs in this process on a temporary policy directory (no V8 flag is touched: the
 * hook only records).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, LARGE_POLICY_BYTES } from '../../../src/daemon/daemon.js';
import { createLogger } from '../../../src/core/log.js';
import { createNotifier } from '../../../src/systemd/notify.js';
import { fragment, inProcessConfig, pollUntil, replaceFile, workspace } from '../../helpers/daemon.js';

/** A valid fragment of about `bytes` of text: one mirror set and a comment that fills it up. */
function paddedFragment(source: string, mirror: string, bytes: number): string {
  const body = fragment(source, [mirror]);
  return `# ${'x'.repeat(Math.max(0, bytes - body.length - 3))}\n${body}`;
}

t.test('called once, when the fragments reach LARGE_POLICY_BYTES; not for a small policy', async (t) => {
  const ws = workspace(t);
  replaceFile(join(ws.policy, '10-small.toml'), fragment('small.example.com/a', ['mirror.example.net/a']));
  const calls: string[] = [];
  const daemon = new Daemon(inProcessConfig(ws), createLogger({ level: 'silent' }), createNotifier({}), undefined, {
    largePolicy: () => calls.push(readFileSync(ws.output, 'utf8').includes('big.example.com') ? 'after its render' : 'before its render'),
  });
  t.teardown(() => daemon.stop());
  await daemon.start();
  t.match(readFileSync(ws.output, 'utf8'), /small\.example\.com/);
  t.same(calls, [], 'a small policy: not called');

  replaceFile(join(ws.policy, '20-big.toml'), paddedFragment('big.example.com/b', 'mirror.example.net/b', LARGE_POLICY_BYTES));
  await pollUntil(() => readFileSync(ws.output, 'utf8').includes('big.example.com'), 'the large fragment rendered');
  t.same(calls, ['before its render'], 'called once, before the render that reached the size');

  replaceFile(join(ws.policy, '30-more.toml'), fragment('more.example.com/c', ['mirror.example.net/c']));
  await pollUntil(() => readFileSync(ws.output, 'utf8').includes('more.example.com'), 'the next change rendered');
  t.same(calls, ['before its render'], 'not called again');
});

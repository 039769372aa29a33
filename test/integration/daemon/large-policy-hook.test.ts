/**
 * The daemon's `largePolicy` hook (`run` gives V8 its optimizing compilers back by it:
 * src/cli/daemon-process.ts): called once, at the first render whose fragments hold
 * LARGE_POLICY_BYTES of text, before that render parses them; not for a small policy; not again.
 * The daemon runs in this process on a temporary policy directory (no V8 flag is touched: the
 * hook only records).
 */
import t from 'tap';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, LARGE_POLICY_BYTES } from '../../../src/daemon/daemon.js';
import { DEFAULTS } from '../../../src/daemon/config.js';
import { createLogger } from '../../../src/core/log.js';
import { createNotifier } from '../../../src/systemd/notify.js';
import { fragment, pollUntil, workspace } from '../../helpers/daemon.js';

/** A valid fragment of about `bytes` of text: one mirror set and a comment that fills it up. */
function paddedFragment(source: string, mirror: string, bytes: number): string {
  const body = fragment(source, [mirror]);
  return `# ${'x'.repeat(Math.max(0, bytes - body.length - 3))}\n${body}`;
}

/** Written beside and renamed in: the watcher sees the whole file at once. */
function put(dir: string, name: string, text: string): void {
  writeFileSync(join(dir, `.${name}.tmp`), text);
  renameSync(join(dir, `.${name}.tmp`), join(dir, name));
}

t.test('called once, when the fragments reach LARGE_POLICY_BYTES; not for a small policy', async (t) => {
  const ws = workspace(t);
  put(ws.policy, '10-small.toml', fragment('small.example.com/a', ['mirror.example.net/a']));
  const calls: string[] = [];
  const config = {
    ...DEFAULTS,
    policyDir: ws.policy,
    output: ws.output,
    stateDir: ws.state,
    controlSocket: ws.control,
    allowUnsafeFragments: true,
    probeIntervalMs: 0,
  };
  const daemon = new Daemon(config, createLogger({ level: 'silent' }), createNotifier({}), undefined, {
    largePolicy: () => calls.push(readFileSync(ws.output, 'utf8').includes('big.example.com') ? 'after its render' : 'before its render'),
  });
  t.teardown(() => daemon.stop());
  await daemon.start();
  t.match(readFileSync(ws.output, 'utf8'), /small\.example\.com/);
  t.same(calls, [], 'a small policy: not called');

  put(ws.policy, '20-big.toml', paddedFragment('big.example.com/b', 'mirror.example.net/b', LARGE_POLICY_BYTES));
  await pollUntil(() => readFileSync(ws.output, 'utf8').includes('big.example.com'), 'the large fragment rendered');
  t.same(calls, ['before its render'], 'called once, before the render that reached the size');

  put(ws.policy, '30-more.toml', fragment('more.example.com/c', ['mirror.example.net/c']));
  await pollUntil(() => readFileSync(ws.output, 'utf8').includes('more.example.com'), 'the next change rendered');
  t.same(calls, ['before its render'], 'not called again');
});

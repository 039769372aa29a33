/**
 * The daemon and a policy past the bounds (src/merge/bounds.ts): the fragment is left out at once,
 * as any invalid fragment, the rest stays rendered, and the daemon keeps answering.
 */
import t from 'tap';
import { join } from 'node:path';
import { fragment, replaceFile, startDaemon, workspace } from '../../helpers/daemon.js';

/** The 66 KB fragment: 5 000 insecure namespaces under a source with 200 mirrors. */
function amplifyingFragment(): string {
  const scopes = Array.from({ length: 5000 }, (_, i) => `"quay.io/n${i}",`).join('\n');
  const list = Array.from({ length: 200 }, (_, i) => `"m${i}.example.com/q",`).join('\n');
  return `insecure-registries = [\n${scopes}\n]\n\n[[mirror-set]]\nsource = "quay.io"\npull-from-mirror = "all"\nmirrors = [\n${list}\n]\n`;
}

t.test('the daemon leaves the amplifying fragment out, keeps rendering the rest and answers', async (t) => {
  const ws = workspace(t);
  replaceFile(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example.com/a']));
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-a.example.com/a'), 'the first render');
  replaceFile(join(ws.policy, '20-amp.toml'), amplifyingFragment());
  const s = await d.waitForStatus((x) => x.fragments.some((f) => f.file === '20-amp.toml' && f.state === 'invalid'), '20-amp.toml left out');
  t.match(s.fragments.find((f) => f.file === '20-amp.toml')?.errors.join('\n'), /^20-amp\.toml:2:\d+: the policy would render 1000201 mirrors/m);
  const out = await d.waitForOutput(() => true);
  t.match(out, /# fragments: 10-a\.toml\n/, 'the rest stays in effect');
  t.notMatch(out, /m0\.example\.com/);

  // A valid fragment edited into an amplifying one: held, its last valid content stays.
  replaceFile(join(ws.policy, '10-a.toml'), amplifyingFragment());
  const held = await d.waitForStatus((x) => x.fragments.some((f) => f.file === '10-a.toml' && f.state === 'held'), '10-a.toml held');
  t.match(held.fragments.find((f) => f.file === '10-a.toml')?.errors.join('\n'), /^10-a\.toml:2:\d+: the policy would render/m);
  t.match(await d.waitForOutput(() => true), /mirror-a\.example\.com\/a/, 'its old mirrors are still in effect');
  t.equal(await d.stop(), 0);
});

/**
 * `status` (text and --json) shows each fragment's warnings, and the warnings about files in
 * the policy directory that are not fragments; warnings do not degrade the daemon.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { fragment, startDaemon, workspace } from '../../helpers/daemon.js';
import type { DaemonStatus } from '../../../src/daemon/daemon.js';

const IMAGE_CONFIG = [
  'apiVersion: config.openshift.io/v1',
  'kind: Image',
  'metadata:',
  '  name: cluster',
  'spec:',
  '  registrySources:',
  '    allowedRegistries: [quay.io]',
  '    insecureRegistries: [insecure.example.com]',
  '',
].join('\n');
const ALLOWED = /^20-image\.yaml:7:\d+: warning: allowedRegistries belongs to policy\.json/;
const NOT_A_FRAGMENT = 'mirrors.conf: warning: not a policy fragment, ignored: fragments are named *.toml, *.yaml, *.yml or *.json';

t.test("status shows each fragment's warnings and the policy directory's, also in --json", async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  writeFileSync(join(ws.policy, '20-image.yaml'), IMAGE_CONFIG);
  writeFileSync(join(ws.policy, 'mirrors.conf'), fragment('quay.io/x', ['mirror-x.example/x']));
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');

  const s = await d.status();
  t.equal(s.state, 'healthy', 'warnings do not degrade');
  t.same(
    s.fragments.map((f) => [f.file, f.state, f.warnings.length]),
    [
      ['10-a.toml', 'valid', 0],
      ['20-image.yaml', 'valid', 1],
    ],
  );
  t.match(s.fragments[1]?.warnings[0], ALLOWED);
  t.same(s.warnings, [NOT_A_FRAGMENT]);
  await d.waitForLog(/WARN: mirrors\.conf: not a policy fragment/);

  const text = await runCli(['status', '--control-socket', ws.control]);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /valid {3}20-image\.yaml\n {10}20-image\.yaml:7:\d+: warning: allowedRegistries/);
  t.match(text.stdout, `other warnings:\n  ${NOT_A_FRAGMENT}\n`);

  const json = await runCli(['status', '--json', '--control-socket', ws.control]);
  const parsed = JSON.parse(json.stdout) as DaemonStatus;
  t.match(parsed.fragments.find((f) => f.file === '20-image.yaml')?.warnings, [ALLOWED]);
  t.same(parsed.warnings, [NOT_A_FRAGMENT]);
  t.equal(await d.stop(), 0);
});

/**
 * The daemon's registries.d drop-in for the local mirror: a host whose registries.d reads sigstore
 * attachments from a mirror (`use-sigstore-attachments` keyed on the mirror's host, as an operator
 * or OpenShift's MCO writes it) keeps reading them when pulls go through the endpoint. The real
 * daemon, a real docker-registry holding an image and its signature, skopeo reading the output
 * and the registries.d beside it; the source is unreachable.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fragment, runArgs, startDaemon, workspace } from '../../helpers/daemon.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { freePort, registryFor } from '../../helpers/registry.js';
import { pushSignature } from '../../helpers/sigstore.js';
import { skopeo } from '../../helpers/skopeo.js';
import { runCli } from '../../helpers/cli.js';
import { localMirrorLocation } from '../../../src/local-mirror/mapping.js';

const SOURCE = 'source.invalid/app';

t.test("a mirror's use-sigstore-attachments is carried over to the endpoint, and taken back when no longer needed", async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-lm-registries-d-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const mirror = await registryFor(t);
  const img = await buildImage(join(work, 'img'), { content: 'signed through the daemon', tag: 'v1' });
  await pushImage(img, `${mirror.host}/app:v1`);
  await pushSignature(mirror.host, 'app', img.manifestDigest);

  const ws = workspace(t);
  const registriesD = join(dirname(ws.output), 'registries.d');
  mkdirSync(registriesD, { recursive: true });
  const theirs = join(registriesD, 'mirror.yaml');
  writeFileSync(theirs, `docker:\n  ${mirror.host}:\n    use-sigstore-attachments: true\n`);
  const ours = join(registriesD, 'mirror-policyd-local-mirror.yaml');

  const address = `127.0.0.1:${await freePort()}`;
  const endpoint = localMirrorLocation(address, SOURCE);
  writeFileSync(join(ws.policy, '10-app.toml'), `insecure-registries = [${JSON.stringify(mirror.host)}]\n\n${fragment(SOURCE, [`${mirror.host}/app`])}`);
  const config = join(ws.dir, 'config.toml');
  writeFileSync(config, `local-mirror = ${JSON.stringify(address)}\n`);
  const d = await startDaemon(t, ws, { argv: [...runArgs(ws, 50, config), '--rescan-interval-ms', '500'] });
  await d.waitForOutput((o) => o.includes(endpoint), 'the endpoint in the output');
  await d.waitFor(() => existsSync(ours), 'our registries.d drop-in');
  t.match(readFileSync(ours, 'utf8'), `"${endpoint}":\n    use-sigstore-attachments: true`, "the endpoint's namespace for the table");

  const policy = join(work, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const dest = join(work, 'copy');
  const copy = await skopeo(
    [
      '--registries.d',
      registriesD,
      '--registries-conf',
      ws.output,
      'copy',
      '--retry-times',
      '0',
      '--policy',
      policy,
      `docker://${SOURCE}@${img.manifestDigest}`,
      `dir:${dest}`,
    ],
    { timeoutMs: 60_000 },
  );
  t.equal(copy.code, 0, 'skopeo copies through the endpoint', { stderr: copy.stderr.slice(-600) });
  t.same(copy.tried, [`${endpoint}@${img.manifestDigest}`], 'served by the endpoint');
  t.ok(existsSync(join(dest, 'signature-1')), 'with its signature, as straight from the mirror');

  // The operator takes the setting back: ours goes at the next rescan (nothing else changed).
  rmSync(theirs);
  await d.waitFor(() => !existsSync(ours), 'our drop-in removed', 30_000);
  t.notOk(
    (await d.status()).degraded.some((x) => x.includes('registries.d')),
    'not degraded',
  );

  // Back, then `restore` (an uninstall) takes ours away and leaves theirs.
  writeFileSync(theirs, `docker:\n  ${mirror.host}:\n    use-sigstore-attachments: true\n`);
  writeFileSync(join(ws.policy, '30-another.toml'), fragment('another.invalid/x', [`${mirror.host}/x`]));
  await d.waitFor(() => existsSync(ours), 'our drop-in written again');
  t.equal(await d.stop(), 0);
  const restore = await runCli(['restore', '--state-dir', ws.state, '--output', ws.output]);
  t.equal(restore.code, 0, 'restore', { stderr: restore.stderr });
  t.notOk(existsSync(ours), 'ours removed');
  t.ok(existsSync(theirs), 'theirs kept');
});

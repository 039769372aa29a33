/**
 * A namespace the policy rewrites to another registry, pulled by ctr through the daemon's local
 * mirror: containers/image never asks the registry the name says for it, so containerd must not
 * either. The internal registry lacks the tag, the public one has an image of that name (a
 * dependency-confusion setup): containerd's fallback after the endpoint's 404 (hosts.toml's
 * `server`, the registry's own mirrors) must not reach it. Debian's containerd 1.6 and real
 * docker-registry processes on 127.0.0.1; skipped, saying why, when not root or containerd is
 * not installed.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerdSkip as skip, run, startContainerd } from '../../helpers/containerd.js';
import { pollUntil, runArgs, startDaemon, workspace } from '../../helpers/daemon.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { freePort, registryFor } from '../../helpers/registry.js';

t.test('a tag the rewritten namespace lacks is not fetched from the registry its name says (nor its mirror)', { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-containerd-closed-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const publicReg = await registryFor(t); // the registry the name says: it has a look-alike image
  const publicMirror = await registryFor(t); // the registry-level mirror of it (digest pulls only): it has one too
  const internal = await registryFor(t); // where the policy sends the namespace: it lacks the tag

  const lookAlike = await buildImage(join(work, 'public'), { content: 'not ours', tag: 'v1' });
  await pushImage(lookAlike, `${publicReg.host}/acme/app:v1`);
  await pushImage(lookAlike, `${publicMirror.host}/acme/app:v1`);
  const ours = await buildImage(join(work, 'ours'), { content: 'ours', tag: 'v0' });
  await pushImage(ours, `${internal.host}/acme/app:v0`);

  const ws = workspace(t);
  const hostsDir = join(work, 'certs.d');
  const insecure = [publicReg.host, publicMirror.host, internal.host].map((h) => JSON.stringify(h)).join(', ');
  writeFileSync(
    join(ws.policy, '10-policy.toml'),
    [
      `insecure-registries = [${insecure}]`,
      '',
      '[[mirror-set]]',
      `source = "${publicReg.host}"`,
      `mirrors = ["${publicMirror.host}"]`, // digest-only: containers/image asks it for no tag
      '',
      '[[registry]]',
      `prefix = "${publicReg.host}/acme"`,
      `location = "${internal.host}/acme"`,
      '',
    ].join('\n'),
  );
  const config = join(ws.dir, 'config.toml');
  const address = `127.0.0.1:${await freePort()}`;
  writeFileSync(config, `local-mirror = ${JSON.stringify(address)}\ncontainerd-hosts-dir = ${JSON.stringify(hostsDir)}\n`);
  const d = await startDaemon(t, ws, { argv: runArgs(ws, 50, config) });
  const hostsToml = join(hostsDir, publicReg.host, 'hosts.toml');
  await pollUntil(
    () => {
      try {
        return readFileSync(hostsToml, 'utf8').includes(address);
      } catch {
        return false;
      }
    },
    'the hosts.toml through the local mirror',
    20_000,
  );

  const socket = await startContainerd(t, join(work, 'containerd'));
  const fetch = (ref: string) =>
    run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, ref], { timeout: 120_000 }).then(
      () => 'pulled',
      (e: Error) => e.message,
    );
  t.equal(await fetch(`${publicReg.host}/acme/app:v0`), 'pulled', 'a tag the internal registry has: pulled through the endpoint');
  await Promise.all([publicReg.clearLog(), publicMirror.clearLog()]);
  t.not(await fetch(`${publicReg.host}/acme/app:v1`), 'pulled', 'a tag it lacks: not found, as containers/image would say');
  t.same(await publicReg.requests(), [], 'the registry the name says was never asked');
  t.same(await publicMirror.requests(), [], 'nor its mirror');

  t.equal(await d.stop(), 0);
  t.not(await fetch(`${publicReg.host}/acme/app:v1`), 'pulled', 'the daemon stopped: still not fetched from elsewhere');
  t.same(await publicReg.requests(), [], 'the registry the name says was never asked, the endpoint down either');
  t.same(await publicMirror.requests(), [], 'nor its mirror');
});

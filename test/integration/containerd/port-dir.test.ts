/**
 * A registry with a port and containerd's other directory name for it: for `HOST:PORT`
 * containerd (1.6 to 2.x, `hostPaths`) looks in `HOST_PORT_/` first and takes the first
 * directory that exists, hosts.toml or not. Checked with the real containerd 1.6 and `ctr`
 * against a real docker-registry: while `HOST_PORT_/` exists our `HOST:PORT/hosts.toml` is never
 * read, so render says so (a conflict, exit 1) instead of reporting it written.
 * Skipped, saying why, when not root or containerd is not installed.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerdSkip as skip, renderWithHostsDir, run, startContainerd } from '../../helpers/containerd.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';

const SOURCE = 'source.invalid:5000';
const PORT_DIR = 'source.invalid_5000_';

t.test('HOST_PORT_/ shadows HOST:PORT/: render reports it, and containerd indeed reads only the former', { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-containerd-port-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const mirror = await registryFor(t);
  const img = await buildImage(join(work, 'img'), { content: 'a registry with a port', tag: 'v1' });
  await pushImage(img, `${mirror.host}/app:v1`);
  const D = img.manifestDigest;
  const policy = join(work, 'policy.d');
  mkdirSync(policy);
  writeFileSync(
    join(policy, '10-source.toml'),
    [`insecure-registries = ["${mirror.host}"]`, '', '[[mirror-set]]', `source = "${SOURCE}"`, `mirrors = ["${mirror.host}"]`, ''].join('\n'),
  );
  const hostsDir = join(work, 'certs.d');
  mkdirSync(join(hostsDir, PORT_DIR), { recursive: true }); // someone's, even empty (say, for a CA later)

  const shadowed = await renderWithHostsDir(policy, join(work, 'registries.conf'), hostsDir);
  t.equal(shadowed.code, 1, 'a conflict');
  t.match(shadowed.stderr, `${join(hostsDir, PORT_DIR)}`, 'naming the directory containerd reads instead');
  t.notOk(existsSync(join(hostsDir, SOURCE, 'hosts.toml')), 'no hosts.toml written that containerd would never read');

  const socket = await startContainerd(t, join(work, 'containerd'));
  const fetch = (ref: string) =>
    run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, ref], { timeout: 120_000 }).then(
      () => 'pulled',
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );
  // The control, with ours put there by hand: containerd still goes to the registry itself (no such host).
  mkdirSync(join(hostsDir, SOURCE));
  writeFileSync(join(hostsDir, SOURCE, 'hosts.toml'), `server = "https://${SOURCE}"\n[host."http://${mirror.host}"]\n`);
  t.match(await fetch(`${SOURCE}/app@${D}`), /source\.invalid/, `containerd read ${PORT_DIR}/, not ${SOURCE}/hosts.toml`);
  rmSync(join(hostsDir, SOURCE), { recursive: true });

  rmSync(join(hostsDir, PORT_DIR), { recursive: true });
  const clear = await renderWithHostsDir(policy, join(work, 'registries.conf'), hostsDir);
  t.equal(clear.code, 0, clear.stderr);
  await mirror.clearLog();
  t.equal(await fetch(`${SOURCE}/app@${D}`), 'pulled', 'the other name gone: our hosts.toml is read');
  t.ok(
    (await mirror.requests()).some((r) => r.kind === 'manifests' && r.reference === D),
    'through the mirror',
  );
});

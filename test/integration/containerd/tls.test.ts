/**
 * The certificates a hosts.toml names, with the real containerd 1.6 and `ctr`: a mirror served
 * over https with a self-signed certificate whose CA sits, Docker-style, in the hosts
 * directory (`<dir>/127.0.0.1:PORT/ca.crt`). containerd reads such files only for a host
 * without a hosts.toml and never for a mirror entry of another registry, so the pull through
 * the mirror works because our hosts.toml names the CA (by its absolute path, even when the
 * hosts dir is given relative) — and fails, as the control, without it.
 */
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { containerdSkip as skip, renderWithHostsDir, run, startContainerd } from '../../helpers/containerd.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { freePort, makeSelfSignedCert, registryFor } from '../../helpers/registry.js';
import { issue, makeCa } from '../../helpers/test-ca.js';

const SOURCE = 'source.invalid';

t.test('a mirror with its own CA: ctr pulls through it because hosts.toml names the CA', { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-containerd-tls-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const cert = await makeSelfSignedCert(join(work, 'tls'));
  const mirror = await registryFor(t, { tls: { certFile: cert.certFile, keyFile: cert.keyFile } });
  const img = await buildImage(join(work, 'img'), { content: 'trusted through the hosts.toml', tag: 'v1' });
  await pushImage(img, `${mirror.host}/app:v1`, { certDir: cert.certDir });
  const D = img.manifestDigest;

  const hostsDir = join(work, 'certs.d');
  mkdirSync(join(hostsDir, mirror.host), { recursive: true });
  copyFileSync(cert.certFile, join(hostsDir, mirror.host, 'ca.crt'));
  const policy = join(work, 'policy.d');
  mkdirSync(policy);
  writeFileSync(join(policy, '10-source.toml'), `[[mirror-set]]\nsource = "${SOURCE}"\nmirrors = ["${mirror.host}"]\n`);
  // Given relative (as `render --containerd-hosts-dir certs.d` may be): the CA is still named by its absolute
  // path, since containerd reads a relative one from the host directory it found (makeAbsPath).
  const rendered = await renderWithHostsDir(policy, join(work, 'registries.conf'), relative(process.cwd(), hostsDir));
  t.equal(rendered.code, 0, rendered.stderr);
  const file = join(hostsDir, SOURCE, 'hosts.toml');
  const ours = readFileSync(file, 'utf8');
  t.match(ours, `[host."https://${mirror.host}"]\n  capabilities = ["pull"]\n  ca = [${JSON.stringify(join(hostsDir, mirror.host, 'ca.crt'))}]\n`);

  const socket = await startContainerd(t, join(work, 'containerd'));
  const fetch = (ref: string) => run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, ref], { timeout: 120_000 });

  // The control: the same file without the ca line; containerd does not trust the mirror.
  writeFileSync(file, ours.replace(/^ {2}ca = .*\n/m, ''));
  const refused = await fetch(`${SOURCE}/app@${D}`).then(
    () => undefined,
    (e: Error & { stderr?: string }) => e.stderr ?? e.message,
  );
  t.match(refused, /x509|certificate/, 'without the ca line the mirror is not trusted');

  writeFileSync(file, ours);
  await mirror.clearLog();
  await fetch(`${SOURCE}/app@${D}`);
  t.ok(
    (await mirror.requests()).some((r) => r.kind === 'manifests' && r.reference === D),
    'with it, the mirror served the manifest over https',
  );
});

t.test(
  "a client certificate with its key in the same .cert file, beside it in containerd's directory: named by our hosts.toml, which hides that directory from containerd",
  { skip },
  async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'mpd-containerd-tls-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const server = await makeSelfSignedCert(join(work, 'tls'));
    const clientCa = await makeCa(join(work, 'client-ca'));
    const client = await issue(clientCa, 'puller', 'client');
    const source = await registryFor(t, {
      tls: { certFile: server.certFile, keyFile: server.keyFile, clientCaFiles: [clientCa.certFile], probeClient: client },
    });
    const push = join(work, 'push-certs');
    mkdirSync(push);
    copyFileSync(server.certFile, join(push, 'ca.crt'));
    copyFileSync(client.certFile, join(push, 'puller.cert'));
    copyFileSync(client.keyFile, join(push, 'puller.key'));
    const img = await buildImage(join(work, 'img'), { content: 'a client certificate in one file', tag: 'v1' });
    await pushImage(img, `${source.host}/app:v1`, { certDir: push });
    const D = img.manifestDigest;

    // containerd's own Docker-style files: the CA, and the client certificate and key in one .cert (no .key).
    const hostsDir = join(work, 'certs.d');
    mkdirSync(join(hostsDir, source.host), { recursive: true });
    copyFileSync(server.certFile, join(hostsDir, source.host, 'ca.crt'));
    writeFileSync(join(hostsDir, source.host, 'puller.cert'), readFileSync(client.certFile, 'utf8') + readFileSync(client.keyFile, 'utf8'));
    const socket = await startContainerd(t, join(work, 'containerd'));
    const fetch = (ref: string) =>
      run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, ref], { timeout: 120_000 }).then(
        () => 'pulled',
        (e: Error & { stderr?: string }) => e.stderr ?? e.message,
      );

    // A policy with a mirror for the source (nothing listens there): our hosts.toml now hides the files beside it.
    const policy = join(work, 'policy.d');
    mkdirSync(policy);
    writeFileSync(join(policy, '10-source.toml'), `[[mirror-set]]\nsource = "${source.host}"\nmirrors = ["127.0.0.1:${await freePort()}"]\n`);
    const rendered = await renderWithHostsDir(policy, join(work, 'registries.conf'), hostsDir);
    t.equal(rendered.code, 0, rendered.stderr);
    const cert = join(hostsDir, source.host, 'puller.cert');
    t.match(readFileSync(join(hostsDir, source.host, 'hosts.toml'), 'utf8'), `client = [[${JSON.stringify(cert)}, ${JSON.stringify(cert)}]]`);
    t.equal(await fetch(`${source.host}/app@${D}`), 'pulled', 'presented: the mirror is down, the source serves');
    // The control (containerd's loopback default is plain http, so "before our hosts.toml" cannot be shown here): without the line, refused.
    await run('ctr', ['--address', socket, 'content', 'rm', D]);
    const file = join(hostsDir, source.host, 'hosts.toml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^client = .*\n/m, ''));
    t.not(await fetch(`${source.host}/app@${D}`), 'pulled', 'without the client line the registry refuses containerd');
  },
);

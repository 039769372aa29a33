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
import { runCli } from '../../helpers/cli.js';
import { containerdSkip as skip, forgetContent, renderWithHostsDir, run, startContainerd } from '../../helpers/containerd.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { makeSelfSignedCert, registryFor, type Teardownable } from '../../helpers/registry.js';
import { issue, makeCa } from '../../helpers/test-ca.js';

const SOURCE = 'source.invalid';

/** A registry on https (self-signed) that asks for a client certificate, with an image `app:v1` pushed to it. */
async function clientCertMirror(t: Teardownable, content: string) {
  const work = mkdtempSync(join(tmpdir(), 'mpd-containerd-tls-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const server = await makeSelfSignedCert(join(work, 'tls'));
  const clientCa = await makeCa(join(work, 'client-ca'));
  const client = await issue(clientCa, 'puller', 'client');
  const mirror = await registryFor(t, {
    tls: { certFile: server.certFile, keyFile: server.keyFile, clientCaFiles: [clientCa.certFile], probeClient: client },
  });
  const push = join(work, 'push-certs');
  mkdirSync(push);
  copyFileSync(server.certFile, join(push, 'ca.crt'));
  copyFileSync(client.certFile, join(push, 'puller.cert'));
  copyFileSync(client.keyFile, join(push, 'puller.key'));
  const img = await buildImage(join(work, 'img'), { content, tag: 'v1' });
  await pushImage(img, `${mirror.host}/app:v1`, { certDir: push });
  return { work, server, client, mirror, D: img.manifestDigest };
}

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
  "a client certificate with its key in the same .cert file, Docker-style in containerd's directory for a mirror: named by our hosts.toml",
  { skip },
  async (t) => {
    const { work, server, client, mirror, D } = await clientCertMirror(t, 'a client certificate in one file');

    // containerd's own Docker-style files for the mirror: the CA, and the client certificate and key in one .cert (no .key).
    const hostsDir = join(work, 'certs.d');
    const own = join(hostsDir, mirror.host);
    mkdirSync(own, { recursive: true });
    copyFileSync(server.certFile, join(own, 'ca.crt'));
    writeFileSync(join(own, 'puller.cert'), readFileSync(client.certFile, 'utf8') + readFileSync(client.keyFile, 'utf8'));
    const policy = join(work, 'policy.d');
    mkdirSync(policy);
    writeFileSync(join(policy, '10-source.toml'), `[[mirror-set]]\nsource = "${SOURCE}"\nmirrors = ["${mirror.host}"]\n`);
    const rendered = await renderWithHostsDir(policy, join(work, 'registries.conf'), hostsDir);
    t.equal(rendered.code, 0, rendered.stderr);
    const file = join(hostsDir, SOURCE, 'hosts.toml');
    const cert = join(own, 'puller.cert');
    t.match(readFileSync(file, 'utf8'), `  client = [[${JSON.stringify(cert)}, ${JSON.stringify(cert)}]]\n`, 'the key read from the same file');

    const socket = await startContainerd(t, join(work, 'containerd'));
    const fetch = (ref: string) =>
      run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, ref], { timeout: 120_000 }).then(
        () => 'pulled',
        (e: Error & { stderr?: string }) => e.stderr ?? e.message,
      );
    t.equal(await fetch(`${SOURCE}/app@${D}`), 'pulled', 'the mirror accepted the client certificate');
    // The control: without the client line the mirror refuses containerd (and source.invalid does not resolve).
    await forgetContent(socket, [D]);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^ {2}client = .*\n/m, ''));
    t.not(await fetch(`${SOURCE}/app@${D}`), 'pulled', 'without it, no pull');
  },
);

t.test('an insecure registry without mirrors: ctr reaches its self-signed https because our hosts.toml says skip_verify', { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-containerd-tls-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const cert = await makeSelfSignedCert(join(work, 'tls'));
  const registry = await registryFor(t, { tls: { certFile: cert.certFile, keyFile: cert.keyFile } });
  const img = await buildImage(join(work, 'img'), { content: 'insecure, no mirrors', tag: 'v1' });
  await pushImage(img, `${registry.host}/app:v1`, { certDir: cert.certDir });

  const hostsDir = join(work, 'certs.d');
  const policy = join(work, 'policy.d');
  mkdirSync(policy);
  writeFileSync(join(policy, '10-lab.toml'), `insecure-registries = ["${registry.host}"]\n`);
  const rendered = await renderWithHostsDir(policy, join(work, 'registries.conf'), hostsDir);
  t.equal(rendered.code, 0, rendered.stderr);
  const file = join(hostsDir, registry.host, 'hosts.toml');
  const ours = readFileSync(file, 'utf8');
  t.match(ours, `server = "http://${registry.host}"\n`, 'plain http last, as server');
  t.match(ours, `[host."https://${registry.host}"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = true\n`);
  const said = await runCli(['resolve', `${registry.host}/app:v1`, '--runtime', 'containerd', '--hosts-dir', hostsDir, '--json']);
  t.same(
    (JSON.parse(said.stdout) as { attempts: Array<{ url: string }> }).attempts.map((a) => a.url),
    [`https://${registry.host}/v2/app`, `http://${registry.host}/v2/app`],
    'unverified https first, then plain http: the order containers/image asks an insecure registry in',
  );

  const socket = await startContainerd(t, join(work, 'containerd'));
  const fetch = (ref: string) => run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, ref], { timeout: 120_000 });
  const failure = (e: Error & { stderr?: string }) => e.stderr ?? e.message;

  // The control: without our file containerd asks a loopback registry over plain http, which a TLS server refuses.
  rmSync(file);
  t.type(await fetch(`${registry.host}/app:v1`).then(() => undefined, failure), 'string', 'without the hosts.toml the pull fails');

  writeFileSync(file, ours);
  await registry.clearLog();
  await fetch(`${registry.host}/app:v1`);
  t.ok(
    (await registry.requests()).some((r) => r.kind === 'manifests' && r.reference === 'v1'),
    'with it, the registry served the manifest over unverified https',
  );
});

t.test('an insecure mirror that asks for a client certificate: skip_verify and the client, and ctr pulls through it', { skip }, async (t) => {
  const { work, client, mirror, D } = await clientCertMirror(t, 'insecure, with a client certificate');

  // The client certificate in containerd's directory for the mirror; no CA: the mirror is insecure.
  const hostsDir = join(work, 'certs.d');
  const own = join(hostsDir, mirror.host);
  mkdirSync(own, { recursive: true });
  copyFileSync(client.certFile, join(own, 'puller.cert'));
  copyFileSync(client.keyFile, join(own, 'puller.key'));
  const policy = join(work, 'policy.d');
  mkdirSync(policy);
  writeFileSync(
    join(policy, '10-source.toml'),
    `insecure-registries = ["${mirror.host}"]\n\n[[mirror-set]]\nsource = "${SOURCE}"\nmirrors = ["${mirror.host}"]\n`,
  );
  const rendered = await renderWithHostsDir(policy, join(work, 'registries.conf'), hostsDir);
  t.equal(rendered.code, 0, rendered.stderr);
  const text = readFileSync(join(hostsDir, SOURCE, 'hosts.toml'), 'utf8');
  t.match(text, `[host."https://${mirror.host}"]\n  capabilities = ["pull"]\n  skip_verify = true\n  client = [[`, 'skip_verify with the client');

  const socket = await startContainerd(t, join(work, 'containerd'));
  const fetched = await run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, `${SOURCE}/app@${D}`], { timeout: 120_000 }).then(
    () => 'pulled',
    (e: Error & { stderr?: string }) => e.stderr ?? e.message,
  );
  t.equal(fetched, 'pulled', 'the mirror accepted the client certificate over unverified https');
});

t.test(
  'an insecure registry without mirrors that asks for a client certificate: our hosts.toml names it (containerd reads the directory no more), and ctr pulls',
  { skip },
  async (t) => {
    const { work, client, mirror: registry, D } = await clientCertMirror(t, 'insecure, no mirrors, with a client certificate');
    const hostsDir = join(work, 'certs.d');
    const own = join(hostsDir, registry.host);
    mkdirSync(own, { recursive: true });
    copyFileSync(client.certFile, join(own, 'puller.cert'));
    copyFileSync(client.keyFile, join(own, 'puller.key'));
    const policy = join(work, 'policy.d');
    mkdirSync(policy);
    writeFileSync(join(policy, '10-lab.toml'), `insecure-registries = ["${registry.host}"]\n`);
    const rendered = await renderWithHostsDir(policy, join(work, 'registries.conf'), hostsDir);
    t.equal(rendered.code, 0, rendered.stderr);
    const text = readFileSync(join(own, 'hosts.toml'), 'utf8');
    t.match(
      text,
      `[host."https://${registry.host}"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = true\n  client = [[`,
      'skip_verify with the client',
    );

    const socket = await startContainerd(t, join(work, 'containerd'));
    const fetched = await run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, `${registry.host}/app@${D}`], {
      timeout: 120_000,
    }).then(
      () => 'pulled',
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );
    t.equal(fetched, 'pulled', 'the registry accepted the client certificate over unverified https');
  },
);

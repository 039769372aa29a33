/**
 * The certs.d directories `pull` reads when no --cert-dir is given, as containers/image reads
 * them: the user's own `$HOME/.config/containers/certs.d/HOST:PORT/` (where rootless podman keeps
 * a private registry's CA), and a CA misnamed `*.cert`, which containers/image refuses by name.
 * Each case pulls with our CLI and with skopeo from the same HOME, from a real docker-registry
 * whose self-signed certificate nothing else trusts.
 */
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { makeSelfSignedCert, registryFor } from '../../helpers/registry.js';
import { skopeo } from '../../helpers/skopeo.js';
import { runCli } from '../../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-cert-dirs-'));
const tls = await makeSelfSignedCert(join(work, 'tls'));
const reg = await registryFor(t, { tls });
const img = await buildImage(join(work, 'img'), { content: 'a private CA', tag: 'v1' });
await pushImage(img, `${reg.host}/app:v1`, { tlsVerify: true, certDir: tls.certDir });
const ref = `${reg.host}/app@${img.manifestDigest}`;
const conf = join(work, 'registries.conf');
writeFileSync(conf, '');

/** A HOME whose ~/.config/containers/certs.d/HOST:PORT/ holds the registry's certificate as `name`. */
function homeWithCa(name: string): NodeJS.ProcessEnv {
  const home = mkdtempSync(join(work, 'home-'));
  const dir = join(home, '.config', 'containers', 'certs.d', reg.host);
  mkdirSync(dir, { recursive: true });
  copyFileSync(tls.certFile, join(dir, name));
  return { HOME: home, XDG_RUNTIME_DIR: home };
}

function ours(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const dest = mkdtempSync(join(work, 'dest-'));
  const state = mkdtempSync(join(work, 'state-'));
  return runCli(['pull', ref, '--dest', dest, '--registries-conf', conf, '--state-dir', state, '--json'], { env: { ...process.env, ...env } });
}

function theirs(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return skopeo(['--registries-conf', conf, 'inspect', '--raw', '--retry-times', '0', `docker://${ref}`], { env });
}

t.test("the user's ~/.config/containers/certs.d/HOST:PORT/ca.crt is trusted, by us as by skopeo", async (t) => {
  const env = homeWithCa('ca.crt');
  const o = await ours(env);
  t.equal(o.code, 0, 'we pull', { stderr: o.stderr.slice(-400) });
  const s = await theirs(env);
  t.equal(s.code, 0, 'skopeo pulls', { stderr: s.stderr.slice(-400) });
  const without = await ours(homeWithCa('unrelated.txt'));
  t.not(without.code, 0, 'without it the certificate is not trusted');
});

t.test('a CA the system trusts ($SSL_CERT_FILE, where Go finds the system store) is trusted with no certs.d, by us as by skopeo', async (t) => {
  const home = mkdtempSync(join(work, 'home-'));
  const noDir = mkdtempSync(join(work, 'no-certs-'));
  const env = { HOME: home, XDG_RUNTIME_DIR: home, SSL_CERT_FILE: tls.certFile, SSL_CERT_DIR: noDir };
  const o = await ours(env);
  t.equal(o.code, 0, 'we pull', { stderr: o.stderr.slice(-400) });
  const s = await theirs(env);
  t.equal(s.code, 0, 'skopeo pulls', { stderr: s.stderr.slice(-400) });
  const without = await ours({ ...env, SSL_CERT_FILE: noDir + '/none.pem' });
  t.not(without.code, 0, 'a system store without it: not trusted');
});

t.test('a CA named ca.cert is refused by name, not a TLS failure with no word of why, as skopeo refuses it', async (t) => {
  const env = homeWithCa('ca.cert');
  const o = await ours(env);
  t.not(o.code, 0);
  t.match(o.stderr, /certs\.d\/127\.0\.0\.1:\d+: missing key ca\.key for client certificate ca\.cert \(a CA certificate is named \*\.crt\)/);
  const s = await theirs(env);
  t.not(s.code, 0);
  t.match(s.stderr, /missing key ca\.key for client certificate ca\.cert/, 'skopeo says the same');
});

/**
 * The auth files `pull` reads when no --authfile is given, read as containers/image reads them:
 * each case pulls with our CLI and with skopeo from the same environment (HOME, XDG_*), against a
 * real docker-registry that wants Basic credentials (htpasswd, TLS). A wrong password sits where
 * a reader that looked in the wrong place would find it, so each case fails if we read otherwise.
 */
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { makeHtpasswd, makeSelfSignedCert, registryFor } from '../../helpers/registry.js';
import { skopeo } from '../../helpers/skopeo.js';
import { runCli } from '../../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-auth-files-'));
const secret = 'basic-secret-41c7';
const tls = await makeSelfSignedCert(join(work, 'tls'));
const reg = await registryFor(t, { tls, htpasswdFile: await makeHtpasswd(join(work, 'htpasswd'), 'puller', secret) });
const img = await buildImage(join(work, 'img'), { content: 'behind basic auth', tag: 'v1' });
await pushImage(img, `${reg.host}/secure/app:v1`, { tlsVerify: true, certDir: tls.certDir, creds: `puller:${secret}` });
const ref = `${reg.host}/secure/app@${img.manifestDigest}`;
const conf = join(work, 'registries.conf');
writeFileSync(conf, '');

const auth = (user: string, password: string): string => Buffer.from(`${user}:${password}`).toString('base64');
const good = auth('puller', secret);
const wrong = auth('puller', 'wrong-password');

/** A fresh HOME with these files (path under HOME → JSON), and an empty XDG_RUNTIME_DIR. */
function home(files: Record<string, unknown>): { HOME: string; XDG_RUNTIME_DIR: string } {
  const dir = mkdtempSync(join(work, 'home-'));
  for (const [path, json] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), JSON.stringify(json));
  }
  const runtime = join(dir, 'run');
  mkdirSync(runtime);
  return { HOME: dir, XDG_RUNTIME_DIR: runtime };
}

async function ours(env: NodeJS.ProcessEnv, extra: string[] = []): Promise<{ code: number | null; stderr: string }> {
  const clean = { ...process.env, ...env };
  for (const k of ['REGISTRY_AUTH_FILE', 'DOCKER_CONFIG', ...(env.XDG_CONFIG_HOME ? [] : ['XDG_CONFIG_HOME'])]) delete clean[k];
  const dest = mkdtempSync(join(work, 'dest-'));
  const state = mkdtempSync(join(work, 'state-'));
  const args = ['pull', ref, '--dest', dest, '--registries-conf', conf, '--cert-dir', tls.certDir, '--state-dir', state, '--json', ...extra];
  return runCli(args, { env: clean });
}

async function theirs(env: NodeJS.ProcessEnv, extra: string[] = []): Promise<{ code: number | null; stderr: string }> {
  return skopeo(['--registries-conf', conf, 'inspect', '--raw', '--retry-times', '0', '--cert-dir', tls.certDir, ...extra, `docker://${ref}`], { env });
}

async function bothPull(t: Test, env: NodeJS.ProcessEnv, extra: string[] = []): Promise<void> {
  const o = await ours(env, extra);
  t.equal(o.code, 0, 'we pull', { stderr: o.stderr.slice(-400) });
  const s = await theirs(env, extra);
  t.equal(s.code, 0, 'skopeo pulls', { stderr: s.stderr.slice(-400) });
  t.notMatch(o.stderr, secret, 'the password is never printed');
}

t.test("Docker's legacy ~/.dockercfg (a bare map, keyed by URL) is read last", async (t) => {
  await bothPull(t, home({ '.dockercfg': { [`https://${reg.host}`]: { auth: good, email: 'puller@example.com' } } }));
  const none = await ours(home({}));
  t.not(none.code, 0, 'without it: refused (the registry wants credentials)');
  t.match(none.stderr, /401/);
});

t.test('$XDG_CONFIG_HOME/containers/auth.json replaces ~/.config/containers/auth.json; NULs around a password are trimmed', async (t) => {
  const env = home({ '.config/containers/auth.json': { auths: { [reg.host]: { auth: wrong } } } });
  const xdg = join(env.HOME, 'xdg-config');
  mkdirSync(join(xdg, 'containers'), { recursive: true });
  writeFileSync(join(xdg, 'containers', 'auth.json'), JSON.stringify({ auths: { [reg.host]: { auth: auth('puller', `${secret}\0\0`) } } }));
  await bothPull(t, { ...env, XDG_CONFIG_HOME: xdg });
});

t.test('the most specific key present answers for its file even when empty (Docker leaves `{}` beside a credsStore): the next file is read', async (t) => {
  const env = home({
    '.docker/config.json': { auths: { [`${reg.host}/secure`]: {}, [reg.host]: { auth: wrong } } },
    '.dockercfg': { [reg.host]: { auth: good } },
  });
  await bothPull(t, env);
});

t.test('a Basic challenge gets the user and password kept beside an identity token', async (t) => {
  const file = join(work, 'identity-basic.json');
  writeFileSync(file, JSON.stringify({ auths: { [reg.host]: { auth: good, identitytoken: 'refresh-token-unused' } } }));
  await bothPull(t, home({}), ['--authfile', file]);
});

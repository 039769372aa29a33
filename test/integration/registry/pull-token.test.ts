/**
 * Bearer tokens (the Docker registry token protocol) against a real docker-registry with
 * `auth: token`, and a test token service whose ES256 JWTs the registry verifies against
 * its rootcertbundle: anonymous tokens, tokens for credentials from an auth.json, and a
 * wrong password that fails clearly without marking the registry down.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createLogger } from '../../../src/core/log.js';
import { pullImage, PullError, hostPlatform, type PullSource } from '../../../src/registry/pull.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { makeSelfSignedCert, registryFor, type Teardownable } from '../../helpers/registry.js';
import { startTokenServer } from '../../helpers/token-server.js';
import { skopeo } from '../../helpers/skopeo.js';
import { runCli } from '../../helpers/cli.js';
import { orAfter } from '../../helpers/or-after.js';

const log = createLogger({ level: 'silent' });
const work = mkdtempSync(join(tmpdir(), 'mpd-token-'));
const secret = 'token-secret-5e1b';
const service = 'mirror-policyd-test-registry';
const tls = await makeSelfSignedCert(join(work, 'tls'));
const img = await buildImage(join(work, 'img'), { content: 'behind a token service', tag: 'v1' });
const D = img.manifestDigest;
const emptyAuth = join(work, 'empty-auth.json');
writeFileSync(emptyAuth, JSON.stringify({ auths: {} }));
const dest = (): string => mkdtempSync(join(work, 'dest-'));

/** A TLS registry behind a token service (https, same certificate), with the image pushed as `puller`. */
async function tokenRegistry(t: Teardownable, anonymousPull: boolean, refreshTokens?: Record<string, string>, trickleMs?: number) {
  const tokens = await startTokenServer(mkdtempSync(join(work, 'ts-')), {
    users: { puller: secret },
    anonymousPull,
    tls,
    ...(refreshTokens ? { refreshTokens } : {}),
  });
  t.teardown(() => tokens.close());
  const reg = await registryFor(t, { tls, tokenAuth: { realm: tokens.realm, service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle } });
  await pushImage(img, `${reg.host}/team/app:v1`, { tlsVerify: true, certDir: tls.certDir, creds: `puller:${secret}` });
  tokens.requests.length = 0;
  await reg.clearLog();
  if (trickleMs !== undefined) tokens.trickleMs = trickleMs; // from now on: the push above needed its tokens at once
  const source: PullSource = { reference: `${reg.host}/team/app@${D}`, endpoint: { host: reg.host, insecure: false }, role: 'primary', blocked: false };
  return { tokens, reg, source };
}

function authFile(name: string, host: string, password: string): string {
  const f = join(work, name);
  writeFileSync(f, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`puller:${password}`).toString('base64') } } }));
  return f;
}

t.test("anonymous: a pull token is asked for with the registry's service and the repository's pull scope", async (t) => {
  const { tokens, reg, source } = await tokenRegistry(t, true);
  const r = await pullImage([source], { dest: dest(), platform: hostPlatform(), health: {}, log, certDir: tls.certDir, authFile: emptyAuth });
  t.equal(r.digest, D);
  t.same(tokens.requests, [{ service, scopes: ['repository:team/app:pull'], status: 200 }], 'one token, anonymous, for the whole pull');
  const served = (await reg.requests()).filter((q) => q.kind === 'manifests' || q.kind === 'blobs');
  t.same(
    served.map((q) => [q.kind, q.status]),
    [
      ['manifests', 401],
      ['manifests', 200],
      ['blobs', 200],
      ['blobs', 200],
    ],
    'challenged once, then the token was accepted for the manifest and both blobs',
  );
});

t.test('with credentials from an auth.json: the token service checks them, the registry accepts its token', async (t) => {
  const { tokens, source, reg } = await tokenRegistry(t, false);
  const r = await pullImage([source], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    certDir: tls.certDir,
    authFile: authFile('good.json', reg.host, secret),
  });
  t.equal(r.digest, D);
  t.same(tokens.requests, [{ service, scopes: ['repository:team/app:pull'], user: 'puller', status: 200 }]);
});

t.test('no credentials where the token service wants some: refused clearly, not unhealthy', async (t) => {
  const { source } = await tokenRegistry(t, false);
  const err = await pullImage([source], { dest: dest(), platform: hostPlatform(), health: {}, log, certDir: tls.certDir, authFile: emptyAuth }).catch(
    (e: unknown) => e,
  );
  t.ok(err instanceof PullError);
  t.match(
    (err as PullError).attempts[0]?.error,
    /token service https:\/\/127\.0\.0\.1:\d+ refused anonymous access for repository:team\/app:pull \(HTTP 401\)/,
  );
  t.same((err as PullError).health, {});
});

t.test('a wrong password fails with a clear error, is not marked unhealthy, and is never shown', async (t) => {
  const { tokens, source, reg } = await tokenRegistry(t, false);
  const wrong = 'wrong-password-77aa';
  const lines: string[] = [];
  const spy = pino({ level: 'trace' }, { write: (s: string) => void lines.push(s) });
  const err = await pullImage([source], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log: spy,
    certDir: tls.certDir,
    authFile: authFile('bad.json', reg.host, wrong),
  }).catch((e: unknown) => e);
  t.ok(err instanceof PullError);
  t.match(
    (err as PullError).attempts[0]?.error,
    /token service https:\/\/127\.0\.0\.1:\d+ refused the credentials of puller for repository:team\/app:pull \(HTTP 401\)/,
  );
  t.same((err as PullError).health, {}, "a credentials problem says nothing about the registry's health");
  t.same(
    tokens.requests.map((q) => [q.user, q.status]),
    [['puller', 401]],
  );
  const everything = JSON.stringify([(err as PullError).message, (err as PullError).attempts]) + lines.join('');
  t.notMatch(everything, wrong, 'the password appears nowhere');
  t.notMatch(everything, Buffer.from(`puller:${wrong}`).toString('base64'), 'nor its base64');
});

t.test("a credential helper the auth file names for the host answers before the file's auths entry, for us as for skopeo", async (t) => {
  const { tokens, source, reg } = await tokenRegistry(t, false);
  const bin = mkdtempSync(join(work, 'helpers-'));
  // A real docker-credential-NAME program: the host on stdin; the right password only for this registry.
  writeFileSync(
    join(bin, 'docker-credential-mpdtest'),
    `#!/bin/sh\nread -r host\n[ "$host" = "${reg.host}" ] || { echo 'credentials not found in native keychain'; exit 1; }\necho '{"Username":"puller","Secret":"${secret}"}'\n`,
    { mode: 0o755 },
  );
  const file = join(work, 'helper-first.json');
  const wrong = Buffer.from('puller:wrong-in-auths').toString('base64');
  writeFileSync(file, JSON.stringify({ auths: { [reg.host]: { auth: wrong } }, credHelpers: { [reg.host]: 'mpdtest' } }));
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path ?? ''}`;
  t.teardown(() => void (process.env.PATH = path));

  const r = await pullImage([source], { dest: dest(), platform: hostPlatform(), health: {}, log, certDir: tls.certDir, authFile: file });
  t.equal(r.digest, D);
  t.same(
    tokens.requests,
    [{ service, scopes: ['repository:team/app:pull'], user: 'puller', status: 200 }],
    "the helper's password, the auths entry never tried",
  );

  const conf = join(work, 'no-mirrors.conf');
  writeFileSync(conf, '');
  tokens.requests.length = 0;
  const theirs = await skopeo(
    ['--registries-conf', conf, 'inspect', '--raw', '--retry-times', '0', '--authfile', file, '--cert-dir', tls.certDir, `docker://${source.reference}`],
    {
      env: { PATH: process.env.PATH },
    },
  );
  t.equal(theirs.code, 0, `skopeo pulls with the helper's credentials too: ${theirs.stderr.slice(-300)}`);
  t.same(
    tokens.requests.map((q) => [q.user, q.status]),
    [['puller', 200]],
    'skopeo asked the helper first as well',
  );
});

t.test("registries.conf's credential-helpers: `pull` asks the program it names, as skopeo does, with no auth file at all", async (t) => {
  const { tokens, source } = await tokenRegistry(t, false);
  const bin = mkdtempSync(join(work, 'helpers-'));
  writeFileSync(join(bin, 'docker-credential-confhelper'), `#!/bin/sh\nread -r host\necho '{"Username":"puller","Secret":"${secret}"}'\n`, { mode: 0o755 });
  const conf = join(work, 'helpers.conf');
  writeFileSync(conf, 'credential-helpers = ["confhelper"]\n');
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
  const ours = await runCli(
    [
      'pull',
      source.reference,
      '--dest',
      dest(),
      '--registries-conf',
      conf,
      '--authfile',
      emptyAuth,
      '--cert-dir',
      tls.certDir,
      '--state-dir',
      mkdtempSync(join(work, 'state-')),
      '--json',
    ],
    { env },
  );
  t.equal(ours.code, 0, ours.stderr);
  t.same(
    tokens.requests.map((q) => [q.user, q.status]),
    [['puller', 200]],
    "the helper's credentials",
  );
  tokens.requests.length = 0;
  const theirs = await skopeo(
    ['--registries-conf', conf, 'inspect', '--raw', '--retry-times', '0', '--authfile', emptyAuth, '--cert-dir', tls.certDir, `docker://${source.reference}`],
    {
      env: { PATH: env.PATH },
    },
  );
  t.equal(theirs.code, 0, `skopeo too: ${theirs.stderr.slice(-300)}`);
  t.same(
    tokens.requests.map((q) => [q.user, q.status]),
    [['puller', 200]],
  );
});

t.test('an identity token (auth file `identitytoken`, as `az acr login` writes it) is traded by an OAuth2 POST, for us as for skopeo', async (t) => {
  const refresh = 'refresh-token-9f3c';
  const { tokens, source, reg } = await tokenRegistry(t, false, { [refresh]: 'puller' });
  const file = join(work, 'identity.json');
  // Docker keeps the user with an empty password in `auth` beside the token.
  writeFileSync(
    file,
    JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('00000000-0000-0000-0000-000000000000:').toString('base64'), identitytoken: refresh } } }),
  );
  const lines: string[] = [];
  const spy = pino({ level: 'trace' }, { write: (s: string) => void lines.push(s) });
  const r = await pullImage([source], { dest: dest(), platform: hostPlatform(), health: {}, log: spy, certDir: tls.certDir, authFile: file });
  t.equal(r.digest, D);
  t.same(tokens.requests, [{ service, scopes: ['repository:team/app:pull'], user: 'puller', grant: 'refresh_token', status: 200 }], 'one refresh-token grant');
  t.notMatch(lines.join(''), refresh, 'the token appears in no log line');

  const conf = join(work, 'no-mirrors-identity.conf');
  writeFileSync(conf, '');
  tokens.requests.length = 0;
  const theirs = await skopeo([
    '--registries-conf',
    conf,
    'inspect',
    '--raw',
    '--retry-times',
    '0',
    '--authfile',
    file,
    '--cert-dir',
    tls.certDir,
    `docker://${source.reference}`,
  ]);
  t.equal(theirs.code, 0, `skopeo: ${theirs.stderr.slice(-300)}`);
  t.same(
    tokens.requests.map((q) => [q.user, q.grant, q.status]),
    [['puller', 'refresh_token', 200]],
    'skopeo posts the same grant',
  );

  // A token the service does not know: refused, named without the token, not unhealthy.
  writeFileSync(file, JSON.stringify({ auths: { [reg.host]: { identitytoken: 'unknown-token-77' } } }));
  const err = await pullImage([source], { dest: dest(), platform: hostPlatform(), health: {}, log, certDir: tls.certDir, authFile: file }).catch(
    (e: unknown) => e,
  );
  t.ok(err instanceof PullError);
  t.match(
    (err as PullError).attempts[0]?.error,
    /token service https:\/\/127\.0\.0\.1:\d+ refused the identity token for repository:team\/app:pull \(HTTP 401\)/,
  );
  t.notMatch((err as PullError).attempts[0]?.error, /unknown-token-77/);
  t.same((err as PullError).health, {});
});

/** A TLS registry whose token realm is plain http (a misconfiguration, or a downgrade). */
async function httpRealmRegistry(t: Teardownable) {
  const tokens = await startTokenServer(mkdtempSync(join(work, 'ts-')), { users: { puller: secret }, anonymousPull: true });
  t.teardown(() => tokens.close());
  if (!tokens.realm.startsWith('http://')) throw new Error(`the token service should be plain http: ${tokens.realm}`);
  const reg = await registryFor(t, { tls, tokenAuth: { realm: tokens.realm, service, issuer: tokens.issuer, rootCertBundle: tokens.rootCertBundle } });
  await pushImage(img, `${reg.host}/team/app:v1`, { tlsVerify: true, certDir: tls.certDir, creds: `puller:${secret}` });
  tokens.requests.length = 0;
  const source: PullSource = { reference: `${reg.host}/team/app@${D}`, endpoint: { host: reg.host, insecure: false }, role: 'primary', blocked: false };
  return { tokens, reg, source };
}

t.test('an https registry naming a plain-http token realm never gets credentials sent there: a clear error, not unhealthy', async (t) => {
  const { tokens, reg, source } = await httpRealmRegistry(t);
  const err = await pullImage([source], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    certDir: tls.certDir,
    authFile: authFile('http-realm.json', reg.host, secret),
  }).catch((e: unknown) => e);
  t.ok(err instanceof PullError);
  t.match(
    (err as PullError).attempts[0]?.error,
    /refusing to send the credentials of puller to the token service http:\/\/127\.0\.0\.1:\d+ over plain http \(the registry itself is https; its token realm must be too\)/,
  );
  t.same(tokens.requests, [], 'the http token service was never asked');
  t.same((err as PullError).health, {}, "a policy refusal says nothing about the registry's health");
  t.notMatch(JSON.stringify((err as PullError).attempts), secret);
});

t.test('without credentials, an anonymous token may still come from a plain-http realm (no secret travels)', async (t) => {
  const { tokens, source } = await httpRealmRegistry(t);
  const r = await pullImage([source], { dest: dest(), platform: hostPlatform(), health: {}, log, certDir: tls.certDir, authFile: emptyAuth });
  t.equal(r.digest, D);
  t.same(tokens.requests, [{ service, scopes: ['repository:team/app:pull'], status: 200 }], 'one anonymous request');
});

t.test('a token service that trickles its answer (a byte at a time, never idle long) is cut at the body deadline, not waited on for minutes', async (t) => {
  const { source } = await tokenRegistry(t, true, undefined, 300); // ~700 bytes: ~3.5 minutes at this pace
  const bodyIdleMs = 2000;
  const pulled = pullImage([source], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    certDir: tls.certDir,
    authFile: emptyAuth,
    timeouts: { connectMs: 5000, headersMs: 5000, bodyIdleMs },
  });
  const err = await orAfter(
    pulled.catch((e: unknown) => e),
    60_000,
    'still waiting after 60 s',
  );
  t.ok(err instanceof PullError, `the pull failed: ${String(err)}`);
  t.match((err as PullError).attempts[0]?.error, /the token response not complete after 2 s in all \(a trickling source\)/);
});

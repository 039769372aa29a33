import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authFilePaths, findCredentials, lookupInFile, normaliseAuthKey } from '../../src/registry/auth-file.js';
import { nameAndParents } from '../../src/reference/scope.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

t.test('lookup order of containers-auth.json(5)', async (t) => {
  const paths = (env: NodeJS.ProcessEnv, explicit?: string): string[] => authFilePaths(env, explicit).map((f) => f.path);
  t.same(authFilePaths({ HOME: '/h', XDG_RUNTIME_DIR: '/run/user/1' }), [
    { path: '/run/user/1/containers/auth.json', legacy: false },
    { path: '/h/.config/containers/auth.json', legacy: false },
    { path: '/h/.docker/config.json', legacy: false },
    { path: '/h/.dockercfg', legacy: true },
  ]);
  t.same(
    paths({ HOME: '/h', XDG_RUNTIME_DIR: '/run/user/1', DOCKER_CONFIG: '/etc/docker-ci' }).at(-2),
    '/etc/docker-ci/config.json',
    "$DOCKER_CONFIG: Docker's directory",
  );
  t.same(paths({ HOME: '/h', XDG_CONFIG_HOME: '/cfg' })[1], '/cfg/containers/auth.json', '$XDG_CONFIG_HOME replaces ~/.config');
  t.ok(
    paths({ HOME: '', XDG_RUNTIME_DIR: '/run/user/1' }).every((p) => p.startsWith('/')),
    'an empty $HOME is unset: no auth file is looked for in the working directory',
  );
  t.same(paths({ HOME: '/h', REGISTRY_AUTH_FILE: '/x.json' }), ['/x.json']);
  t.same(paths({ HOME: '/h', REGISTRY_AUTH_FILE: '/x.json' }, '/explicit.json'), ['/explicit.json']);
});

t.test('the most specific key present wins; a key given as a URL names its host', async (t) => {
  t.same(nameAndParents('quay.io/a/b/c'), ['quay.io/a/b/c', 'quay.io/a/b', 'quay.io/a', 'quay.io']);
  t.equal(normaliseAuthKey('https://index.docker.io/v1/'), 'index.docker.io');
  t.equal(normaliseAuthKey('registry-1.docker.io'), 'index.docker.io');
  t.equal(normaliseAuthKey('https://registry.example.com/v2/'), 'registry.example.com');
  t.equal(normaliseAuthKey('quay.io/ns/'), 'quay.io/ns/', 'a key without a scheme is kept whole');
  t.equal(normaliseAuthKey('quay.io/ns', true), 'quay.io', 'a legacy key is cut to its host');
  const file = { auths: { 'quay.io': { auth: b64('host:pw1') }, 'quay.io/team': { auth: b64('team:pw:with:colons') } } };
  t.same(lookupInFile(file, 'quay.io/team/app'), { credentials: { username: 'team', password: 'pw:with:colons' } });
  t.same(lookupInFile(file, 'quay.io/other/app'), { credentials: { username: 'host', password: 'pw1' } });
  t.equal(lookupInFile(file, 'quay.io.evil/x'), undefined, 'a key matches whole path components only');
  t.same(lookupInFile({ credHelpers: { 'quay.io': 'pass' } }, 'quay.io/a'), { helper: 'pass' });
  t.same(lookupInFile({ auths: { 'acr.example': { auth: b64('00000000:'), identitytoken: 'r1' } } }, 'acr.example/a'), {
    credentials: { username: '00000000', password: '', identityToken: 'r1' },
  });
  t.same(lookupInFile({ auths: { 'acr.example': { identitytoken: 'r1' } } }, 'acr.example/a'), {
    credentials: { username: '', password: '', identityToken: 'r1' },
  });
  t.same(lookupInFile({ ...file, credHelpers: { 'quay.io': 'pass' } }, 'quay.io/team/app'), { helper: 'pass' }, "the host's helper before any auths key");
  t.same(lookupInFile({ ...file, credHelpers: { 'other.io': 'pass' } }, 'quay.io/team/app'), { credentials: { username: 'team', password: 'pw:with:colons' } });
  t.equal(
    lookupInFile({ auths: { 'quay.io/team': {}, 'quay.io': { auth: b64('host:pw1') } } }, 'quay.io/team/app'),
    undefined,
    'an empty entry for a more specific key (Docker writes them beside a credsStore) leaves the file with nothing, as in containers/image',
  );
  t.same(lookupInFile({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } }, 'docker.io/library/busybox'), {
    credentials: { username: 'hub', password: 'pw' },
  });
  t.same(lookupInFile({ auths: { 'http://quay.io/v1/': { auth: b64('url:pw') } } }, 'quay.io/a'), { credentials: { username: 'url', password: 'pw' } });
  t.same(lookupInFile({ auths: { 'quay.io': { auth: b64('u:pw\0\0') } } }, 'quay.io/a'), { credentials: { username: 'u', password: 'pw' } }, 'NULs trimmed');
  t.equal(lookupInFile({ auths: { 'quay.io': null as never } }, 'quay.io/a'), undefined, 'an entry that is not an object yields nothing');
  const legacy = { auths: { 'https://quay.io': { auth: b64('old:pw') }, 'quay.io/team': { auth: b64('ns:pw') } } };
  t.same(lookupInFile(legacy, 'quay.io/team/app', true), { credentials: { username: 'old', password: 'pw' } }, 'the legacy file is keyed by host only');
});

t.test('findCredentials reads the first file that has a match', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'mpd-auth-'));
  const home = join(d, 'home');
  const xdg = join(d, 'xdg');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(xdg, 'containers'), { recursive: true });
  mkdirSync(join(home, '.docker'), { recursive: true });
  writeFileSync(join(xdg, 'containers', 'auth.json'), JSON.stringify({ auths: { 'a.example': { auth: b64('xdg:1') } } }));
  writeFileSync(
    join(home, '.docker', 'config.json'),
    JSON.stringify({ auths: { 'a.example': { auth: b64('docker:2') }, 'b.example': { auth: b64('docker:3') } } }),
  );
  const env = { HOME: home, XDG_RUNTIME_DIR: xdg };
  t.same(await findCredentials('a.example/x', { env }), { username: 'xdg', password: '1' });
  t.same(await findCredentials('b.example/x', { env }), { username: 'docker', password: '3' });
  t.equal(await findCredentials('c.example/x', { env }), undefined);
  writeFileSync(join(home, '.dockercfg'), JSON.stringify({ 'https://c.example': { auth: b64('legacy:4'), email: 'x@example.com' } }));
  t.same(await findCredentials('c.example/x', { env }), { username: 'legacy', password: '4' }, "Docker's legacy ~/.dockercfg, last");
  t.same(await findCredentials('a.example/x', { env }), { username: 'xdg', password: '1' });
  await t.rejects(findCredentials('a.example/x', { env, authFile: join(d, 'missing.json') }), /cannot read auth file/);
  writeFileSync(
    join(xdg, 'containers', 'auth.json'),
    JSON.stringify({ auths: { 'a.example': { auth: b64(':') }, 'b.example': { username: '', password: '' } } }),
  );
  t.same(
    await findCredentials('a.example/x', { env }),
    { username: 'docker', password: '2' },
    'an `auth` of ":" says nothing: the next file, as containers/image goes on',
  );
  t.same(await findCredentials('b.example/x', { env }), { username: 'docker', password: '3' }, 'empty user and password alike');
});

t.test('an auth file that is there but broken is an error naming it (containers/image fails too), not skipped into a 401', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'mpd-auth-'));
  const { mkdirSync } = await import('node:fs');
  const home = join(d, 'home');
  mkdirSync(join(home, '.docker'), { recursive: true });
  const docker = join(home, '.docker', 'config.json');
  writeFileSync(docker, '{"auths": {"a.example": {"auth": "' + b64('u:s3cret-value') + '"}},}'); // a trailing comma
  const env = { HOME: home, XDG_RUNTIME_DIR: join(d, 'no-xdg') };
  const e = await findCredentials('a.example/x', { env }).then(
    () => undefined,
    (x: unknown) => x as Error,
  );
  t.ok(e instanceof Error, 'a default file that does not parse fails the look-up');
  t.match(e?.message, `auth file ${docker} is not valid JSON at line 1, column `);
  // V8's own message quotes the text around the error: a password written in the clear right there.
  writeFileSync(docker, '{"auths": {"a.example": {"username": "u", "password": s3cret-value}}}');
  const quoted = await findCredentials('a.example/x', { env }).then(
    () => '',
    (x: unknown) => (x as Error).message,
  );
  t.match(quoted, `auth file ${docker} is not valid JSON`);
  t.notMatch(quoted, /s3cret/, 'no part of the file in the message');
  // A default file that is a directory (it cannot be read): an error too; a missing one is skipped.
  writeFileSync(docker, JSON.stringify({ auths: { 'a.example': { auth: b64('u:p') } } }));
  mkdirSync(join(home, '.config', 'containers', 'auth.json'), { recursive: true });
  await t.rejects(findCredentials('a.example/x', { env }), /cannot read auth file .*auth\.json: EISDIR/);
  rmSync(join(home, '.config'), { recursive: true });
  t.same(await findCredentials('a.example/x', { env }), { username: 'u', password: 'p' }, 'missing default files are skipped');
});

/** A docker-credential-NAME program in its own PATH directory: a shell script answering as `body` says. */
function helperDir(programs: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-cred-helpers-'));
  for (const [name, body] of Object.entries(programs)) {
    writeFileSync(join(dir, `docker-credential-${name}`), `#!/bin/sh\n[ "$1" = get ] || exit 3\nread -r host\n${body}\n`, { mode: 0o755 });
  }
  return dir;
}

t.test('credential helpers: asked first in their file, "not found" passes on to the next file, a failure is an error', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'mpd-auth-'));
  const { mkdirSync } = await import('node:fs');
  const home = join(d, 'home');
  const xdg = join(d, 'xdg');
  mkdirSync(join(xdg, 'containers'), { recursive: true });
  mkdirSync(join(home, '.docker'), { recursive: true });
  const bin = helperDir({
    good: 'printf \'{"ServerURL":"%s","Username":"helper-user","Secret":"from-%s"}\' "$host" "$host"',
    none: "echo 'credentials not found in native keychain'; exit 1",
    empty: 'echo \'{"Username":"","Secret":""}\'',
    broken: "echo 'Secret: leaked-in-an-error'; exit 7",
    token: 'echo \'{"Username":"<token>","Secret":"leaked-token"}\'',
    garbage: "echo 'not json leaked-too'",
  });
  const env = { HOME: home, XDG_RUNTIME_DIR: xdg, PATH: `${bin}:/usr/bin:/bin` };
  const xdgFile = (helper: string): void =>
    writeFileSync(
      join(xdg, 'containers', 'auth.json'),
      JSON.stringify({ auths: { 'a.example': { auth: b64('xdg:in-auths') } }, credHelpers: { 'a.example': helper } }),
    );
  writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { 'a.example': { auth: b64('docker:2') } } }));

  xdgFile('good');
  t.same(
    await findCredentials('a.example/x', { env }),
    { username: 'helper-user', password: 'from-a.example' },
    "the helper, given the host, before the file's auths entry",
  );
  xdgFile('none');
  t.same(await findCredentials('a.example/x', { env }), { username: 'docker', password: '2' }, 'none for the host: the next file');
  xdgFile('empty');
  t.same(
    await findCredentials('a.example/x', { env }),
    { username: 'docker', password: '2' },
    'an empty answer is none, as containers/image takes it: the next file',
  );
  for (const [helper, why] of [
    ['broken', /^credential helper docker-credential-broken failed for a\.example: exit status 7$/],
    ['missing', /^credential helper docker-credential-missing \(credHelpers, for a\.example\) is not installed: not found in PATH$/],
    ['garbage', /answered a\.example with something other than JSON/],
    ['../../bin/sh', /a helper name has no "\/"/],
  ] as const) {
    xdgFile(helper);
    const e = await findCredentials('a.example/x', { env }).then(
      () => undefined,
      (x: unknown) => x as Error,
    );
    t.match(e?.message, why, `${helper}: an error, not anonymous access or the next file`);
    t.notMatch(e?.message, /leaked/, "never the helper's output");
  }
  xdgFile('token');
  t.same(await findCredentials('a.example/x', { env }), { username: '', password: '', identityToken: 'leaked-token' }, 'a "<token>" user: an identity token');
  t.same(await findCredentials('b.example/x', { env }), undefined, 'another host: neither helper nor key');
});

t.test('a helper that does not answer is given up after its deadline', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'mpd-auth-'));
  const file = join(d, 'auth.json');
  writeFileSync(file, JSON.stringify({ credHelpers: { 'a.example': 'slow' } }));
  const bin = helperDir({ slow: 'exec sleep 30' });
  await t.rejects(
    findCredentials('a.example/x', { authFile: file, env: { PATH: `${bin}:/usr/bin:/bin` }, helperTimeoutMs: 300 }),
    /docker-credential-slow failed for a\.example: no answer within 0\.3 s/,
  );
});

t.test("registries.conf's credential-helpers: each in turn, containers-auth.json the auth files; a failing one does not stop the others", async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'mpd-auth-'));
  const file = join(d, 'auth.json');
  writeFileSync(file, JSON.stringify({ auths: { 'a.example': { auth: b64('file:pw') } } }));
  const bin = helperDir({
    good: 'echo \'{"Username":"helper","Secret":"pw"}\'',
    none: "echo 'credentials not found in native keychain'; exit 1",
    empty: 'echo \'{"Username":"","Secret":""}\'',
    broken: 'exit 2',
  });
  const find = (credentialHelpers: readonly string[]): Promise<unknown> =>
    findCredentials('a.example/x', { authFile: file, env: { PATH: `${bin}:/usr/bin:/bin` }, credentialHelpers });
  t.same(await find(['good', 'containers-auth.json']), { username: 'helper', password: 'pw' }, 'a helper listed before the auth files');
  t.same(await find(['containers-auth.json', 'good']), { username: 'file', password: 'pw' }, 'the auth files listed first');
  t.same(await find(['none', 'containers-auth.json']), { username: 'file', password: 'pw' }, 'none from the helper: the next');
  t.same(await find(['broken', 'containers-auth.json']), { username: 'file', password: 'pw' }, 'a failing helper: the next still');
  t.same(await find(['none']), undefined, 'none anywhere: anonymous');
  await t.rejects(find(['broken']), /^credential helper docker-credential-broken failed for a\.example: exit status 2$/, 'the only one failed: its error');
  await t.rejects(
    find(['broken', 'missing']),
    /docker-credential-broken failed .*; credential helper docker-credential-missing .*not installed/,
    'every failure said',
  );
});

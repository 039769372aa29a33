/**
 * tlsFor (src/registry/certs.ts): the certs.d directory containers/image would read for a host.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certDirsFor, certsDFor, tlsFor } from '../../src/registry/certs.js';
import { caCertificatePem, makeCa } from '../helpers/test-ca.js';
import { RegistryError } from '../../src/registry/errors.js';

function certDirs(t: { teardown(fn: () => unknown): void }): [string, string] {
  const root = mkdtempSync(join(tmpdir(), 'mpd-certs-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return [join(root, 'containers'), join(root, 'docker')];
}

t.test("Docker Hub's certificates are looked up under docker.io, as containers/image reads them, not its API host", async (t) => {
  const dirs = certDirs(t);
  mkdirSync(join(dirs[0], 'docker.io'), { recursive: true });
  writeFileSync(join(dirs[0], 'docker.io', 'client.cert'), 'CERT');
  writeFileSync(join(dirs[0], 'docker.io', 'client.key'), 'KEY');
  mkdirSync(join(dirs[0], 'registry-1.docker.io'), { recursive: true });
  writeFileSync(join(dirs[0], 'registry-1.docker.io', 'other.cert'), 'OTHER');
  writeFileSync(join(dirs[0], 'registry-1.docker.io', 'other.key'), 'OTHER-KEY');
  t.same((await certsDFor('docker.io', undefined, dirs))?.material, { cert: 'CERT', key: 'KEY' });
});

t.test('the first directory that exists wins, even an empty one; none: nothing', async (t) => {
  const dirs = certDirs(t);
  mkdirSync(join(dirs[1], 'r.example:5000'), { recursive: true });
  writeFileSync(join(dirs[1], 'r.example:5000', 'c.cert'), 'C');
  writeFileSync(join(dirs[1], 'r.example:5000', 'c.key'), 'K');
  t.same((await certsDFor('r.example:5000', undefined, dirs))?.material, { cert: 'C', key: 'K' }, "docker's when containers' has none for the host");
  mkdirSync(join(dirs[0], 'r.example:5000'), { recursive: true });
  t.same((await certsDFor('r.example:5000', undefined, dirs))?.material, {}, "an empty directory of containers' ends the search");
  t.equal(await certsDFor('other.example', undefined, dirs), undefined);
});

/** The system's store for this test: $SSL_CERT_FILE alone (system-roots.ts reads it first, as Go does; no directory, no $NODE_EXTRA_CA_CERTS), restored after. */
function systemStore(t: { teardown(fn: () => unknown): void }, file: string): void {
  const before = { file: process.env.SSL_CERT_FILE, dir: process.env.SSL_CERT_DIR, extra: process.env.NODE_EXTRA_CA_CERTS };
  process.env.SSL_CERT_FILE = file;
  process.env.SSL_CERT_DIR = mkdtempSync(join(tmpdir(), 'mpd-no-certs-'));
  delete process.env.NODE_EXTRA_CA_CERTS;
  t.teardown(() => {
    rmSync(process.env.SSL_CERT_DIR as string, { recursive: true, force: true });
    for (const [k, v] of [
      ['SSL_CERT_FILE', before.file],
      ['SSL_CERT_DIR', before.dir],
      ['NODE_EXTRA_CA_CERTS', before.extra],
    ] as const)
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  });
}

t.test("a directory's *.crt files are added to the system's CAs, not put in their place (as containers/image does)", async (t) => {
  const dirs = certDirs(t);
  const system = await caCertificatePem();
  const store = join(dirs[1], 'system.pem');
  mkdirSync(dirs[1], { recursive: true });
  writeFileSync(store, system);
  systemStore(t, store);
  const [a, b] = await Promise.all(['a', 'b'].map(async (n) => readFileSync((await makeCa(join(dirs[1], n), `CA ${n}`)).certFile, 'utf8')));
  mkdirSync(join(dirs[0], 'r.example'), { recursive: true });
  writeFileSync(join(dirs[0], 'r.example', 'b.crt'), b as string);
  writeFileSync(join(dirs[0], 'r.example', 'a.crt'), a as string);
  const got = await tlsFor('r.example', { certDirs: dirs });
  t.same(got.ca, [system.trim(), a, b], "the system's first, then the directory's in byte order");
  t.equal(got.cert, undefined, 'no client pair');
  t.ok(got.secureContext, 'made into a context once, for every connection');
  t.equal((await tlsFor('r.example', { certDirs: dirs })).secureContext, got.secureContext, 'the same material: the same context');
  t.same((await tlsFor('other.example', { certDirs: dirs })).ca, [system.trim()], "a host without certs.d files: the system's alone");
  t.same(await tlsFor('other.example', { certDirs: dirs, insecure: true }), {}, 'an insecure endpoint (nothing verified): no CA needed, no context made');
});

t.test("the search path: the user's own certs.d first, as containers/image reads it", async (t) => {
  t.same(certDirsFor({ HOME: '/home/u' }), ['/home/u/.config/containers/certs.d', '/etc/containers/certs.d', '/etc/docker/certs.d']);
  t.ok(certDirsFor({ HOME: '' })[0]?.startsWith('/'), 'an empty $HOME is unset: not a certs.d under the working directory');
});

t.test('a client certificate or key without its other half is an error naming it, as containers/image refuses it', async (t) => {
  const dirs = certDirs(t);
  const dir = join(dirs[0], 'r.example');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ca.cert'), 'CA named as a client certificate');
  const e = await tlsFor('r.example', { certDirs: dirs }).catch((x: unknown) => x);
  t.ok(e instanceof RegistryError);
  t.equal((e as RegistryError).message, `${dir}: missing key ca.key for client certificate ca.cert (a CA certificate is named *.crt)`);
  t.equal((e as RegistryError).kind, 'forbidden', "our side's problem, not the registry's health");
  rmSync(join(dir, 'ca.cert'));
  writeFileSync(join(dir, 'client.key'), 'KEY');
  await t.rejects(tlsFor('r.example', { certDirs: dirs }), { message: `${dir}: missing client certificate client.cert for key client.key` });
  await t.rejects(tlsFor('other', { certDir: dir }), { message: `${dir}: missing client certificate client.cert for key client.key` }, '--cert-dir alike');
});

t.test("a certificate that cannot be read is our side's problem, named, not the registry's health", async (t) => {
  const dirs = certDirs(t);
  const dir = join(dirs[0], 'r.example');
  mkdirSync(join(dir, 'ca.crt'), { recursive: true }); // a directory by that name: EISDIR, as root too
  const e = await tlsFor('r.example', { certDirs: dirs }).catch((x: unknown) => x);
  t.ok(e instanceof RegistryError);
  t.equal((e as RegistryError).message, `cannot read ${join(dir, 'ca.crt')}: EISDIR`);
  t.equal((e as RegistryError).kind, 'forbidden', 'nothing a health cache records');
});

t.test("a client certificate and key TLS cannot load are our side's problem, named, as containers/image refuses them", async (t) => {
  const dirs = certDirs(t);
  const dir = join(dirs[0], 'r.example');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'client.cert'), 'not a certificate');
  writeFileSync(join(dir, 'client.key'), 'not a key');
  const e = await tlsFor('r.example', { certDirs: dirs }).catch((x: unknown) => x);
  t.ok(e instanceof RegistryError);
  t.match((e as RegistryError).message, `${dir}: the client certificate and key cannot be loaded: `);
  t.equal((e as RegistryError).kind, 'forbidden');
});

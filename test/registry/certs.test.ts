/**
 * tlsFor (src/registry/certs.ts): the certs.d directory containers/image would read for a host.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { tlsFor } from '../../src/registry/certs.js';

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
  t.same(await tlsFor('docker.io', undefined, dirs), { cert: 'CERT', key: 'KEY' });
});

t.test('the first directory that exists wins, even an empty one; none: nothing', async (t) => {
  const dirs = certDirs(t);
  mkdirSync(join(dirs[1], 'r.example:5000'), { recursive: true });
  writeFileSync(join(dirs[1], 'r.example:5000', 'c.cert'), 'C');
  writeFileSync(join(dirs[1], 'r.example:5000', 'c.key'), 'K');
  t.same(await tlsFor('r.example:5000', undefined, dirs), { cert: 'C', key: 'K' }, "docker's when containers' has none for the host");
  mkdirSync(join(dirs[0], 'r.example:5000'), { recursive: true });
  t.same(await tlsFor('r.example:5000', undefined, dirs), {}, "an empty directory of containers' ends the search");
  t.same(await tlsFor('other.example', undefined, dirs), {});
});

t.test("a directory's *.crt files are added to the system's CAs, not put in their place (as containers/image does)", async (t) => {
  const dirs = certDirs(t);
  mkdirSync(join(dirs[0], 'r.example'), { recursive: true });
  writeFileSync(join(dirs[0], 'r.example', 'b.crt'), 'CA-B');
  writeFileSync(join(dirs[0], 'r.example', 'a.crt'), 'CA-A');
  const got = await tlsFor('r.example', undefined, dirs);
  t.ok(rootCertificates.length > 0, "this runtime's bundled CAs");
  t.same(got.ca, [...rootCertificates, 'CA-A', 'CA-B'], "the system's first, then the directory's in byte order");
  t.equal(got.cert, undefined, 'no client pair');
});

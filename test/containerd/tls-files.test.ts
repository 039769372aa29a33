/**
 * Which certificate files a hosts.toml names (src/containerd/tls-files.ts), on real
 * directories: containerd's own `<hosts dir>/<host>/` files, then containers/image's first
 * certs.d directory that exists for the host, with a `.cert` named only beside its `.key`.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { tlsFilesFor, tlsListing } from '../../src/containerd/tls-files.js';
import { caCertificatePem } from '../helpers/test-ca.js';

/** A real certificate, PEM: what a `.crt` must hold for containerd to load it. */
const PEM = await caCertificatePem();

/** The files, a `.crt` holding a certificate, anything else a placeholder. */
function files(dir: string, names: string[]): void {
  mkdirSync(dir, { recursive: true });
  for (const n of names) writeFileSync(join(dir, n), n.endsWith('.crt') ? PEM : 'x');
}

t.test('containerd first, then the first containers/image directory that exists; pairs only', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mpd-tls-files-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const hostsDir = join(root, 'containerd');
  const containers = join(root, 'containers');
  const docker = join(root, 'docker');
  files(join(hostsDir, 'quay.io'), ['hosts.toml', 'own.crt']);
  files(join(containers, 'quay.io'), ['b.crt', 'a.crt', 'client.cert', 'client.key', 'lonely.cert']);
  files(join(docker, 'quay.io'), ['never.crt']);
  files(join(containers, 'empty.lan'), []);
  files(join(docker, 'empty.lan'), ['hidden.crt']);
  files(join(docker, 'm.lan:5000'), ['m.crt']);

  const found = await tlsFilesFor(['quay.io', 'empty.lan', 'm.lan:5000', 'none.lan', 'quay.io'], hostsDir, [containers, docker]);
  t.same(found.get('quay.io'), {
    ca: [join(hostsDir, 'quay.io/own.crt'), join(containers, 'quay.io/a.crt'), join(containers, 'quay.io/b.crt')],
    client: [[join(containers, 'quay.io/client.cert'), join(containers, 'quay.io/client.key')]],
  });
  t.notOk(found.has('empty.lan'), 'an existing empty directory stops the search, as in containers/image');
  t.same(found.get('m.lan:5000'), { ca: [join(docker, 'm.lan:5000/m.crt')], client: [] });
  t.notOk(found.has('none.lan'));
});

t.test('a CA file containerd could not load (empty, not PEM, a key, unreadable) is not named: it would fail every pull from the registry', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mpd-tls-files-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'containers', 'quay.io');
  files(dir, ['good.crt']);
  writeFileSync(join(dir, 'empty.crt'), '');
  writeFileSync(join(dir, 'der.crt'), Buffer.from(PEM.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64'));
  writeFileSync(join(dir, 'key.crt'), '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n');
  writeFileSync(join(dir, 'bundle.crt'), `# a bundle with a broken block first\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n${PEM}`);
  writeFileSync(join(dir, 'pasted.crt'), PEM.replace('-----BEGIN CERTIFICATE-----', '-----BEGIN CERTIFICATE----- \t')); // Go trims the line
  mkdirSync(join(dir, 'dir.crt'));
  const found = await tlsFilesFor(['quay.io'], join(root, 'containerd'), [join(root, 'containers')]);
  t.same(found.get('quay.io')?.ca, [join(dir, 'bundle.crt'), join(dir, 'good.crt'), join(dir, 'pasted.crt')], 'only files with a certificate Go would load');
  const listing = (): string => tlsListing(['quay.io'], join(root, 'containerd'), [join(root, 'containers')]);
  const before = listing();
  writeFileSync(join(dir, 'empty.crt'), PEM);
  t.not(listing(), before, 'a CA file rewritten in place (now loadable) changes the listing: the rescan renders again');
});

t.test('tlsListing: by name: our own hosts.toml write leaves it equal; a CA added or removed, a directory appearing, a pair completed change it', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mpd-tls-listing-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const hostsDir = join(root, 'containerd');
  const containers = join(root, 'containers');
  const quay = join(hostsDir, 'quay.io');
  const listing = (): string => tlsListing(['quay.io', 'mirror.lan'], hostsDir, [containers]);
  const before = listing();
  files(quay, ['hosts.toml']);
  t.equal(listing(), before, "our first hosts.toml, which makes containerd's host directory: equal");
  writeFileSync(join(quay, 'hosts.toml'), 'ours, rewritten');
  writeFileSync(join(quay, '.hosts.toml.tmp'), 'a temporary file of the write');
  t.equal(listing(), before, 'files no hosts.toml names: equal');
  rmSync(join(quay, '.hosts.toml.tmp'));

  writeFileSync(join(quay, 'ca.crt'), 'ca');
  const added = listing();
  t.not(added, before, 'a CA added');
  rmSync(join(quay, 'ca.crt'));
  t.equal(listing(), before, 'and removed: as at first');
  files(join(containers, 'mirror.lan'), ['client.cert']);
  const lonely = listing();
  t.not(lonely, before, "containers/image's directory appearing for a host");
  writeFileSync(join(containers, 'mirror.lan', 'client.key'), 'key');
  t.not(listing(), lonely, 'a client certificate completed by its key');
});

t.test('the files are named by absolute path even for a relative hosts dir: containerd reads a relative one from the host directory', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mpd-tls-relative-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  files(join(root, 'certs.d', 'quay.io'), ['ca.crt']);
  files(join(root, 'containers', 'quay.io'), ['c.cert', 'c.key']);
  const found = await tlsFilesFor(['quay.io'], relative(process.cwd(), join(root, 'certs.d')), [relative(process.cwd(), join(root, 'containers'))]);
  t.same(found.get('quay.io'), {
    ca: [join(root, 'certs.d', 'quay.io', 'ca.crt')],
    client: [[join(root, 'containers', 'quay.io', 'c.cert'), join(root, 'containers', 'quay.io', 'c.key')]],
  });
});

t.test("a .cert without its .key: named in containerd's own directory (it reads the key from the same file), never in containers/image's", async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mpd-tls-alone-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const own = join(root, 'containerd', 'quay.io');
  files(own, ['b.cert', 'b.key', 'a.cert']);
  files(join(root, 'containers', 'quay.io'), ['c.cert']);
  const found = await tlsFilesFor(['quay.io'], join(root, 'containerd'), [join(root, 'containers')]);
  t.same(found.get('quay.io')?.client, [
    [join(own, 'a.cert'), join(own, 'a.cert')],
    [join(own, 'b.cert'), join(own, 'b.key')],
  ]);
  const listing = tlsListing(['quay.io'], join(root, 'containerd'), [join(root, 'containers')]);
  writeFileSync(join(own, 'd.cert'), 'x');
  t.not(tlsListing(['quay.io'], join(root, 'containerd'), [join(root, 'containers')]), listing, 'one added is seen by the rescan');
});

t.test("a host without a directory of its own: containerd used _default/'s files for it, so ours name them (not when _default has a hosts.toml)", async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mpd-tls-default-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const hostsDir = join(root, 'containerd');
  const containers = join(root, 'containers');
  files(join(hostsDir, '_default'), ['corp.crt']);
  files(join(hostsDir, 'quay.io'), ['hosts.toml']); // ours only: before it, containerd read _default/ for quay.io
  files(join(hostsDir, 'own.io'), ['own.crt']);
  files(join(hostsDir, 'm.lan_5000_'), ['port.crt']); // containerd's other name for m.lan:5000, looked up first
  files(join(containers, 'quay.io'), ['q.crt']);
  const found = await tlsFilesFor(['quay.io', 'own.io', 'm.lan:5000', 'none.lan'], hostsDir, [containers]);
  t.same(found.get('quay.io')?.ca, [join(hostsDir, '_default/corp.crt'), join(containers, 'quay.io/q.crt')], "_default's, then containers/image's");
  t.same(found.get('none.lan')?.ca, [join(hostsDir, '_default/corp.crt')]);
  t.same(found.get('own.io')?.ca, [join(hostsDir, 'own.io/own.crt')], 'a directory of its own: _default is not read for it');
  t.same(found.get('m.lan:5000')?.ca, [join(hostsDir, 'm.lan_5000_/port.crt')], 'HOST_PORT_/ first, as containerd looks');

  const listing = tlsListing(['none.lan'], hostsDir, [containers]);
  writeFileSync(join(hostsDir, '_default', 'more.crt'), 'x');
  t.not(tlsListing(['none.lan'], hostsDir, [containers]), listing, 'a CA added to _default/ is seen by the rescan');
  writeFileSync(join(hostsDir, '_default', 'hosts.toml'), 'server = "https://corp.example"\n');
  const withToml = await tlsFilesFor(['none.lan'], hostsDir, [containers]);
  t.notOk(withToml.has('none.lan'), '_default/ with a hosts.toml: containerd read that, not its files');
  t.not(tlsListing(['none.lan'], hostsDir, [containers]), listing);
});

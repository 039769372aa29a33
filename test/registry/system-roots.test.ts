/**
 * The system's CA certificates (src/registry/system-roots.ts), found as Go's SystemCertPool finds
 * them for containers/image: $SSL_CERT_FILE or the first bundle file, then every file of the
 * certificate directories but the links to their own entries; each certificate once.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeExtraCaCertificates, SYSTEM_CERT_DIRS, SYSTEM_CERT_FILES, systemRootCertificates } from '../../src/registry/system-roots.js';
import { makeCa } from '../helpers/test-ca.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-roots-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const pem = async (n: string): Promise<string> => readFileSync((await makeCa(join(work, `ca-${n}`), `CA ${n}`)).certFile, 'utf8').trim();
const [one, two, three] = [await pem('one'), await pem('two'), await pem('three')];

t.test("Go's places, in its order", async (t) => {
  t.equal(SYSTEM_CERT_FILES[0], '/etc/ssl/certs/ca-certificates.crt');
  t.same(SYSTEM_CERT_DIRS, ['/etc/ssl/certs', '/etc/pki/tls/certs']);
});

t.test(
  'the bundle file and the directory: each certificate once, text around them left out; a link to an entry of the same directory is not read twice',
  async (t) => {
    const bundle = join(work, 'bundle.pem');
    writeFileSync(bundle, `# a comment\n${one}\nnoise\r\n${two.replace(/\n/g, '\r\n')}\n`);
    const dir = join(work, 'certs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'three.pem'), `${three}\n`);
    writeFileSync(join(dir, 'one-again.pem'), `${one}\n`);
    writeFileSync(join(dir, 'README'), 'no certificate here\n');
    symlinkSync('three.pem', join(dir, '0a1b2c3d.0'));
    t.same(systemRootCertificates({ SSL_CERT_FILE: bundle, SSL_CERT_DIR: dir }), [one, two, three], 'CRLF read as LF, each once, in the order found');
  },
);

t.test('read again when a place changes; none found: undefined (Node keeps its own list)', async (t) => {
  const bundle = join(work, 'changing.pem');
  const empty = join(work, 'empty-dir');
  mkdirSync(empty);
  const env = { SSL_CERT_FILE: bundle, SSL_CERT_DIR: empty };
  t.equal(systemRootCertificates(env), undefined, 'no file, an empty directory');
  writeFileSync(bundle, `${one}\n`);
  t.same(systemRootCertificates(env), [one]);
  writeFileSync(bundle, `${one}\n${two}\n`); // update-ca-certificates while a daemon runs
  t.same(systemRootCertificates(env), [one, two]);
});

t.test("$NODE_EXTRA_CA_CERTS: its certificates, which Node would add to its own list, kept beside the system's", async (t) => {
  const file = join(work, 'extra.pem');
  t.same(nodeExtraCaCertificates({}), [], 'unset: none');
  t.same(nodeExtraCaCertificates({ NODE_EXTRA_CA_CERTS: file }), [], 'missing: none');
  writeFileSync(file, `${three}\n`);
  t.same(nodeExtraCaCertificates({ NODE_EXTRA_CA_CERTS: file }), [three]);
});

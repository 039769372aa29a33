/**
 * Which certificate files a hosts.toml names (src/containerd/tls-files.ts), on real
 * directories: containerd's own `<hosts dir>/<host>/` files, then containers/image's first
 * certs.d directory that exists for the host, with a `.cert` named only beside its `.key`.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tlsFilesFor } from '../../src/containerd/tls-files.js';

function files(dir: string, names: string[]): void {
  mkdirSync(dir, { recursive: true });
  for (const n of names) writeFileSync(join(dir, n), 'x');
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

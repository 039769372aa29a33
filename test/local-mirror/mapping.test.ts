import t from 'tap';
import { createHash } from 'node:crypto';
import { parseRegistriesConf } from '../../src/registries-conf/parse.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';
import { mergeRegistriesConfs } from '../../src/registries-conf/layer.js';
import { ResolveError } from '../../src/sources/sources.js';
import {
  containerdRoutedHosts,
  localMirrorLocation,
  localMirrorPath,
  mapLocalMirrorRepository,
  mapLocalMirrorRequest,
} from '../../src/local-mirror/mapping.js';

const ADDR = '127.0.0.1:5555';
const D = `sha256:${'a'.repeat(64)}`;

/** A rendered file as containers/image holds it, with the endpoint first in each table given. */
function conf(tables: ReadonlyArray<{ prefix: string; location?: string; mirrors: string[]; endpoint?: boolean }>): RegistriesConf {
  const text = tables
    .map((x) => {
      const head = `[[registry]]\nprefix = ${JSON.stringify(x.prefix)}\nlocation = ${JSON.stringify(x.location ?? (x.prefix.startsWith('*.') ? '' : x.prefix))}\n`;
      const endpoint = x.endpoint === false ? '' : `[[registry.mirror]]\nlocation = ${JSON.stringify(localMirrorLocation(ADDR, x.prefix))}\ninsecure = true\n`;
      return head + endpoint + x.mirrors.map((m) => `[[registry.mirror]]\nlocation = ${JSON.stringify(m)}\n`).join('');
    })
    .join('\n');
  const parsed = parseRegistriesConf(text, 'rendered.conf');
  const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
  if (!parsed.conf || errors.length > 0) throw new Error(errors.map((e) => e.message).join('; '));
  return mergeRegistriesConfs(parsed.conf);
}

t.test('the path: mirror-policyd/ + 20 lower-case hex digits of sha256(prefix), the same every time, one per prefix', async (t) => {
  const prefixes = ['quay.io', 'quay.io/ns', 'quay.io/ns/app', '*.example.com', 'reg.example.com:5000', 'Reg.Example.com:5000/a/b'];
  for (const p of prefixes) {
    const path = localMirrorPath(p);
    t.match(path, /^mirror-policyd\/[0-9a-f]{20}$/, p);
    t.equal(path, `mirror-policyd/${createHash('sha256').update(p).digest('hex').slice(0, 20)}`, `${p}: sha256 of the prefix`);
    t.equal(localMirrorPath(p), path, `${p}: stable`);
  }
  t.equal(new Set(prefixes.map(localMirrorPath)).size, prefixes.length, 'unique per prefix');
  t.equal(localMirrorLocation(ADDR, 'quay.io'), `${ADDR}/${localMirrorPath('quay.io')}`);
});

t.test('a repository path maps back to its table and original name', async (t) => {
  const c = conf([
    { prefix: 'quay.io', mirrors: ['m1.example:5000/quay'] },
    { prefix: 'reg.example.com:5000/team', mirrors: ['m2.example/team'] },
    { prefix: '*.example.org', mirrors: ['m3.example:5000'] },
  ]);
  const quay = mapLocalMirrorRepository(c, ADDR, `${localMirrorPath('quay.io')}/ns/app`);
  t.match(quay, { prefix: 'quay.io', wildcard: false, remainder: '/ns/app', name: 'quay.io/ns/app' });
  t.equal(
    quay?.table,
    c.registries.find((x) => x.location === 'quay.io'),
    'the table itself',
  );
  t.match(
    mapLocalMirrorRepository(c, ADDR, localMirrorPath('reg.example.com:5000/team')),
    { prefix: 'reg.example.com:5000/team', remainder: '', name: 'reg.example.com:5000/team' },
    'the exact repository of a prefix',
  );
  const wild = mapLocalMirrorRepository(c, ADDR, `${localMirrorPath('*.example.org')}/lib/x`);
  t.match(wild, { prefix: '*.example.org', wildcard: true, remainder: '/lib/x' });
  t.notOk(wild && 'name' in wild, 'a wildcard table has no original name: the host was rewritten away');
});

t.test('anything else is not ours', async (t) => {
  const c = conf([
    { prefix: 'quay.io', mirrors: ['m1.example/quay'] },
    { prefix: 'docker.io', mirrors: ['m2.example/docker'], endpoint: false },
  ]);
  const quay = localMirrorPath('quay.io');
  for (const repo of [
    'library/busybox', // not our namespace
    'mirror-policyd', // no table path
    `${quay.slice(0, -1)}`, // too short a hash
    `${quay}0/x`, // too long a hash
    `${quay.toUpperCase()}`, // upper case is not what we render
    `${localMirrorPath('gcr.io')}/x`, // no such table
    localMirrorPath('docker.io'), // a table that does not list the endpoint, and no repository for containerd's route
    `x/${quay}`, // not at the start
  ]) {
    t.equal(mapLocalMirrorRepository(c, ADDR, repo), undefined, repo);
  }
  t.equal(mapLocalMirrorRepository(c, '127.0.0.1:6666', quay), undefined, 'the endpoint listed at another address (the setting changed)');
});

t.test("containerd's route: a registry host's path maps to <host>/<repository>, its sources under the whole policy", async (t) => {
  const c = conf([
    { prefix: 'quay.io/org', location: 'mirror.example:5000/other/x', mirrors: ['m1.example:5000/org'] },
    { prefix: 'docker.io', mirrors: ['m2.example/docker'], endpoint: false },
    { prefix: 'gcr.io', mirrors: [], endpoint: false },
    { prefix: '*.example.org', mirrors: ['m3.example:5000'] },
  ]);
  t.same(containerdRoutedHosts(c).sort(), ['docker.io', 'quay.io'], 'hosts of tables with policy; no wildcard, none without mirrors or a block');
  const quay = localMirrorPath('quay.io');
  t.match(mapLocalMirrorRepository(c, ADDR, `${quay}/org/app`), { prefix: 'quay.io', wildcard: false, remainder: '/org/app', name: 'quay.io/org/app' });
  const r = mapLocalMirrorRequest(c, ADDR, `${quay}/org/app`, D);
  t.same(
    r?.sources.map((s) => s.reference),
    [`m1.example:5000/org/app@${D}`, `mirror.example:5000/other/x/app@${D}`],
    'the namespace-scoped table applies: its mirror, then its rewritten location; the endpoint never',
  );
  t.same(
    mapLocalMirrorRequest(c, ADDR, `${quay}/elsewhere/app`, 'v1')?.sources.map((s) => s.reference),
    ['quay.io/elsewhere/app:v1'],
    'a name under no table of the host: the registry itself',
  );
  t.match(
    mapLocalMirrorRepository(c, ADDR, `${localMirrorPath('docker.io')}/library/x`),
    { name: 'docker.io/library/x' },
    "a table with mirrors that registries.conf does not front (the host's own) is routed for containerd",
  );
  for (const repo of [quay, `${localMirrorPath('gcr.io')}/x`, `${localMirrorPath('example.org')}/x`]) {
    t.equal(mapLocalMirrorRepository(c, ADDR, repo), undefined, `${repo}: not routed`);
  }
});

t.test('a request: the sources containers/image would try, the endpoint excluded', async (t) => {
  const c = conf([{ prefix: 'quay.io', mirrors: ['m1.example:5000/quay', 'm2.example/quay'] }]);
  const path = localMirrorPath('quay.io');
  const byTag = mapLocalMirrorRequest(c, ADDR, `${path}/ns/app`, 'v1');
  t.equal(byTag?.reference, 'quay.io/ns/app:v1');
  t.same(
    byTag?.sources.map((s) => [s.reference, s.role]),
    [
      ['m1.example:5000/quay/ns/app:v1', 'mirror'],
      ['m2.example/quay/ns/app:v1', 'mirror'],
      ['quay.io/ns/app:v1', 'primary'],
    ],
  );
  const byDigest = mapLocalMirrorRequest(c, ADDR, `${path}/ns/app`, D);
  t.equal(byDigest?.reference, `quay.io/ns/app@${D}`);
  t.same(
    byDigest?.sources.map((s) => s.reference),
    [`m1.example:5000/quay/ns/app@${D}`, `m2.example/quay/ns/app@${D}`, `quay.io/ns/app@${D}`],
  );
  t.notOk(
    byDigest?.sources.some((s) => s.endpoint.host === ADDR),
    'never the endpoint itself',
  );
});

t.test('a request honours pull-from-mirror and blocked as containers/image does', async (t) => {
  // Mirrors with pull-from-mirror need their keys: written by hand here.
  const parsed = parseRegistriesConf(
    `[[registry]]\nlocation = "reg.example.com"\nblocked = true\n[[registry.mirror]]\nlocation = "${localMirrorLocation(ADDR, 'reg.example.com')}"\ninsecure = true\n` +
      `[[registry.mirror]]\nlocation = "d.example/r"\npull-from-mirror = "digest-only"\n[[registry.mirror]]\nlocation = "t.example/r"\npull-from-mirror = "tag-only"\n`,
    'rendered.conf',
  );
  const c2 = mergeRegistriesConfs(parsed.conf as RegistriesConf);
  const path = localMirrorPath('reg.example.com');
  t.same(
    mapLocalMirrorRequest(c2, ADDR, `${path}/a`, 'v1')?.sources.map((s) => [s.reference, s.blocked]),
    [
      ['t.example/r/a:v1', false],
      ['reg.example.com/a:v1', true],
    ],
    'a tag: tag-only mirrors, then the primary, blocked',
  );
  t.same(
    mapLocalMirrorRequest(c2, ADDR, `${path}/a`, D)?.sources.map((s) => s.reference),
    [`d.example/r/a@${D}`, `reg.example.com/a@${D}`],
    'a digest: digest-only mirrors',
  );
});

t.test('a wildcard table: its mirrors only, with the path that is left', async (t) => {
  const c = conf([{ prefix: '*.example.org', mirrors: ['m3.example:5000', 'm4.example/wild'] }]);
  const req = mapLocalMirrorRequest(c, ADDR, `${localMirrorPath('*.example.org')}/lib/x`, 'v2');
  t.equal(req?.reference, undefined);
  t.same(
    req?.sources.map((s) => [s.reference, s.role]),
    [
      ['m3.example:5000/lib/x:v2', 'mirror'],
      ['m4.example/wild/lib/x:v2', 'mirror'],
    ],
  );
});

t.test('names containers/image could not have sent are refused, never mapped elsewhere', async (t) => {
  const c = conf([{ prefix: 'docker.io', mirrors: ['m1.example/docker'] }]);
  const path = localMirrorPath('docker.io');
  t.throws(() => mapLocalMirrorRequest(c, ADDR, `${path}/busybox`, 'latest'), ResolveError, 'not canonical (docker.io/library/busybox is)');
  t.throws(() => mapLocalMirrorRequest(c, ADDR, `${path}/A`, 'latest'), ResolveError, 'upper case path');
  t.throws(() => mapLocalMirrorRequest(c, ADDR, `${path}/library/busybox`, 'bad tag!'), ResolveError, 'invalid tag');
  t.throws(() => mapLocalMirrorRequest(c, ADDR, `${path}/library/busybox`, 'sha256:abc'), ResolveError, 'short digest');
  t.throws(() => mapLocalMirrorRequest(c, ADDR, `${path}/../x`, 'latest'), ResolveError, 'dot-dot');
  t.equal(mapLocalMirrorRequest(c, ADDR, `${path}/library/busybox`, 'latest')?.reference, 'docker.io/library/busybox:latest');
});

/**
 * Image indexes: a multi-platform image pushed with skopeo copy --all to a real
 * docker-registry; the pull picks the platform's manifest by digest, verifies it, and
 * refuses clearly when the platform is not there.
 */
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/log.js';
import { pullImage, PullError, hostPlatform, type PullSource } from '../../../src/registry/pull.js';
import { buildIndex, pushIndex } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { startFaultProxy } from '../../helpers/fault-proxy.js';
import { runCli } from '../../helpers/cli.js';

const log = createLogger({ level: 'silent' });
const work = mkdtempSync(join(tmpdir(), 'mpd-index-'));
const reg = await registryFor(t);
const host = hostPlatform();
const other = host.architecture === 'arm64' ? 'amd64' : 'arm64';
const built = await buildIndex(join(work, 'img'), 'multi', [
  { os: 'linux', architecture: host.architecture, content: `for ${host.architecture}` },
  { os: 'linux', architecture: other, content: `for ${other}` },
  { os: 'linux', architecture: 'arm', variant: 'v7', content: 'for arm v7' },
]);
await pushIndex(built, `${reg.host}/multi:v1`);
const [hostImg, otherImg, armImg] = built.images;
const I = built.indexDigest;
const src = (h: string, ref = `multi@${I}`): PullSource => ({
  reference: `${h}/${ref}`,
  endpoint: { host: h, insecure: true },
  role: 'primary',
  blocked: false,
});
const dest = (): string => mkdtempSync(join(work, 'dest-'));

t.test("the default platform is the host's: its manifest, config and layer are pulled and verified", async (t) => {
  const d = dest();
  const r = await pullImage([src(reg.host)], { dest: d, platform: hostPlatform(), health: {}, log });
  t.equal(r.digest, hostImg?.manifestDigest, "the digest is the platform manifest's, chosen from the index");
  t.equal(r.verified, true);
  t.same(
    r.blobs.map((b) => b.digest),
    [hostImg?.configDigest, hostImg?.layerDigest],
  );
  const index = JSON.parse(readFileSync(join(d, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  t.same(
    index.manifests.map((m) => m.digest),
    [hostImg?.manifestDigest],
  );
});

t.test('--platform picks another manifest; a variant is matched when asked for', async (t) => {
  const r = await pullImage([src(reg.host)], { dest: dest(), platform: { os: 'linux', architecture: other }, health: {}, log });
  t.equal(r.digest, otherImg?.manifestDigest);
  t.same(
    r.blobs.map((b) => b.digest),
    [otherImg?.configDigest, otherImg?.layerDigest],
  );
  const arm = await pullImage([src(reg.host, 'multi:v1')], { dest: dest(), platform: { os: 'linux', architecture: 'arm', variant: 'v7' }, health: {}, log });
  t.equal(arm.digest, armImg?.manifestDigest, 'a tag pull of the index works the same way');
});

t.test('a platform the index does not list fails clearly, and the endpoint is not marked unhealthy', async (t) => {
  const err = await pullImage([src(reg.host)], { dest: dest(), platform: { os: 'linux', architecture: 's390x' }, health: {}, log }).catch((e: unknown) => e);
  t.ok(err instanceof PullError);
  t.match(
    (err as PullError).attempts[0]?.error,
    /no manifest for linux\/s390x in the image index \(it has linux\/[a-z0-9]+, linux\/[a-z0-9]+, linux\/arm\/v7\)/,
  );
  t.same((err as PullError).health, {}, 'absent, not down');
});

t.test('a platform manifest that does not match the digest the index names is rejected', async (t) => {
  const p = await startFaultProxy(reg.host, [{ path: new RegExp(`/manifests/${otherImg?.manifestDigest ?? 'x'}$`), fault: 'corrupt' }]);
  t.teardown(() => p.close());
  const err = await pullImage([src(p.host)], { dest: dest(), platform: { os: 'linux', architecture: other }, health: {}, log }).catch((e: unknown) => e);
  t.ok(err instanceof PullError);
  t.match((err as PullError).attempts[0]?.error, /content is sha256:[0-9a-f]+, not sha256:/);
  t.match(
    (err as PullError).health[`insecure://${p.host}`],
    { lastFailure: { class: 'protocol' } },
    'the source serving it is marked down, as for a wrong blob',
  );
});

t.test("a tag pull: the platform manifest is asked for by the digest the source's own index names; wrong bytes for it mark the source down", async (t) => {
  const p = await startFaultProxy(reg.host, [{ path: new RegExp(`/manifests/${otherImg?.manifestDigest ?? 'x'}$`), fault: 'corrupt' }]);
  t.teardown(() => p.close());
  const err = await pullImage([src(p.host, 'multi:v1')], { dest: dest(), platform: { os: 'linux', architecture: other }, health: {}, log }).catch(
    (e: unknown) => e,
  );
  t.ok(err instanceof PullError);
  t.match((err as PullError).attempts[0]?.error, /content is sha256:[0-9a-f]+, not sha256:/);
  t.match((err as PullError).health[`insecure://${p.host}`], { lastFailure: { class: 'protocol' } });
});

t.test('the CLI: --platform, and a missing platform named in the error', async (t) => {
  const conf = join(work, 'registries.conf');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(conf, `[[registry]]\nlocation = "${reg.host}"\ninsecure = true\n`);
  const ok = await runCli([
    'pull',
    `${reg.host}/multi@${I}`,
    '--dest',
    dest(),
    '--registries-conf',
    conf,
    '--state-dir',
    join(work, 'state'),
    '--platform',
    `linux/${other}`,
    '--json',
    '--log-level',
    'silent',
  ]);
  t.equal(ok.code, 0, ok.stderr);
  t.equal((JSON.parse(ok.stdout) as { digest: string }).digest, otherImg?.manifestDigest);
  const missing = await runCli([
    'pull',
    `${reg.host}/multi@${I}`,
    '--dest',
    dest(),
    '--registries-conf',
    conf,
    '--state-dir',
    join(work, 'state'),
    '--platform',
    'windows/amd64',
  ]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /no manifest for windows\/amd64 in the image index/);
});

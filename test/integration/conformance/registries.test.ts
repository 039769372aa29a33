/**
 * End to end with real parts: docker-registry processes on 127.0.0.1, fragments in a
 * policy directory, `mirror-policyd render` (the real program) writing registries.conf,
 * and skopeo reading it. Which registry served is read from the registries' own logs.
 */
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { manifestRequests, registryFor, type Registry } from '../../helpers/registry.js';
import { skopeoInspectRaw, type SkopeoResult } from '../../helpers/skopeo.js';
import { runCli } from '../../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-e2e-'));
const [m1, m2, src] = await Promise.all([registryFor(t), registryFor(t), registryFor(t)]);
const img = await buildImage(join(work, 'img'), { content: 'served by a mirror', tag: 'v1' });
const onlyAtSource = await buildImage(join(work, 'img2'), { content: 'only at the source', tag: 'v2' });

await Promise.all([
  ...[m1, m2, src].map((r) => pushImage(img, `${r.host}/app:v1`)),
  pushImage(onlyAtSource, `${src.host}/app:v2`),
  pushImage(img, `${m2.host}/locked:v1`),
  pushImage(img, `${src.host}/locked:v1`),
  pushImage(img, `${m1.host}/tagged:v1`),
  pushImage(img, `${src.host}/tagged:v1`),
  pushImage(img, `${m2.host}/all:v1`),
  pushImage(img, `${src.host}/all:v1`),
]);

const policy = join(work, 'policy.d');
mkdirSync(policy, { mode: 0o755 });
const fragment = (name: string, text: string): void => {
  writeFileSync(join(policy, name), text);
  chmodSync(join(policy, name), 0o644);
};
fragment(
  '10-icsp.yaml',
  `apiVersion: operator.openshift.io/v1alpha1
kind: ImageContentSourcePolicy
metadata: {name: app}
spec:
  repositoryDigestMirrors:
  - source: ${src.host}/app
    mirrors: [${m1.host}/app, ${m2.host}/app]
`,
);
fragment(
  '20-idms.yaml',
  `apiVersion: config.openshift.io/v1
kind: ImageDigestMirrorSet
metadata: {name: locked}
spec:
  imageDigestMirrors:
  - source: ${src.host}/locked
    mirrors: [${m2.host}/locked]
    mirrorSourcePolicy: NeverContactSource
`,
);
fragment(
  '30-itms.yaml',
  `apiVersion: config.openshift.io/v1
kind: ImageTagMirrorSet
metadata: {name: tagged}
spec:
  imageTagMirrors:
  - source: ${src.host}/tagged
    mirrors: [${m1.host}/tagged]
`,
);
fragment(
  '40-local.toml',
  `# the test registries speak plain HTTP
insecure-registries = ["${m1.host}", "${m2.host}", "${src.host}"]

[[mirror-set]]
source = "${src.host}/all"
mirrors = ["${m2.host}/all"]
pull-from-mirror = "all"
`,
);
const conf = join(work, 'registries.conf');
const rendered = await runCli(['render', '--policy-dir', policy, '--output', conf]);
if (rendered.code !== 0) throw new Error(`render failed: ${rendered.stderr}`);

async function clearLogs(): Promise<void> {
  await Promise.all([m1, m2, src].map((r) => r.clearLog()));
}

/** Which registries answered a manifest request for `repo` with 200, and which were asked at all. */
async function servedBy(repo: string): Promise<{ served: string[]; asked: string[] }> {
  const names: Array<[string, Registry]> = [
    ['m1', m1],
    ['m2', m2],
    ['src', src],
  ];
  const served: string[] = [];
  const asked: string[] = [];
  for (const [name, r] of names) {
    const reqs = manifestRequests(await r.requests(), repo);
    if (reqs.length > 0) asked.push(name);
    if (reqs.some((q) => q.status === 200)) served.push(name);
  }
  return { served, asked };
}

async function pull(ref: string): Promise<SkopeoResult> {
  await clearLogs();
  return skopeoInspectRaw(`docker://${ref}`, { registriesConf: conf, timeoutMs: 30_000 });
}

t.test('digest pull: the first mirror serves, nobody else is asked', async (t) => {
  const r = await pull(`${src.host}/app@${img.manifestDigest}`);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, img.manifest.toString(), 'the manifest bytes');
  t.same(await servedBy('app'), { served: ['m1'], asked: ['m1'] });
});

t.test('digest pull with mirror 1 stopped: mirror 2 serves, the source is not asked', async (t) => {
  await m1.stop();
  t.teardown(() => m1.start());
  const r = await pull(`${src.host}/app@${img.manifestDigest}`);
  t.equal(r.code, 0, r.stderr);
  t.same(r.tried, [`${m1.host}/app@${img.manifestDigest}`, `${m2.host}/app@${img.manifestDigest}`]);
  t.same(await servedBy('app'), { served: ['m2'], asked: ['m2'] });
});

t.test('digest pull of an image no mirror has: mirrors in order, then the source', async (t) => {
  const r = await pull(`${src.host}/app@${onlyAtSource.manifestDigest}`);
  t.equal(r.code, 0, r.stderr);
  t.same(r.tried, [
    `${m1.host}/app@${onlyAtSource.manifestDigest}`,
    `${m2.host}/app@${onlyAtSource.manifestDigest}`,
    `${src.host}/app@${onlyAtSource.manifestDigest}`,
  ]);
  t.same(await servedBy('app'), { served: ['src'], asked: ['m1', 'm2', 'src'] });
});

t.test('tag pull skips the digest-only mirrors of an ICSP', async (t) => {
  const r = await pull(`${src.host}/app:v1`);
  t.equal(r.code, 0, r.stderr);
  t.same(r.tried, [`${src.host}/app:v1`]);
  t.same(await servedBy('app'), { served: ['src'], asked: ['src'] });
});

t.test('IDMS NeverContactSource: the mirror serves; with the mirror down the pull fails and the source is never contacted', async (t) => {
  const ok = await pull(`${src.host}/locked@${img.manifestDigest}`);
  t.equal(ok.code, 0, ok.stderr);
  t.same(await servedBy('locked'), { served: ['m2'], asked: ['m2'] });
  await m2.stop();
  t.teardown(() => m2.start());
  const failed = await pull(`${src.host}/locked@${img.manifestDigest}`);
  t.not(failed.code, 0);
  t.match(failed.stderr, /is blocked in/);
  t.same(await src.requests(), [], 'not a single request reached the source');
});

t.test('ITMS: tag pulls use the tag-only mirror, digest pulls go to the source', async (t) => {
  const tag = await pull(`${src.host}/tagged:v1`);
  t.equal(tag.code, 0, tag.stderr);
  t.same(await servedBy('tagged'), { served: ['m1'], asked: ['m1'] });
  const digest = await pull(`${src.host}/tagged@${img.manifestDigest}`);
  t.equal(digest.code, 0, digest.stderr);
  t.same(digest.tried, [`${src.host}/tagged@${img.manifestDigest}`]);
  t.same(await servedBy('tagged'), { served: ['src'], asked: ['src'] });
});

t.test('native TOML set for all pulls: the mirror serves tags and digests', async (t) => {
  for (const ref of [`${src.host}/all:v1`, `${src.host}/all@${img.manifestDigest}`]) {
    const r = await pull(ref);
    t.equal(r.code, 0, r.stderr);
    t.same(await servedBy('all'), { served: ['m2'], asked: ['m2'] }, ref);
  }
});

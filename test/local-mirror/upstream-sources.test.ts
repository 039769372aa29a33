import t from 'tap';
import { localMirrorLocation } from '../../src/local-mirror/mapping.js';
import { attachedDigest, isSelf, routeSources } from '../../src/local-mirror/upstream-sources.js';
import { mergeRegistriesConfs } from '../../src/registries-conf/layer.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';
import { parseRegistriesConf } from '../../src/registries-conf/parse.js';

t.test('the endpoint under another loopback spelling is itself: never a source', async (t) => {
  t.ok(isSelf('127.0.0.1:5000', '127.0.0.1:5000'));
  t.ok(isSelf('localhost:5000', '127.0.0.1:5000'));
  t.ok(isSelf('LOCALHOST:5000', '[::1]:5000'));
  t.ok(isSelf('[::1]:5000', '127.0.0.1:5000'));
  t.notOk(isSelf('localhost:5001', '127.0.0.1:5000'), 'another port is another service');
  t.notOk(isSelf('mirror.example:5000', '127.0.0.1:5000'), 'a real mirror on the same port number');
  t.notOk(isSelf('127.0.0.2:5000', '127.0.0.1:5000'), 'another loopback address may be another service');
});

const ADDR = '127.0.0.1:5999';
const D = 'a'.repeat(64);

/** quay.io/org's table: the endpoint first, then `mirrors` (each its location and pull-from-mirror, if any). */
function orgConf(endpointMode: string | undefined, mirrors: ReadonlyArray<readonly [string, string]>): RegistriesConf {
  const mode = (m: string | undefined): string[] => (m ? [`pull-from-mirror = "${m}"`] : []);
  const text = [
    'unqualified-search-registries = []',
    '[[registry]]',
    'prefix = "quay.io/org"',
    'location = "quay.io/org"',
    '[[registry.mirror]]',
    `location = "${localMirrorLocation(ADDR, 'quay.io/org')}"`,
    'insecure = true',
    ...mode(endpointMode),
    ...mirrors.flatMap(([location, m]) => ['[[registry.mirror]]', `location = "${location}"`, ...mode(m)]),
  ].join('\n');
  const parsed = parseRegistriesConf(text, 'rendered.conf');
  if (!parsed.conf) throw new Error('the test conf does not parse');
  return mergeRegistriesConfs(parsed.conf);
}

function digestOnlyConf(): RegistriesConf {
  return orgConf('digest-only', [['mirror.example:5000/org', 'digest-only']]);
}

t.test("an image's attachment tags name its digest; other tags do not", async (t) => {
  t.equal(attachedDigest(`sha256-${D}.sig`), `sha256:${D}`, 'a sigstore signature');
  t.equal(attachedDigest(`sha256-${D}.att`), `sha256:${D}`);
  t.equal(attachedDigest(`sha256-${D}`), `sha256:${D}`, 'the OCI referrers tag schema');
  t.equal(attachedDigest('v1'), undefined);
  t.equal(attachedDigest(`sha256-${D}.other`), undefined);
  t.equal(attachedDigest(`sha256-${D.slice(1)}.sig`), undefined, 'not a whole digest');
});

t.test("a digest-only table: an attachment tag comes from the image's sources, an ordinary tag from the source alone", async (t) => {
  const conf = digestOnlyConf();
  const name = localMirrorLocation(ADDR, 'quay.io/org').slice(ADDR.length + 1) + '/app';
  const refs = (tag: string): string[] | undefined =>
    routeSources(conf, ADDR, { kind: 'manifest', name, reference: tag, byDigest: false })?.map((s) => s.reference);
  t.same(refs(`sha256-${D}.sig`), [`mirror.example:5000/org/app:sha256-${D}.sig`, `quay.io/org/app:sha256-${D}.sig`]);
  t.same(refs('v1'), ['quay.io/org/app:v1']);
  t.same(
    routeSources(conf, ADDR, { kind: 'blob', name, digest: `sha256:${D}` })?.map((s) => s.reference),
    [`mirror.example:5000/org/app@sha256:${D}`, `quay.io/org/app@sha256:${D}`],
  );
  t.equal(routeSources(conf, ADDR, { kind: 'manifest', name: 'not/ours', reference: `sha256-${D}.sig`, byDigest: false }), undefined);
});

t.test('a tag-only mirror on the same registry as a digest-only one is a source of its own for blobs', async (t) => {
  const conf = orgConf(undefined, [
    ['mirror.example:5000/digests/org', 'digest-only'],
    ['mirror.example:5000/tags/org', 'tag-only'],
  ]);
  const name = localMirrorLocation(ADDR, 'quay.io/org').slice(ADDR.length + 1) + '/app';
  // A tag pull's index came from tags/org: its manifests and blobs live in that repository.
  t.same(
    routeSources(conf, ADDR, { kind: 'blob', name, digest: `sha256:${D}` })?.map((s) => s.reference),
    [`mirror.example:5000/digests/org/app@sha256:${D}`, `mirror.example:5000/tags/org/app@sha256:${D}`, `quay.io/org/app@sha256:${D}`],
  );
  t.same(
    routeSources(conf, ADDR, { kind: 'manifest', name, reference: `sha256-${D}.sig`, byDigest: false })?.map((s) => s.reference),
    [`mirror.example:5000/digests/org/app:sha256-${D}.sig`, `mirror.example:5000/tags/org/app:sha256-${D}.sig`, `quay.io/org/app:sha256-${D}.sig`],
    "an image's signature tag: asked where the image may have come from",
  );
});

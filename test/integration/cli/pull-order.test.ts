/**
 * `mirror-policyd pull` tries the sources skopeo 1.9.3 (containers/image 5.23) tries, in the same
 * order, against real docker-registry processes on 127.0.0.1: one that serves the image, one
 * that lacks it, a port nobody listens on, a plain-http registry named without `insecure`, a
 * mirror under a blocked table, a mirror whose location carries a tag. Each pull gets a fresh
 * state dir, so the health cache plays no part: the order is containers/image's alone.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { refusingHost } from '../../helpers/fault-proxy.js';
import { runCli } from '../../helpers/cli.js';
import { skopeoInspectRaw } from '../../helpers/skopeo.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-pull-order-'));
const serving = await registryFor(t);
const lacking = await registryFor(t);
const img = await buildImage(join(work, 'img'), { content: 'the order of sources', tag: 'v1' });
await pushImage(img, `${serving.host}/app:v1`);
await pushImage(img, `${lacking.host}/other:v1`);
const refusing = await refusingHost();
const D = img.manifestDigest;

interface PullJson {
  manifestFrom: string;
  attempts: Array<{ source: string; error: string }>;
}

/** Our pull's sources in the order contacted (or passed over), ending with the one that served. */
async function ourOrder(t: Test, conf: string, ref: string): Promise<{ code: number | null; tried: string[]; errors: string[]; stderr: string }> {
  const dir = mkdtempSync(join(work, 'run-'));
  const r = await runCli([
    'pull',
    ref,
    '--dest',
    join(dir, 'oci'),
    '--registries-conf',
    conf,
    '--state-dir',
    join(dir, 'state'),
    '--json',
    '--log-level',
    'silent',
  ]);
  if (r.code !== 0) return { code: r.code, tried: [], errors: [], stderr: r.stderr };
  const j = JSON.parse(r.stdout) as PullJson;
  t.ok(j.manifestFrom, 'a source served');
  return { code: 0, tried: [...j.attempts.map((a) => a.source), j.manifestFrom], errors: j.attempts.map((a) => a.error), stderr: r.stderr };
}

function confFile(name: string, text: string): string {
  const file = join(work, name);
  writeFileSync(file, text);
  return file;
}

async function sameAsSkopeo(t: Test, conf: string, ref: string, expected: readonly string[]): Promise<string[]> {
  const [ours, theirs] = await Promise.all([ourOrder(t, conf, ref), skopeoInspectRaw(`docker://${ref}`, { registriesConf: conf, timeoutMs: 20_000 })]);
  t.equal(theirs.code, 0, `skopeo pulls ${ref}`);
  t.same(theirs.tried, expected, `skopeo: ${ref} → ${theirs.tried.join(', ')}`);
  t.equal(ours.code, 0, `we pull ${ref} (${ours.stderr.trim()})`);
  t.same(ours.tried, expected, `ours: ${ref} → ${ours.tried.join(', ')}`);
  return ours.errors;
}

t.test('dead, lacking and secure-but-http mirrors fall through to the one that serves, in file order', async (t) => {
  const conf = confFile(
    'fall-through.conf',
    `[[registry]]
prefix = "${serving.host}/app"
location = "${serving.host}/app"
insecure = true
[[registry.mirror]]
location = "${refusing}/app"
insecure = true
[[registry.mirror]]
location = "${lacking.host}/app"
insecure = true
[[registry.mirror]]
location = "${lacking.host}/other"
[[registry.mirror]]
location = "${lacking.host}/other"
insecure = true
[[registry.mirror]]
location = "${serving.host}/app"
insecure = true
`,
  );
  // the secure entry for lacking/other fails (https to a plain-http registry), its insecure twin serves
  await sameAsSkopeo(t, conf, `${serving.host}/app@${D}`, [
    `${refusing}/app@${D}`,
    `${lacking.host}/app@${D}`,
    `${lacking.host}/other@${D}`,
    `${lacking.host}/other@${D}`,
  ]);
  await sameAsSkopeo(t, conf, `${serving.host}/app:v1`, [
    `${refusing}/app:v1`,
    `${lacking.host}/app:v1`,
    `${lacking.host}/other:v1`,
    `${lacking.host}/other:v1`,
  ]);
});

t.test('digest-only and tag-only mirrors, a mirror under a blocked table: the primary serves last', async (t) => {
  const conf = confFile(
    'filtered.conf',
    `[[registry]]
location = "${serving.host}/app"
insecure = true
[[registry.mirror]]
location = "${refusing}/by-digest"
insecure = true
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "${refusing}/by-tag"
insecure = true
pull-from-mirror = "tag-only"
[[registry.mirror]]
location = "${lacking.host}/other"
insecure = true

[[registry]]
location = "${lacking.host}"
blocked = true
`,
  );
  await sameAsSkopeo(t, conf, `${serving.host}/app@${D}`, [`${refusing}/by-digest@${D}`, `${lacking.host}/other@${D}`, `${serving.host}/app@${D}`]);
  await sameAsSkopeo(t, conf, `${serving.host}/app:v1`, [`${refusing}/by-tag:v1`, `${lacking.host}/other:v1`, `${serving.host}/app:v1`]);
});

t.test('a mirror whose location carries a tag gives a digest pull a reference containers/image refuses: the next source serves', async (t) => {
  const conf = confFile(
    'tagged-mirror.conf',
    `[[registry]]
location = "${serving.host}/app"
insecure = true
[[registry.mirror]]
location = "${serving.host}/app:v1"
insecure = true
`,
  );
  const errors = await sameAsSkopeo(t, conf, `${serving.host}/app@${D}`, [`${serving.host}/app:v1@${D}`, `${serving.host}/app@${D}`]);
  t.match(errors[0], /both a tag and digest are currently not supported: not contacted/, 'the reason is containers/image\'s, not "blocked"');
});

/**
 * `mirror-policyd pull` tries the sources skopeo 1.9.3 (containers/image 5.23) tries, in the same
 * order, against real docker-registry processes on 127.0.0.1: one that serves the image, one
 * that lacks it, a port nobody listens on, a plain-http registry named without `insecure`, a
 * mirror under a blocked table, a mirror whose location carries a tag. Each pull gets a fresh
 * state dir, so the health cache plays no part: the order is containers/image's alone.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { refusingHost } from '../../helpers/fault-proxy.js';
import { runCli } from '../../helpers/cli.js';
import { skopeoInspectRaw } from '../../helpers/skopeo.js';
import type { EndpointHealth } from '../../../src/health/health.js';

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

/** `pull REF --json` with this registries.conf and health cache's state dir, into a fresh layout. */
function pullJson(ref: string, conf: string, state: string): ReturnType<typeof runCli> {
  const dest = join(mkdtempSync(join(work, 'run-')), 'oci');
  return runCli(['pull', ref, '--dest', dest, '--registries-conf', conf, '--state-dir', state, '--json', '--log-level', 'silent']);
}

/** Our pull's sources in the order contacted (or passed over), ending with the one that served. */
async function ourOrder(t: Test, conf: string, ref: string): Promise<{ code: number | null; tried: string[]; errors: string[]; stderr: string }> {
  const r = await pullJson(ref, conf, mkdtempSync(join(work, 'state-')));
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

t.test('the health cache: a mirror marked down is tried last while down, in its place again once its time is over', async (t) => {
  const conf = confFile(
    'health.conf',
    `[[registry]]
location = "${serving.host}/app"
insecure = true
[[registry.mirror]]
location = "${refusing}/app"
insecure = true
[[registry.mirror]]
location = "${lacking.host}/app"
insecure = true
`,
  );
  const ref = `${serving.host}/app@${D}`;
  const state = mkdtempSync(join(work, 'state-'));
  const key = `insecure://${refusing}`;
  const cache = (downUntil: number, failures: number): void =>
    writeFileSync(
      join(state, 'health.json'),
      JSON.stringify({ version: 1, endpoints: { [key]: { endpoint: key, failures, downUntil, updatedAt: Date.now() - 1000 } } }),
      { mode: 0o600 },
    );
  const run = async (): Promise<{ resolve: string[]; pull: PullJson & { skipped: string[] } }> => {
    const r = await runCli(['resolve', ref, '--registries-conf', conf, '--state-dir', state, '--json']);
    t.equal(r.code, 0, r.stderr);
    const p = await pullJson(ref, conf, state);
    t.equal(p.code, 0, p.stderr);
    return {
      resolve: (JSON.parse(r.stdout) as { sources: Array<{ health: string }> }).sources.map((s) => s.health),
      pull: JSON.parse(p.stdout) as PullJson & { skipped: string[] },
    };
  };

  cache(Date.now() + 600_000, 1);
  const down = await run();
  t.same(down.resolve, ['down', 'unknown', 'unknown'], 'resolve shows it down');
  t.same(
    down.pull.attempts.map((a) => a.source),
    [`${lacking.host}/app@${D}`],
    'the pull does not contact it: the next mirror, then the primary',
  );
  t.equal(down.pull.manifestFrom, ref);
  t.same(down.pull.skipped, [`${refusing}/app@${D}`], 'and says it passed it over');

  cache(Date.now() - 1000, 1);
  const over = await run();
  t.same(over.resolve, ['probe', 'unknown', 'unknown'], 'its time over, resolve shows it due for a probe');
  t.same(
    over.pull.attempts.map((a) => a.source),
    [`${refusing}/app@${D}`, `${lacking.host}/app@${D}`],
    'the pull asks it in its configured place again',
  );
  t.same(over.pull.skipped, []);
  const after = (JSON.parse(readFileSync(join(state, 'health.json'), 'utf8')) as { endpoints: Record<string, EndpointHealth> }).endpoints;
  t.equal(after[key]?.failures, 2, 'refused again: a second failure in a row');
  t.ok((after[key]?.downUntil ?? 0) - (after[key]?.lastFailure?.at ?? 0) === 60_000, 'down for twice the first time');
  t.equal(after[`insecure://${lacking.host}`]?.downUntil, undefined, 'a 404 marks no endpoint down');
});

t.test('a mirror location with no registry host ("no_host.example": "_" is no host name character) is tried by neither', async (t) => {
  const conf = confFile(
    'no-host.conf',
    `[[registry]]
location = "${serving.host}/app"
insecure = true
[[registry.mirror]]
location = "no_host.example/app"
insecure = true
`,
  );
  const errors = await sameAsSkopeo(t, conf, `${serving.host}/app@${D}`, [`no_host.example/app@${D}`, `${serving.host}/app@${D}`]);
  t.match(errors[0], /no registry host in "no_host\.example\/app@sha256:[0-9a-f]{64}".*: not contacted/);
});

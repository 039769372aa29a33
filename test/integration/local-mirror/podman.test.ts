/**
 * podman (Debian's 4.3) as the local mirror's client: pointed at a registries.conf that lists
 * the endpoint first and a real docker-registry after it (CONTAINERS_REGISTRIES_CONF), on a
 * private storage root, it pulls by digest through the endpoint; with the endpoint stopped it
 * pulls through the mirror listed after it. Skipped, saying why, where podman cannot run.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { localMirrorSetup, SOURCE } from '../../helpers/local-mirror.js';
import { buildImage, buildIndex, ociArch, ociOs, pushImage, pushIndex } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'mpd-lm-podman-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

/** podman on a storage root of its own (vfs: no overlay mount needed), reading `conf`. */
function podman(conf: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const storage = ['--root', join(work, 'root'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs'];
  return run('podman', [...storage, ...args], { env: { ...process.env, CONTAINERS_REGISTRIES_CONF: conf }, timeout: 120_000 });
}

const usable = await podman('/dev/null', ['images']).then(
  () => undefined,
  (e: Error) => `podman cannot run here: ${e.message.split('\n')[0]}`,
);

t.test('podman pulls through the endpoint; with it stopped, through the mirror after it', { skip: usable }, async (t) => {
  const mirror = await registryFor(t);
  const img = await buildImage(join(work, 'img'), { content: 'pulled by podman', tag: 'v1' });
  await pushImage(img, `${mirror.host}/app:v1`);
  const setup = await localMirrorSetup(t, [`${mirror.host}/app`]);
  const ep = await setup.start();
  const ref = `${SOURCE}@${img.manifestDigest}`;

  await podman(setup.confFile, ['pull', ref]);
  const s = ep.stats();
  t.ok(s.requests.manifests >= 1 && s.requests.blobs >= 2, `the endpoint served the pull (${JSON.stringify(s.requests)})`);
  const inspected = await podman(setup.confFile, ['image', 'inspect', '--format', '{{.Digest}}', ref]);
  t.equal(inspected.stdout.trim(), img.manifestDigest, 'podman has the image, by its digest');

  await podman(setup.confFile, ['rmi', '--force', ref]);
  await ep.close(100);
  setup.endpoint = undefined;
  await mirror.clearLog();
  await podman(setup.confFile, ['pull', ref]);
  t.ok(
    (await mirror.requests()).some((r) => r.kind === 'manifests'),
    'the endpoint stopped: podman went to the mirror after it',
  );
});

t.test(
  "podman pulls a multi-platform image by tag through the endpoint: the index, this platform's manifest by digest, its blobs",
  { skip: usable },
  async (t) => {
    const mirror = await registryFor(t);
    const idx = await buildIndex(join(work, 'idx'), 'multi', [
      { os: 'linux', architecture: 's390x', content: 'not this one' },
      { os: ociOs(), architecture: ociArch(), content: 'this platform' },
    ]);
    await pushIndex(idx, `${mirror.host}/app:multi`);
    const setup = await localMirrorSetup(t, [`${mirror.host}/app`]);
    const ep = await setup.start();
    await mirror.clearLog();
    await podman(setup.confFile, ['pull', `${SOURCE}:multi`]);
    const mine = idx.images[1] as (typeof idx.images)[number];
    const inspected = await podman(setup.confFile, ['image', 'inspect', '--format', '{{.Id}}', `${SOURCE}:multi`]);
    t.equal(`sha256:${inspected.stdout.trim()}`, mine.configDigest, "podman has this platform's image");
    const s = ep.stats();
    t.ok(s.requests.manifests >= 2, `the index and the manifest came through the endpoint (${JSON.stringify(s.requests)})`);
    t.equal(s.errors, 0, 'no errors');
    const seen = await mirror.requests();
    t.ok(seen.length > 0 && seen.every((r) => r.userAgent === 'mirror-policyd'), 'the mirror saw the endpoint only');
  },
);

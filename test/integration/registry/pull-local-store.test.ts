/**
 * The OCI layout cannot be written (here a directory where a blob's file must go; a full disk
 * or EIO takes the same path): the pull fails at once, saying so, and no source is marked
 * down for it. Before, each source was asked in turn and each recorded as failed (protocol),
 * so a local disk problem took every healthy mirror out of the shared health cache.
 * The same when the layout's own files (oci-layout, index.json) cannot be written, and the health
 * the pull learnt on the way (a refusing mirror) is kept for the cache. Real docker-registry processes.
 */
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/log.js';
import { pullImage, hostPlatform, PullError, type PullSource } from '../../../src/registry/pull.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { freePort, harnessSource, registryFor } from '../../helpers/registry.js';

const log = createLogger({ level: 'silent' });
const work = mkdtempSync(join(tmpdir(), 'mpd-local-store-'));
t.teardown(() => import('node:fs').then((fs) => fs.rmSync(work, { recursive: true, force: true })));
const [a, b] = await Promise.all([registryFor(t), registryFor(t)]);
const img = await buildImage(join(work, 'img'), { content: 'local store', tag: 'v1' });
await Promise.all([pushImage(img, `${a.host}/app:v1`), pushImage(img, `${b.host}/app:v1`)]);

const src = (host: string, role: PullSource['role']): PullSource => harnessSource(`${host}/app@${img.manifestDigest}`, role);

t.test('a blob that cannot be written: the pull fails saying why, and no source is marked down', async (t) => {
  const dest = mkdtempSync(join(work, 'dest-'));
  const hex = img.layerDigest.slice('sha256:'.length);
  mkdirSync(join(dest, 'blobs', 'sha256', hex), { recursive: true });
  writeFileSync(join(dest, 'blobs', 'sha256', hex, 'in-the-way'), 'x'); // not empty: rename cannot replace it
  const err = await pullImage([src(a.host, 'mirror'), src(b.host, 'primary')], { dest, platform: hostPlatform(), health: {}, log }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, PullError);
  t.match((err as PullError).message, /the OCI layout could not be written \(.*sha256.*\); no source is to blame/);
  for (const host of [a.host, b.host]) t.notOk((err as PullError).health[`insecure://${host}`]?.failures, `${host} not recorded as failed`);
});

t.test("the layout's own files cannot be written: the pull fails saying why, and keeps the health it learnt on the way", async (t) => {
  const refusing = `127.0.0.1:${await freePort()}`; // nothing listens: connection refused
  const sources = [src(refusing, 'mirror'), src(a.host, 'primary')];
  for (const [file, when] of [
    ['oci-layout', 'once the manifest is known, before any blob'],
    ['index.json', 'after every blob is in'],
  ] as const) {
    const dest = mkdtempSync(join(work, 'dest-'));
    mkdirSync(join(dest, file, 'in-the-way'), { recursive: true }); // a non-empty directory: rename cannot replace it
    const err = await pullImage(sources, { dest, platform: hostPlatform(), health: {}, log }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(err, PullError, `${file} (${when}): a PullError, which the CLI saves the health of`);
    t.match((err as PullError).message, new RegExp(`the OCI layout could not be written \\(.*${file.replace('.', '\\.')}.*\\); no source is to blame`));
    t.ok((err as PullError).health[`insecure://${refusing}`]?.failures, `${file}: the refusing mirror is recorded as failed`);
    t.notOk((err as PullError).health[`insecure://${a.host}`]?.failures, `${file}: the source that served is not`);
  }
});

t.test('a blob whose temp file cannot be opened: the pull fails, it does not wait forever on the unread body', async (t) => {
  // A big layer (its body cannot all sit in socket buffers) and a temp name past PATH_MAX (ENAMETOOLONG, even for root).
  const big = await buildImage(join(work, 'big'), { content: randomBytes(3 * 1024 * 1024).toString('base64'), tag: 'v1' });
  await pushImage(big, `${a.host}/big:v1`);
  // PATH_MAX is 4096 with the NUL: a blob's path (DEST/blobs/sha256/HEX, DEST + 78) must fit, its
  // temp (the same + ".PID.RANDOM.partial", DEST + 88 at the least) must not, whatever the pid's length.
  const DEST_LENGTH = 4010;
  let dest = mkdtempSync(join(work, 'deep-'));
  while (dest.length < DEST_LENGTH) dest = join(dest, 'd'.repeat(Math.max(1, Math.min(200, DEST_LENGTH - dest.length - 1))));
  mkdirSync(join(dest, 'blobs', 'sha256'), { recursive: true });
  const configHex = big.configDigest.slice('sha256:'.length);
  copyFileSync(join(big.layoutDir, 'blobs', 'sha256', configHex), join(dest, 'blobs', 'sha256', configHex)); // present: the layer is fetched first
  const pulled = pullImage([harnessSource(`${a.host}/big@${big.manifestDigest}`, 'primary')], { dest, platform: hostPlatform(), health: {}, log });
  const err = await pulled.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, PullError, 'it settles, failed');
  t.match((err as PullError).message, /the OCI layout could not be written .*ENAMETOOLONG/);
});

/**
 * The daemon's driver for reading the policy directory (fragment-io.ts, slicedIo): the blocking
 * calls in slices, between which the event loop turns. Asserted by what runs meanwhile, never by
 * how long anything took: with a slice of 0 ms every call waits for a turn of the loop.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockingIo, slicedIo, type FragmentIo } from '../../../src/fragments/fragment-io.js';

function files(n: number): string {
  const d = mkdtempSync(join(tmpdir(), 'mpd-io-'));
  for (let i = 0; i < n; i++) writeFileSync(join(d, `${String(i).padStart(3, '0')}.toml`), `# fragment ${i}\n`);
  return d;
}

/** lstat, open, fstat, read and close of each file, four at a time (as mapBounded does); whether a callback queued with setImmediate at the start ran before the end. */
async function readAll(io: FragmentIo, d: string): Promise<{ texts: string[]; loopTurned: boolean }> {
  let turned = false;
  setImmediate(() => (turned = true));
  const names = (await io.readdir(d)).map((b) => b.toString()).sort();
  const texts: string[] = new Array<string>(names.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < names.length; i = next++) {
      const path = join(d, names[i] as string);
      await io.lstat(path);
      const f = await io.open(path, 0);
      const size = (await f.stat()).size;
      const buf = Buffer.alloc(size);
      await f.read(buf, size, 0);
      await f.close();
      texts[i] = buf.toString();
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return { texts, loopTurned: turned };
}

t.test('sliced reads give what blocking reads give, and the event loop turns while they go on', async (t) => {
  const d = files(40);
  const blocking = await readAll(blockingIo, d);
  t.equal(blocking.loopTurned, false, 'the blocking driver holds the loop to the end');
  const sliced = await readAll(slicedIo(0), d);
  t.equal(sliced.loopTurned, true, 'a slice of 0 ms: the loop turns before the read is done');
  t.strictSame(sliced.texts, blocking.texts);
  t.equal(sliced.texts[39], '# fragment 39\n');
});

t.test('a call that fails in a slice rejects like the blocking one, and the next calls go on', async (t) => {
  const d = files(1);
  const io = slicedIo(0);
  await t.rejects(Promise.resolve(io.lstat(join(d, 'missing.toml'))), { code: 'ENOENT' });
  t.throws(() => blockingIo.lstat(join(d, 'missing.toml')), { code: 'ENOENT' });
  t.ok((await io.lstat(join(d, '000.toml'))).isFile());
});

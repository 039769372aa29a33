import t from 'tap';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeStaleTemps, writeFileAtomic } from '../../../src/output/atomic-write.js';

const isRoot = process.getuid?.() === 0;
const tmp = (): string => mkdtempSync(join(tmpdir(), 'mpd-aw-'));

// Both drivers: through the thread pool (the default) and blocking (the daemon's output).
for (const [label, driver] of [
  ['', {}],
  ['blocking: ', { blocking: true }],
] as const) {
  t.test(`${label}a new file gets the bytes and mode 0644 whatever the umask`, async (t) => {
    const d = tmp();
    const p = join(d, 'registries.conf');
    const old = process.umask(0o077);
    try {
      t.same(await writeFileAtomic(p, 'a = 1\n', driver), { changed: true });
    } finally {
      process.umask(old);
    }
    t.equal(readFileSync(p, 'utf8'), 'a = 1\n');
    t.equal(statSync(p).mode & 0o777, 0o644);
    t.same(readdirSync(d), ['registries.conf'], 'no temp file left behind');
  });

  t.test(`${label}unchanged bytes are not written at all`, async (t) => {
    const d = tmp();
    const p = join(d, 'f');
    await writeFileAtomic(p, 'same\n', driver);
    const before = statSync(p);
    t.same(await writeFileAtomic(p, 'same\n', driver), { changed: false });
    const after = statSync(p);
    t.equal(after.ino, before.ino, 'same inode: no rename happened');
    t.equal(after.mtimeMs, before.mtimeMs);
  });

  t.test(`${label}a replaced file keeps its mode and owner; the inode changes (rename, not overwrite)`, async (t) => {
    const d = tmp();
    const p = join(d, 'f');
    writeFileSync(p, 'old\n');
    chmodSync(p, 0o640);
    if (isRoot) chownSync(p, 4242, 4343);
    const ino = statSync(p).ino;
    await writeFileAtomic(p, 'new\n', driver);
    const st = statSync(p);
    t.equal(readFileSync(p, 'utf8'), 'new\n');
    t.equal(st.mode & 0o777, 0o640);
    if (isRoot) t.same([st.uid, st.gid], [4242, 4343]);
    t.not(st.ino, ino);
  });

  t.test(`${label}a symbolic link is replaced by a regular file like a new one (0644, our owner); its target is left alone`, async (t) => {
    const d = tmp();
    const target = join(d, 'shadow-like');
    writeFileSync(target, 'secret\n');
    chmodSync(target, 0o600);
    if (isRoot) chownSync(target, 4242, 4343);
    const p = join(d, 'registries.conf');
    symlinkSync('shadow-like', p);
    const r = await writeFileAtomic(p, 'new\n', driver);
    t.same(r, { changed: true, replacedLink: 'shadow-like' }, 'says a link was replaced, and which');
    const st = lstatSync(p);
    t.ok(st.isFile(), 'a regular file now');
    t.equal(st.mode & 0o777, 0o644, "not the target's 0600");
    t.same([st.uid, st.gid], [process.getuid?.(), process.getgid?.()], "our owner, not the target's");
    t.equal(readFileSync(p, 'utf8'), 'new\n');
    t.equal(readFileSync(target, 'utf8'), 'secret\n', 'the target is untouched');
    t.equal(statSync(target).mode & 0o777, 0o600);

    const dangling = join(d, 'dangling.conf');
    symlinkSync(join(d, 'nowhere'), dangling);
    t.same(await writeFileAtomic(dangling, 'x\n', { ...driver, mode: 0o640 }), { changed: true, replacedLink: join(d, 'nowhere') }, 'a dangling link too');
    t.equal(lstatSync(dangling).mode & 0o777, 0o640, 'with the mode given for a new file');
  });

  t.test(`${label}a failed write leaves the old file intact and no temp file`, async (t) => {
    const d = tmp();
    const p = join(d, 'f');
    writeFileSync(p, 'old\n');
    // A directory where the temp file should go that cannot be written (as root, use a missing parent instead).
    await t.rejects(writeFileAtomic(join(d, 'missing', 'f'), 'x', driver), { code: 'ENOENT' });
    if (!isRoot) {
      chmodSync(d, 0o555);
      await t.rejects(writeFileAtomic(p, 'new\n', driver), { code: 'EACCES' });
      chmodSync(d, 0o755);
    }
    t.equal(readFileSync(p, 'utf8'), 'old\n');
    t.same(readdirSync(d), ['f']);
  });

  t.test(`${label}concurrent readers never see a torn or empty file`, async (t) => {
    const d = tmp();
    const p = join(d, 'f');
    const a = `${'a'.repeat(200_000)}\n`;
    const b = `${'b'.repeat(300_000)}\n`;
    await writeFileAtomic(p, a, driver);
    let reads = 0;
    let bad = 0;
    let writing = true;
    const reader = (async () => {
      while (writing && reads < 100_000) {
        const s = readFileSync(p, 'utf8');
        if (s !== a && s !== b) bad++;
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let i = 0; i < 50; i++) await writeFileAtomic(p, i % 2 ? a : b, driver);
    writing = false;
    await reader;
    t.ok(reads > 0);
    t.equal(bad, 0, `${reads} reads, none torn`);
  });

  t.test(`${label}beforeReplace sees the file as it is just before the rename, and can refuse`, async (t) => {
    const d = tmp();
    const p = join(d, 'f');
    writeFileSync(p, 'theirs\n');
    let seen: string | undefined;
    const r = await writeFileAtomic(p, 'ours\n', { ...driver, beforeReplace: (cur) => ((seen = cur?.toString()), false) });
    t.same(r, { changed: false, aborted: true });
    t.equal(seen, 'theirs\n');
    t.equal(readFileSync(p, 'utf8'), 'theirs\n', 'not replaced');
    t.same(readdirSync(d), ['f'], 'no temp file left behind');
    t.same(await writeFileAtomic(p, 'ours\n', { ...driver, beforeReplace: (cur) => cur?.toString() === 'theirs\n' }), { changed: true });
    t.equal(readFileSync(p, 'utf8'), 'ours\n');
  });

  t.test(`${label}beforeReplace is asked before anything is written, and again just before the rename`, async (t) => {
    const d = tmp();
    const p = join(d, 'f');
    writeFileSync(p, 'looked at\n');
    const asked: Array<string | undefined> = [];
    const refuseAtOnce = await writeFileAtomic(p, 'ours\n', { ...driver, beforeReplace: (cur) => (asked.push(cur?.toString()), false) });
    t.same(refuseAtOnce, { changed: false, aborted: true });
    t.same(asked, ['looked at\n'], 'refused at the first read: asked once');
    asked.length = 0;
    // Someone writes while we write our temp file: the second question sees it.
    const raced = await writeFileAtomic(p, 'ours\n', {
      ...driver,
      beforeReplace: (cur) => {
        asked.push(cur?.toString());
        if (asked.length === 1) writeFileSync(p, 'theirs\n');
        return cur?.toString() === 'looked at\n';
      },
    });
    t.same(raced, { changed: false, aborted: true });
    t.same(asked, ['looked at\n', 'theirs\n']);
    t.equal(readFileSync(p, 'utf8'), 'theirs\n', 'their write is intact');
    t.same(readdirSync(d), ['f'], 'no temp file left behind');
  });

  t.test(`${label}syncDir false: the file is replaced as well (the caller fsyncs the directory)`, async (t) => {
    const d = tmp();
    const p = join(d, 'f');
    writeFileSync(p, 'old\n');
    t.same(await writeFileAtomic(p, 'new\n', { ...driver, syncDir: false }), { changed: true });
    t.equal(readFileSync(p, 'utf8'), 'new\n');
    t.same(readdirSync(d), ['f']);
  });

  t.test(`${label}a name of 255 bytes (NAME_MAX) is written: its temp file is named by a hash`, async (t) => {
    const d = tmp();
    const name = `${'é'.repeat(100)}${'x'.repeat(50)}.toml`; // 255 bytes in UTF-8
    t.equal(Buffer.byteLength(name), 255);
    t.same(await writeFileAtomic(join(d, name), 'a = 1\n', driver), { changed: true });
    t.same(await writeFileAtomic(join(d, name), 'a = 2\n', driver), { changed: true }, 'and replaced');
    t.equal(readFileSync(join(d, name), 'utf8'), 'a = 2\n');
    t.same(readdirSync(d), [name], 'no temp file left behind');
  });
}

t.test(
  'without CAP_CHOWN (the packaged unit) a file of another group is not replaced: refused with the fix, the file as it was',
  { skip: isRoot ? false : 'needs root, to give the file another group and drop CAP_CHOWN' },
  async (t) => {
    const d = tmp();
    const p = join(d, 'registries.conf');
    writeFileSync(p, 'a = 1\n', { mode: 0o640 });
    chownSync(p, 0, 4242);
    const module = fileURLToPath(new URL('../../../src/output/atomic-write.js', import.meta.url));
    const script = `import(${JSON.stringify(module)}).then((m) => m.writeFileAtomic(${JSON.stringify(p)}, 'b = 2\\n')).then(() => console.log('written'), (e) => console.log(e.message))`;
    const out = execFileSync('setpriv', ['--inh-caps=-chown', '--bounding-set=-chown', process.execPath, '-e', script], { encoding: 'utf8', timeout: 30_000 });
    t.match(out, `${p} is owned by uid 0, gid 4242: keeping its owner and group on the new file needs CAP_CHOWN`);
    t.match(out, `chown 0:0 ${p}`);
    t.equal(readFileSync(p, 'utf8'), 'a = 1\n', 'the file as it was');
    t.match(statSync(p), { gid: 4242, mode: 0o100640 });
    t.same(readdirSync(d), ['registries.conf'], 'no temp file left');
  },
);

t.test('blocking: a FIFO at the path is refused, not read (a read would hold the event loop)', async (t) => {
  const d = tmp();
  const p = join(d, 'f');
  execFileSync('mkfifo', [p]);
  await t.rejects(writeFileAtomic(p, 'x\n', { blocking: true }), /is not a regular file/);
  t.ok(lstatSync(p).isFIFO(), 'left as it was');
  t.same(readdirSync(d), ['f'], 'no temp file');
});

t.test('through the thread pool too: a FIFO at the path is refused, not read (a read would hold a pool thread until a writer came)', async (t) => {
  const d = tmp();
  const p = join(d, 'f');
  execFileSync('mkfifo', [p]);
  let settled = false;
  // Its refusal awaited from the start (it may come before the loop's first turn: no unhandled rejection meanwhile).
  const refused = t.rejects(
    writeFileAtomic(p, 'x\n').finally(() => (settled = true)),
    /is not a regular file/,
  );
  // A reader blocked on the FIFO is let go by a writer (bounded): the old read took its bytes.
  for (let n = 0; n < 200 && !settled; n++) {
    const fd = unlessNoReader(() => openSync(p, constants.O_WRONLY | constants.O_NONBLOCK));
    if (fd !== undefined) {
      writeSync(fd, 'from whoever owns the FIFO\n');
      closeSync(fd);
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await refused;
  t.ok(lstatSync(p).isFIFO(), 'left as it was');
  t.same(readdirSync(d), ['f'], 'no temp file');
});

/** `open` of a FIFO for writing, undefined while nobody has it open for reading (ENXIO). */
function unlessNoReader(open: () => number): number | undefined {
  try {
    return open();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENXIO') return undefined;
    throw e;
  }
}

t.test('removeStaleTemps: temp files of writers that no longer run go, everything else stays', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'mpd-temps-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dead = spawnSync(process.execPath, ['-e', '0']).pid; // exited and reaped
  const names = {
    deadOurs: `.registries.conf.${dead}.0a1b2c3d.tmp`,
    deadOther: `.other.conf.${dead}.0a1b2c3d.tmp`,
    live: `.registries.conf.${process.ppid}.0a1b2c3d.tmp`, // our parent runs
    mine: `.registries.conf.${process.pid}.0a1b2c3d.tmp`, // a write of ours in flight
    notOurs: `.registries.conf.${dead}.tmp`,
    plain: 'registries.conf',
  };
  for (const n of Object.values(names)) writeFileSync(join(dir, n), 'x');
  t.same(await removeStaleTemps(dir, { only: 'registries.conf' }), [names.deadOurs], "only the dead writer's temp beside that file");
  t.same(await removeStaleTemps(dir), [names.deadOther], "without a name: any dead writer's temp");
  t.same(readdirSync(dir).sort(), [names.live, names.mine, names.notOurs, names.plain].sort(), 'the rest is untouched');
  t.same(
    await removeStaleTemps(dir, { only: 'registries.conf', noWriteOfOurs: true }),
    [names.mine],
    'at start (no write of ours under way): one named with our pid is an earlier process of that pid',
  );
  t.same(await removeStaleTemps(join(dir, 'missing')), [], 'a missing directory is nothing to clean');
});

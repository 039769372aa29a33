import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyFile, classifyText, defaultBase, keepCopy, newestKeptCopy, originalCopyPath } from '../../src/output/managed-file.js';
import { renderRegistriesConf } from '../../src/registries-conf/render.js';

const ours = renderRegistriesConf(
  { unqualifiedSearchRegistries: ['docker.io'], registries: [{ location: 'quay.io', mirrors: [{ location: 'm.example' }] }] },
  { fragments: ['a.toml'] },
);

t.test('our own render is recognised; a hand edit below the header is detected; other files are foreign', async (t) => {
  t.equal(classifyText(ours), 'ours');
  t.equal(classifyText(ours.replace('m.example', 'n.example')), 'edited');
  t.equal(classifyText(`${ours}# a comment added by hand\n`), 'edited');
  t.equal(classifyText('unqualified-search-registries = ["docker.io"]\n'), 'foreign');
  t.equal(classifyText(''), 'foreign');
});

t.test('keepCopy never overwrites an earlier copy', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'mpd-mf-'));
  const p = join(d, 'registries.conf');
  writeFileSync(p, 'one\n');
  t.equal(await keepCopy(p), originalCopyPath(p));
  writeFileSync(p, 'two\n');
  t.equal(await keepCopy(p), `${originalCopyPath(p)}.1`);
  t.equal(readFileSync(originalCopyPath(p), 'utf8'), 'one\n');
  t.equal(readFileSync(`${originalCopyPath(p)}.1`, 'utf8'), 'two\n');
});

t.test('the newest copy is the highest number, gaps below it or not; a new copy goes after it, not into a gap', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'mpd-mf-'));
  const p = join(d, 'registries.conf');
  t.equal(await newestKeptCopy(p), undefined, 'none kept');
  for (const text of ['one\n', 'two\n', 'three\n']) {
    writeFileSync(p, text);
    await keepCopy(p);
  }
  rmSync(`${originalCopyPath(p)}.1`); // removed by hand
  t.equal(await newestKeptCopy(p), `${originalCopyPath(p)}.2`);
  writeFileSync(p, 'four\n');
  t.equal(await keepCopy(p), `${originalCopyPath(p)}.3`, 'after the newest, not into the gap');
  rmSync(originalCopyPath(p));
  t.equal(await newestKeptCopy(p), `${originalCopyPath(p)}.3`, 'the first removed: still the newest');
  t.equal(readFileSync((await newestKeptCopy(p)) as string, 'utf8'), 'four\n');
});

t.test('keepCopy: the copy keeps the mode, and no temp file is left beside it', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'mpd-mf-'));
  const p = join(d, 'registries.conf');
  writeFileSync(p, 'secret-ish\n', { mode: 0o600 });
  const copy = await keepCopy(p, `${p}.before-restore`);
  t.equal(statSync(copy).mode & 0o777, 0o600);
  t.same(readdirSync(d).sort(), ['registries.conf', 'registries.conf.before-restore']);
  // Made under a temp name, then linked to its own: one link left.
  t.equal(statSync(copy).nlink, 1, 'the temp name is gone');
});

t.test('the default base is the kept original, else a foreign output itself, else none', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'mpd-mf-'));
  const p = join(d, 'registries.conf');
  t.equal(await defaultBase(p), undefined, 'nothing there');
  t.equal(await classifyFile(p), 'missing');
  writeFileSync(p, ours);
  t.equal(await defaultBase(p), undefined, 'our own output is never a base');
  writeFileSync(p, 'short-name-mode = "enforcing"\n');
  t.equal(await defaultBase(p), p, 'a foreign output is');
  await keepCopy(p);
  writeFileSync(p, ours);
  t.equal(await defaultBase(p), originalCopyPath(p), 'the kept original wins once it exists');
});

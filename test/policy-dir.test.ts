import t from 'tap';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPolicyDir, MAX_FRAGMENT_BYTES } from '../src/policy-dir.js';
import { formatDiagnostic } from '../src/diagnostic.js';

const isRoot = process.getuid?.() === 0;

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mpd-dir-'));
  chmodSync(d, 0o755);
  return d;
}

function put(d: string, name: string, text = '', mode = 0o644): string {
  const p = join(d, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
}

t.test('fragments are read in byte order of their names; leftovers are ignored with a reason', async (t) => {
  const d = dir();
  for (const name of ['b.toml', 'A.yaml', 'a.yml', '.hidden.toml', 'x.toml~', '.x.toml.swp', 'y.toml.swp', 'z.tmp', 'p.toml.dpkg-old', 'q.toml.dpkg-new', 'r.toml.rpmnew', 's.toml.rpmsave', 'README', '4913']) put(d, name);
  mkdirSync(join(d, 'sub.toml'));
  const got = await readPolicyDir(d);
  t.same(got.fragments.map((f) => f.file), ['A.yaml', 'a.yml', 'b.toml']);
  t.same(got.diagnostics, []);
  const ignored = Object.fromEntries(got.ignored.map((i) => [i.name, i.why]));
  t.same(Object.keys(ignored).sort(), ['.hidden.toml', '.x.toml.swp', '4913', 'README', 'p.toml.dpkg-old', 'q.toml.dpkg-new', 'r.toml.rpmnew', 's.toml.rpmsave', 'sub.toml', 'x.toml~', 'y.toml.swp', 'z.tmp']);
  t.equal(ignored['sub.toml'], 'subdirectory');
  t.equal(ignored['x.toml~'], 'editor backup');
});

t.test('a missing directory is reported as missing, not as an error', async (t) => {
  const got = await readPolicyDir(join(dir(), 'nope'));
  t.equal(got.exists, false);
  t.same(got.diagnostics, []);
});

t.test('fragments writable by group or others are refused; the rest are still read', async (t) => {
  const d = dir();
  put(d, 'good.toml');
  put(d, 'group.toml', '', 0o664);
  put(d, 'other.toml', '', 0o646);
  const got = await readPolicyDir(d);
  t.same(got.fragments.map((f) => f.file), ['good.toml']);
  t.same(got.diagnostics.map(formatDiagnostic), [
    'group.toml: refusing fragment: writable by group (mode 0664) (use --allow-unsafe-fragments only for demos and tests)',
    'other.toml: refusing fragment: writable by others (mode 0646) (use --allow-unsafe-fragments only for demos and tests)',
  ]);
  const unsafe = await readPolicyDir(d, { allowUnsafe: true });
  t.same(unsafe.fragments.map((f) => f.file), ['good.toml', 'group.toml', 'other.toml'], '--allow-unsafe-fragments reads them');
});

t.test('a fragment owned by another user is refused', { skip: !isRoot && 'needs root to chown' }, async (t) => {
  const d = dir();
  chownSync(put(d, 'theirs.toml'), 4242, 4242);
  put(d, 'mine.toml');
  const got = await readPolicyDir(d, { uid: 1000 });
  t.same(got.fragments.map((f) => f.file), ['mine.toml'], 'root-owned is trusted');
  t.match(got.diagnostics.map(formatDiagnostic), [/^theirs\.toml: refusing fragment: owned by uid 4242, not by root or uid 1000/]);
  const asOwner = await readPolicyDir(d, { uid: 4242 });
  t.same(asOwner.fragments.map((f) => f.file), ['mine.toml', 'theirs.toml'], 'the user running the command may own fragments');
});

t.test('a policy directory writable by others is refused whole', async (t) => {
  const d = dir();
  put(d, 'good.toml');
  chmodSync(d, 0o1777);
  const got = await readPolicyDir(d);
  t.same(got.fragments, []);
  t.match(got.diagnostics.map(formatDiagnostic), [/refusing policy directory: writable by group and others \(mode 1777\)/]);
});

t.test('symlinks: inside the directory are followed, outside are refused', async (t) => {
  const d = dir();
  const outside = dir();
  put(d, 'real.toml', '# inside');
  put(outside, 'evil.toml', '# outside');
  symlinkSync('real.toml', join(d, 'link.toml'));
  symlinkSync(join(outside, 'evil.toml'), join(d, 'out.toml'));
  symlinkSync('missing.toml', join(d, 'dangling.toml'));
  const got = await readPolicyDir(d);
  t.same(got.fragments.map((f) => [f.file, f.text]), [['link.toml', '# inside'], ['real.toml', '# inside']]);
  t.match(got.diagnostics.map(formatDiagnostic), [/^out\.toml: refusing fragment: symlink to .*evil\.toml, outside the policy directory/]);
  t.ok(got.ignored.some((i) => i.name === 'dangling.toml'), 'a dangling link is skipped like a vanished file');
});

t.test('oversized and non-UTF-8 fragments are refused', async (t) => {
  const d = dir();
  put(d, 'big.toml', '#'.repeat(MAX_FRAGMENT_BYTES + 1));
  writeFileSync(join(d, 'latin1.toml'), Buffer.from([0x23, 0xe9, 0x0a]));
  chmodSync(join(d, 'latin1.toml'), 0o644);
  const got = await readPolicyDir(d);
  t.same(got.fragments, []);
  t.match(got.diagnostics.map(formatDiagnostic), [/^big\.toml: refusing fragment: \d+ bytes, more than the 1048576 allowed/, /^latin1\.toml: not valid UTF-8 text/]);
});

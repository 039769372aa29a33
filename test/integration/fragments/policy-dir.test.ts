import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  readPolicyDir,
  DEFAULT_MAX_FRAGMENT_BYTES,
  MAX_FRAGMENTS,
  RACY_MS,
  READ_CONCURRENCY,
  type FragmentReadCache,
} from '../../../src/fragments/policy-dir.js';
import { SweepCache } from '../../../src/core/sweep-cache.js';
import { error, formatDiagnostic, type Diagnostic } from '../../../src/core/diagnostic.js';
import { runCli } from '../../helpers/cli.js';

const isRoot = process.getuid?.() === 0;

/** A small max-fragment-bytes, so that the cap's edges are cheap to write. */
const CAP = 4096;

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
  for (const name of [
    'b.toml',
    'A.yaml',
    'a.yml',
    'c.json',
    '.hidden.toml',
    'x.toml~',
    '.x.toml.swp',
    'y.toml.swp',
    'z.tmp',
    'p.toml.dpkg-old',
    'q.toml.dpkg-new',
    'r.toml.rpmnew',
    's.toml.rpmsave',
    'README',
    'notes.txt',
    '4913',
    'sedAb3xZ9',
    '#c.toml#',
  ])
    put(d, name);
  mkdirSync(join(d, 'sub.toml'));
  const got = await readPolicyDir(d);
  t.same(
    got.fragments.map((f) => f.file),
    ['A.yaml', 'a.yml', 'b.toml', 'c.json'],
  );
  t.same(
    got.diagnostics.map(formatDiagnostic),
    ['notes.txt: warning: not a policy fragment, ignored: fragments are named *.toml, *.yaml, *.yml or *.json'],
    'a file that is no fragment and no leftover is a warning (a README is neither: it is ignored quietly)',
  );
  const ignored = Object.fromEntries(got.ignored.map((i) => [i.name, i.why]));
  t.same(Object.keys(ignored).sort(), [
    '#c.toml#',
    '.hidden.toml',
    '.x.toml.swp',
    '4913',
    'README',
    'p.toml.dpkg-old',
    'q.toml.dpkg-new',
    'r.toml.rpmnew',
    's.toml.rpmsave',
    'sedAb3xZ9',
    'sub.toml',
    'x.toml~',
    'y.toml.swp',
    'z.tmp',
  ]);
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
  t.same(
    got.fragments.map((f) => f.file),
    ['good.toml'],
  );
  t.same(got.diagnostics.map(formatDiagnostic), [
    `group.toml: refusing fragment: writable by group (mode 0664); check it, then: chmod go-w ${join(d, 'group.toml')} (use --allow-unsafe-fragments only for demos and tests)`,
    `other.toml: refusing fragment: writable by others (mode 0646); check it, then: chmod go-w ${join(d, 'other.toml')} (use --allow-unsafe-fragments only for demos and tests)`,
  ]);
  const unsafe = await readPolicyDir(d, { allowUnsafe: true });
  t.same(
    unsafe.fragments.map((f) => f.file),
    ['good.toml', 'group.toml', 'other.toml'],
    '--allow-unsafe-fragments reads them',
  );
});

t.test(
  'a fragment owned by a non-root user (nobody, 65534) is refused when that user is not the one reading',
  { skip: !isRoot && 'needs root to chown a file to another user' },
  async (t) => {
    const d = dir();
    chownSync(put(d, '10-nobody.toml', '[[mirror-set]]\nsource = "a.example.com"\nmirrors = ["m.example.net"]\n'), 65534, 65534);
    put(d, '20-root.toml');
    const got = await readPolicyDir(d); // as root: only root (or the reader) may own fragments
    t.same(
      got.fragments.map((f) => f.file),
      ['20-root.toml'],
      'the root-owned fragment is still read',
    );
    t.same(got.diagnostics.map(formatDiagnostic), [
      `10-nobody.toml: refusing fragment: owned by uid 65534, not by root or uid 0; check it, then: chown root ${join(d, '10-nobody.toml')} (use --allow-unsafe-fragments only for demos and tests)`,
    ]);
  },
);

t.test('a policy directory owned by a non-root user is refused whole', { skip: !isRoot && 'needs root to chown a directory to another user' }, async (t) => {
  const d = dir();
  put(d, 'good.toml');
  chownSync(d, 65534, 65534);
  const got = await readPolicyDir(d);
  t.same(got.fragments, []);
  const lines = got.diagnostics.map(formatDiagnostic);
  t.equal(lines.length, 2);
  t.match(lines[0], /refusing policy directory: owned by uid 65534/);
  t.match(lines[0], `; check them, then: chown root ${d}`, 'the fix named');
  t.equal(lines[1], 'good.toml: refusing fragment: the policy directory is owned by uid 65534, not by root or uid 0');
});

t.test('a fragment owned by another user is refused', { skip: !isRoot && 'needs root to chown' }, async (t) => {
  const d = dir();
  chownSync(put(d, 'theirs.toml'), 4242, 4242);
  put(d, 'mine.toml');
  const got = await readPolicyDir(d, { uid: 1000 });
  t.same(
    got.fragments.map((f) => f.file),
    ['mine.toml'],
    'root-owned is trusted',
  );
  t.match(got.diagnostics.map(formatDiagnostic), [/^theirs\.toml: refusing fragment: owned by uid 4242, not by root or uid 1000/]);
  const asOwner = await readPolicyDir(d, { uid: 4242 });
  t.same(
    asOwner.fragments.map((f) => f.file),
    ['mine.toml', 'theirs.toml'],
    'the user running the command may own fragments',
  );
});

t.test('a policy directory writable by others is refused whole: the directory and each fragment named, nothing read', async (t) => {
  const d = dir();
  put(d, 'good.toml');
  put(d, 'other.yaml');
  put(d, '.hidden.toml');
  chmodSync(d, 0o1777);
  const got = await readPolicyDir(d);
  t.same(got.fragments, []);
  const lines = got.diagnostics.map(formatDiagnostic);
  t.match(lines[0], /refusing policy directory: writable by group and others \(mode 1777\)/);
  t.same(
    lines.slice(1),
    ['good.toml', 'other.yaml'].map((f) => `${f}: refusing fragment: the policy directory is writable by group and others (mode 1777)`),
  );
  t.same(
    got.ignored.map((i) => i.name),
    ['.hidden.toml'],
    'ignored names are still ignored, not refused',
  );
  t.equal(
    got.dirProblem && formatDiagnostic(got.dirProblem),
    lines[0],
    'the refusal of the whole directory is flagged as such (the daemon then holds every fragment)',
  );
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
  t.same(
    got.fragments.map((f) => [f.file, f.text]),
    [
      ['link.toml', '# inside'],
      ['real.toml', '# inside'],
    ],
  );
  t.match(got.diagnostics.map(formatDiagnostic), [/^out\.toml: refusing fragment: symlink to .*evil\.toml, outside the policy directory/]);
  t.ok(
    got.ignored.some((i) => i.name === 'dangling.toml'),
    'a dangling link is skipped like a vanished file',
  );
});

t.test('oversized and non-UTF-8 fragments are refused', async (t) => {
  const d = dir();
  put(d, 'big.toml', '#'.repeat(CAP + 1));
  writeFileSync(join(d, 'latin1.toml'), Buffer.from([0x61, 0x3d, 0x31, 0x0a, 0x23, 0xe9, 0x0a]));
  chmodSync(join(d, 'latin1.toml'), 0o644);
  const got = await readPolicyDir(d, { maxFragmentBytes: CAP });
  t.same(got.fragments, []);
  t.match(got.diagnostics.map(formatDiagnostic), [
    /^big\.toml: refusing fragment: 4097 bytes, more than the 4096 allowed by max-fragment-bytes$/,
    /^latin1\.toml:2:1: not valid UTF-8 text/,
  ]);
});

t.test('a UTF-16 fragment with its byte order mark (Windows PowerShell writes one): YAML is read, TOML refused', async (t) => {
  const d = dir();
  const utf16 = (text: string): Buffer => Buffer.from(`\ufeff${text}`, 'utf16le');
  writeFileSync(join(d, 'idms.yaml'), utf16('apiVersion: config.openshift.io/v1\nkind: Image\nmetadata: {name: cluster}\nspec: {}\n'));
  writeFileSync(join(d, 'lists.toml'), utf16('blocked-registries = ["b.io"]\n'));
  chmodSync(join(d, 'idms.yaml'), 0o644);
  chmodSync(join(d, 'lists.toml'), 0o644);
  const got = await readPolicyDir(d);
  t.same(
    got.fragments.map((f) => [f.file, f.text.slice(0, 11)]),
    [['idms.yaml', 'apiVersion:']],
  );
  t.match(got.diagnostics.map(formatDiagnostic), [/^lists\.toml: UTF-16 text \(byte order mark FF FE\); a TOML fragment must be UTF-8/]);
});

t.test('a policy directory writable by its group is refused whole too', async (t) => {
  const d = dir();
  put(d, 'good.toml');
  chmodSync(d, 0o775);
  const got = await readPolicyDir(d);
  t.same(got.fragments, []);
  t.match(got.diagnostics.map(formatDiagnostic), [
    `refusing policy directory: writable by group (mode 0775); fragments there could come from an unprivileged user; check them, then: chmod go-w ${d}`,
    /^good\.toml: refusing fragment: the policy directory is writable by group \(mode 0775\)$/,
  ]);
});

t.test('a symlink into a subdirectory is followed; one through .. out of the directory is refused', async (t) => {
  const root = dir();
  const d = join(root, 'policy.d');
  mkdirSync(d, { mode: 0o755 });
  mkdirSync(join(d, 'parts'), { mode: 0o755 });
  put(join(d, 'parts'), 'inner.toml', '# inner');
  put(root, 'beside.toml', '# beside the policy directory');
  symlinkSync('parts/inner.toml', join(d, 'in.toml'));
  symlinkSync('../beside.toml', join(d, 'up.toml'));
  symlinkSync('parts/../../beside.toml', join(d, 'zigzag.toml'));
  const got = await readPolicyDir(d);
  t.same(
    got.fragments.map((f) => [f.file, f.text]),
    [['in.toml', '# inner']],
  );
  t.match(got.diagnostics.map(formatDiagnostic), [
    /^up\.toml: refusing fragment: symlink to .*beside\.toml, outside the policy directory/,
    /^zigzag\.toml: refusing fragment: symlink to .*beside\.toml, outside/,
  ]);
});

t.test('a symlink into a dot-named subdirectory (a Kubernetes volume: x -> ..data/x, ..data -> ..TIME) is followed', async (t) => {
  const d = dir();
  const ts = '..2026_12_06_05_00_00.123456789';
  mkdirSync(join(d, ts), { mode: 0o755 });
  put(join(d, ts), 'x.toml', '# projected');
  symlinkSync(ts, join(d, '..data'));
  symlinkSync('..data/x.toml', join(d, 'x.toml'));
  symlinkSync('..data/../..data/x.toml', join(d, 'y.toml'));
  symlinkSync('.', join(d, 'self.toml')); // the directory itself: a subdirectory as before, not "outside"
  const got = await readPolicyDir(d);
  t.same(got.diagnostics.map(formatDiagnostic), []);
  t.ok(got.ignored.some((i) => i.name === 'self.toml' && i.why === 'subdirectory'));
  t.same(
    got.fragments.map((f) => [f.file, f.text]),
    [
      ['x.toml', '# projected'],
      ['y.toml', '# projected'],
    ],
  );
  chmodSync(join(d, ts), 0o777);
  const open = await readPolicyDir(d);
  t.same(open.fragments, [], 'a data directory others may write is refused');
  t.match(open.diagnostics.map(formatDiagnostic), [
    /^x\.toml: refusing fragment: symlink to .*x\.toml, in .*\.\.2026_12_06_05_00_00\.123456789, which is writable by group and others/,
    /^y\.toml/,
  ]);
});

t.test('a Kubernetes volume updated (..data swapped): the identity changes, and the entries the links pass through are named', async (t) => {
  const d = dir();
  const data = (ts: string, text: string): void => {
    mkdirSync(join(d, ts), { mode: 0o755 });
    put(join(d, ts), 'x.toml', text);
    symlinkSync(ts, join(d, '..data_tmp'));
    renameSync(join(d, '..data_tmp'), join(d, '..data'));
  };
  data('..2026_12_06_05_00_00.1', '# one');
  symlinkSync('..data/x.toml', join(d, 'x.toml'));
  const before = await readPolicyDir(d);
  t.same([...(before.viaLinks ?? [])].sort(), ['..2026_12_06_05_00_00.1', '..data']);
  data('..2026_12_06_05_00_00.2', '# two');
  const after = await readPolicyDir(d);
  t.not(after.identity, before.identity, "the rescan sees the swap: a link's identity covers its target");
  t.same(
    after.fragments.map((f) => f.text),
    ['# two'],
  );
  t.same([...(after.viaLinks ?? [])].sort(), ['..2026_12_06_05_00_00.2', '..data']);
});

t.test('a fragment with a second hard link is refused; the others are read', async (t) => {
  const d = dir();
  const elsewhere = dir();
  put(d, 'single.toml', '# one name');
  put(elsewhere, 'shared.toml', '# two names');
  linkSync(join(elsewhere, 'shared.toml'), join(d, 'linked.toml'));
  put(d, 'twin-a.toml', '# twins');
  linkSync(join(d, 'twin-a.toml'), join(d, 'twin-b.toml'));
  const got = await readPolicyDir(d);
  t.same(
    got.fragments.map((f) => f.file),
    ['single.toml'],
  );
  t.same(
    got.diagnostics.map(formatDiagnostic),
    ['linked.toml', 'twin-a.toml', 'twin-b.toml'].map(
      (f) => `${f}: refusing fragment: it has 2 hard links; a fragment must be a file of its own (use --allow-unsafe-fragments only for demos and tests)`,
    ),
  );
  const unsafe = await readPolicyDir(d, { allowUnsafe: true });
  t.same(
    unsafe.fragments.map((f) => f.file),
    ['linked.toml', 'single.toml', 'twin-a.toml', 'twin-b.toml'],
    '--allow-unsafe-fragments reads them',
  );
});

t.test('a fragment of exactly max-fragment-bytes is read; one byte more is refused; the others are unaffected', async (t) => {
  const d = dir();
  put(d, 'a-small.toml', '# small');
  put(d, 'b-exact.toml', '#'.repeat(CAP));
  put(d, 'c-over.toml', '#'.repeat(CAP + 1));
  put(d, 'd-small.toml', '# small too');
  const got = await readPolicyDir(d, { maxFragmentBytes: CAP });
  t.same(
    got.fragments.map((f) => [f.file, f.text.length]),
    [
      ['a-small.toml', 7],
      ['b-exact.toml', CAP],
      ['d-small.toml', 11],
    ],
  );
  t.same(got.diagnostics.map(formatDiagnostic), [`c-over.toml: refusing fragment: ${CAP + 1} bytes, more than the ${CAP} allowed by max-fragment-bytes`]);
  t.ok(MAX_FRAGMENTS >= 50_000, `the default cap on the number of fragments (${MAX_FRAGMENTS}) is well above the 10 000 of the bench`);
});

t.test('over the cap on the number of fragments, the ones past it (in byte order) are refused one by one; ignored files do not count', async (t) => {
  const d = dir();
  for (const name of ['e.toml', 'a.toml', 'c.yaml', 'b.toml', 'd.yml']) put(d, name, `# ${name}`);
  for (const name of ['.hidden.toml', 'x.toml~', 'notes.txt']) put(d, name);
  const got = await readPolicyDir(d, { maxFragments: 3 });
  const warnings = got.diagnostics.filter((x) => x.severity === 'warning').map(formatDiagnostic);
  t.same(warnings, ['notes.txt: warning: not a policy fragment, ignored: fragments are named *.toml, *.yaml, *.yml or *.json']);
  t.same(
    got.fragments.map((f) => f.file),
    ['a.toml', 'b.toml', 'c.yaml'],
  );
  t.same(got.diagnostics.filter((x) => x.severity === 'error').map(formatDiagnostic), [
    'd.yml: refusing fragment: the policy directory holds more than 3 fragments; this is number 4 in byte order of names',
    'e.toml: refusing fragment: the policy directory holds more than 3 fragments; this is number 5 in byte order of names',
  ]);
  t.equal(got.ignored.length, 2);
  const atCap = await readPolicyDir(d, { maxFragments: 5 });
  t.equal(atCap.fragments.length, 5, 'exactly at the cap: all read');
  t.same(
    atCap.diagnostics.filter((x) => x.severity === 'error'),
    [],
  );
});

t.test(
  'nothing but regular files is opened: a FIFO and a device are refused by type, without opening them',
  { skip: !isRoot && 'needs root for mknod' },
  async (t) => {
    const d = dir();
    put(d, '10-good.toml', '# good');
    execFileSync('mkfifo', ['-m', '0644', join(d, '20-fifo.toml')]);
    // Major 240 is reserved for local use: no driver, so opening it fails (ENXIO); refusing it by type never tries.
    execFileSync('mknod', ['-m', '0644', join(d, '30-dev.toml'), 'c', '240', '0']);
    symlinkSync('30-dev.toml', join(d, '40-link-to-dev.toml'));
    for (const opts of [{}, { allowUnsafe: true }]) {
      const got = await readPolicyDir(d, opts);
      t.same(
        got.fragments.map((f) => f.file),
        ['10-good.toml'],
      );
      t.same(got.diagnostics.map(formatDiagnostic), [
        '20-fifo.toml: refusing fragment: a FIFO, not a regular file',
        '30-dev.toml: refusing fragment: a character device, not a regular file',
        '40-link-to-dev.toml: refusing fragment: a character device, not a regular file',
      ]);
    }
  },
);

t.test('a fragment whose name is not valid UTF-8 is refused by name (bytes escaped), not left out silently', async (t) => {
  const d = dir();
  put(d, '10-good.toml', '# good');
  const raw = Buffer.concat([Buffer.from(join(d, '20-caf')), Buffer.from([0xe9]), Buffer.from('.toml')]);
  writeFileSync(raw, '# latin-1 name');
  chmodSync(raw, 0o644);
  const other = Buffer.concat([Buffer.from(join(d, 'notes-')), Buffer.from([0xff])]);
  writeFileSync(other, 'x');
  const got = await readPolicyDir(d);
  t.same(
    got.fragments.map((f) => f.file),
    ['10-good.toml'],
  );
  t.same(got.diagnostics.map(formatDiagnostic), [
    '20-caf\\xe9.toml: refusing fragment: its name is not valid UTF-8 (shown with the bytes escaped); rename it',
    'notes-\\xff: warning: not a policy fragment, ignored: fragments are named *.toml, *.yaml, *.yml or *.json',
  ]);
  const check = await runCli(['check', '--policy-dir', d]);
  t.equal(check.code, 1, '`check` fails on it');
  t.match(check.stderr, /20-caf\\xe9\.toml: error: refusing fragment: its name is not valid UTF-8/);
  t.match(check.stderr, /notes-\\xff: warning: not a policy fragment/, '`check` shows the warning too');
});

t.test('by default a fragment of a few MB is read (an oc-mirror IDMS of a large catalog); past 16 MiB it is refused', async (t) => {
  const d = dir();
  put(d, 'a-idms.toml', '#'.repeat(3 * 1024 * 1024));
  put(d, 'b-huge.toml', '#'.repeat(DEFAULT_MAX_FRAGMENT_BYTES + 1));
  const got = await readPolicyDir(d);
  t.same(
    got.fragments.map((f) => [f.file, f.text.length]),
    [['a-idms.toml', 3 * 1024 * 1024]],
  );
  t.same(got.diagnostics.map(formatDiagnostic), [
    `b-huge.toml: refusing fragment: ${DEFAULT_MAX_FRAGMENT_BYTES + 1} bytes, more than the 16777216 allowed by max-fragment-bytes`,
  ]);
});

t.test('read many at once, the result is the same as one by one: fragments, refusals and ignored files in byte order of names', async (t) => {
  const d = dir();
  const n = READ_CONCURRENCY * 10;
  const names = Array.from({ length: n }, (_, i) => `${String(n - i).padStart(4, '0')}-p.toml`); // written in reverse order
  names.forEach((name, i) => {
    // Big and small files mixed, so that reads finish out of order; every 7th is refused, every 13th a leftover beside it.
    put(d, name, `# ${name}\n${'#'.repeat(i % 3 === 0 ? 200_000 : 10)}\n`, i % 7 === 0 ? 0o664 : 0o644);
    if (i % 13 === 0) put(d, `${name}~`);
  });
  const sorted = [...names].sort();
  const expected = {
    fragments: sorted.filter((_, i) => names.indexOf(sorted[i] as string) % 7 !== 0),
    refused: sorted
      .filter((_, i) => names.indexOf(sorted[i] as string) % 7 === 0)
      .map(
        (f) =>
          `${f}: refusing fragment: writable by group (mode 0664); check it, then: chmod go-w ${join(d, f)} (use --allow-unsafe-fragments only for demos and tests)`,
      ),
    ignored: sorted.filter((_, i) => names.indexOf(sorted[i] as string) % 13 === 0).map((f) => `${f}~`),
  };
  for (let run = 0; run < 3; run++) {
    const got = await readPolicyDir(d);
    t.same(
      got.fragments.map((f) => f.file),
      expected.fragments,
      `run ${run}: fragments`,
    );
    t.ok(
      got.fragments.every((f) => f.text.startsWith(`# ${f.file}\n`)),
      `run ${run}: each text is its own file's`,
    );
    t.same(got.diagnostics.map(formatDiagnostic), expected.refused, `run ${run}: refusals`);
    t.same(
      got.ignored.map((i) => i.name),
      expected.ignored,
      `run ${run}: ignored`,
    );
  }
});

t.test('a read cache: an unchanged fragment read well after its last change is not read again; any change is', async (t) => {
  const d = dir();
  put(d, 'a.toml', 'a = 1\n');
  put(d, 'b.toml', 'b = 1\n');
  const cache: FragmentReadCache = new SweepCache();
  const texts = async (): Promise<string[]> => (await readPolicyDir(d, { cache })).fragments.map((f) => `${f.file}=${f.text}`);
  const readAt = (name: string): number | undefined => cache.get(name)?.readAt;

  t.same(await texts(), ['a.toml=a = 1\n', 'b.toml=b = 1\n']);
  const first = readAt('a.toml');
  await new Promise((r) => setTimeout(r, 20));
  await texts();
  // Only a first read within RACY_MS of the write makes the case; a machine that stalled longer
  // between them has not (the second read then rightly trusts the cache).
  const firstAfterChange = (first ?? 0) - statSync(join(d, 'a.toml')).ctimeMs;
  if (firstAfterChange < RACY_MS) t.not(readAt('a.toml'), first, 'changed within a second of its read ("racily clean"): read again');
  else t.comment(`the first read came ${Math.round(firstAfterChange)} ms after the write: the racy case not made`);
  await new Promise((r) => setTimeout(r, 1100));
  await texts();
  const trusted = readAt('a.toml');
  await new Promise((r) => setTimeout(r, 20));
  t.same(await texts(), ['a.toml=a = 1\n', 'b.toml=b = 1\n']);
  t.equal(readAt('a.toml'), trusted, 'unchanged and read well after its change: served from the cache, not opened');

  put(d, 'a.toml', 'a = 2\n'); // the same size: the times and ctime move
  t.same(await texts(), ['a.toml=a = 2\n', 'b.toml=b = 1\n'], 'a rewrite is read');
  await new Promise((r) => setTimeout(r, 1100));
  await texts();
  chmodSync(join(d, 'b.toml'), 0o600);
  await texts();
  t.not(readAt('b.toml'), undefined);
  if (isRoot) {
    chmodSync(join(d, 'b.toml'), 0o666);
    const refused = await readPolicyDir(d, { cache });
    t.match(
      refused.diagnostics.map(formatDiagnostic),
      [/b\.toml: refusing fragment: writable by group and others/],
      'a chmod to unsafe is refused, cache or not',
    );
  }
  writeFileSync(join(d, 'c.toml'), 'c = 1\n');
  const removed = join(d, 'a.toml');
  execFileSync('rm', [removed]);
  t.same(
    (await readPolicyDir(d, { cache, allowUnsafe: true })).fragments.map((f) => f.file),
    ['b.toml', 'c.toml'],
  );
  t.equal(cache.get('a.toml'), undefined, 'a removed fragment is swept from the cache');
});

t.test('identity: equal while nothing changes, different after each change a render would see (the daemon rescan compares it)', async (t) => {
  const d = dir();
  const other = dir();
  put(d, '10-a.toml', 'a');
  put(other, 'target.toml', 'x');
  symlinkSync(join(other, 'target.toml'), join(d, '30-link.toml'));
  const cache: FragmentReadCache = new SweepCache();
  const identity = async (): Promise<string> => (await readPolicyDir(d, { allowUnsafe: true, cache })).identity;
  let last = await identity();
  t.equal(await identity(), last, 'nothing changed: equal (and from the cache)');
  const changes: Array<[string, () => void]> = [
    ['a fragment rewritten, same size', () => writeFileSync(join(d, '10-a.toml'), 'b')],
    ['a fragment chmod-ed', () => chmodSync(join(d, '10-a.toml'), 0o600)],
    ['a new fragment', () => put(d, '20-b.toml', 'b')],
    ['a file that is not a fragment', () => put(d, 'README', 'r')],
    ['the target of a linked fragment rewritten', () => writeFileSync(join(other, 'target.toml'), 'yy')],
    [
      'a fragment renamed over',
      () => {
        put(d, '.tmp', 'c');
        execFileSync('mv', [join(d, '.tmp'), join(d, '20-b.toml')]);
      },
    ],
    ['the policy dir chmod-ed', () => chmodSync(d, 0o700)],
  ];
  for (const [what, change] of changes) {
    // File times come from the kernel's coarse clock (a tick, 1-4 ms): a change in the same tick as the last look could keep them.
    await new Promise((r) => setTimeout(r, 20));
    change();
    const now = await identity();
    t.not(now, last, what);
    t.equal(await identity(), now, `${what}: then stable`);
    last = now;
  }
  await new Promise((r) => setTimeout(r, 20));
  put(d, '.leftover.writing', 'ignored by name');
  t.not(await identity(), last, 'a dotfile: the directory changed (its times moved)');
  t.equal((await readPolicyDir(join(d, 'missing'))).exists, false);
  t.not((await readPolicyDir(join(d, 'missing'))).identity, last, 'a missing directory has an identity of its own');
});

t.test('the blocking read (check, render) sees exactly what the daemon’s read sees: fragments, refusals, ignored files, identity', async (t) => {
  const root = dir();
  const d = join(root, 'policy.d');
  mkdirSync(d, { mode: 0o755 });
  mkdirSync(join(d, 'parts'), { mode: 0o755 });
  mkdirSync(join(d, 'sub.toml'), { mode: 0o755 });
  put(d, '10-good.toml', '# good');
  put(d, '11-group.toml', '', 0o664);
  put(d, '12-big.toml', '#'.repeat(CAP + 1));
  put(d, '13-exact.toml', '#'.repeat(CAP));
  writeFileSync(join(d, '14-latin1.toml'), Buffer.from([0x23, 0xe9, 0x0a]));
  chmodSync(join(d, '14-latin1.toml'), 0o644);
  put(join(d, 'parts'), 'inner.toml', '# inner');
  put(root, 'beside.toml', '# beside');
  symlinkSync('parts/inner.toml', join(d, '20-in.toml'));
  symlinkSync('../beside.toml', join(d, '21-up.toml'));
  symlinkSync('missing.toml', join(d, '22-dangling.toml'));
  symlinkSync('parts', join(d, '23-dir-link.toml'));
  put(d, '30-twin.toml', '# twins');
  linkSync(join(d, '30-twin.toml'), join(d, '31-twin.toml'));
  const bad = Buffer.concat([Buffer.from(join(d, '40-caf')), Buffer.from([0xe9]), Buffer.from('.toml')]);
  writeFileSync(bad, '# latin-1 name');
  chmodSync(bad, 0o644);
  for (const name of ['README', 'x.toml~', '.hidden.toml']) put(d, name);
  const plain = (c: Awaited<ReturnType<typeof readPolicyDir>>): unknown => ({ ...c, diagnostics: c.diagnostics.map(formatDiagnostic) });
  const cases: [string, Parameters<typeof readPolicyDir>[1]][] = [
    ['default', {}],
    ['unsafe allowed', { allowUnsafe: true }],
    ['a small cap on size and count', { maxFragmentBytes: CAP, maxFragments: 4 }],
  ];
  for (const [what, opts] of cases) {
    const daemon = await readPolicyDir(d, opts);
    const blocking = await readPolicyDir(d, { ...opts, blocking: true });
    t.same(plain(blocking), plain(daemon), what);
    t.ok(daemon.diagnostics.length > 0 && daemon.fragments.length > 0, `${what}: the directory has both fragments and refusals`);
  }
  chmodSync(d, 0o775);
  t.same(plain(await readPolicyDir(d, { blocking: true })), plain(await readPolicyDir(d)), 'a directory refused whole');
  t.same(plain(await readPolicyDir(join(root, 'missing'), { blocking: true })), plain(await readPolicyDir(join(root, 'missing'))), 'a missing directory');
});

t.test(
  'a policy directory under a directory others may write is refused whole: they could swap it for any directory of root’s',
  { skip: !isRoot && 'needs root to act as another user' },
  async (t) => {
    const parent = dir();
    chmodSync(parent, 0o777); // not sticky: anyone may rename what is in it
    const policy = join(parent, 'policy.d');
    mkdirSync(policy, { mode: 0o755 });
    put(policy, 'block.toml', '[[registry]]\nprefix = "docker.io"\nblocked = true\n');
    const empty = dir(); // any directory of root's, as /var/empty
    // An unprivileged user swaps the policy directory for a root-owned empty one (a real process as nobody).
    execFileSync('/bin/sh', ['-c', `mv "${policy}" "${parent}/old" && ln -s "${empty}" "${policy}"`], { uid: 65534, gid: 65534 });
    const got = await readPolicyDir(policy);
    t.same(got.fragments, [], 'nothing is read from the swapped-in directory');
    t.ok(got.dirProblem, 'the directory is refused whole (the daemon holds every fragment it knew)');
    t.match(
      got.dirProblem && formatDiagnostic(got.dirProblem),
      new RegExp(`refusing policy directory: .*${parent}.* writable by group and others \\(mode 0777\\)`),
    );
  },
);

t.test(
  'the ancestors of a policy directory: root’s or sticky are trusted, another user’s or writable without sticky bit are not',
  { skip: !isRoot && 'needs root to chown' },
  async (t) => {
    const top = dir();
    const mid = join(top, 'mid');
    mkdirSync(mid, { mode: 0o755 });
    const policy = join(mid, 'policy.d');
    mkdirSync(policy, { mode: 0o755 });
    put(policy, 'a.toml');
    t.same(
      (await readPolicyDir(policy)).fragments.map((f) => f.file),
      ['a.toml'],
      'root-owned ancestors (and /tmp, sticky) are fine',
    );
    chmodSync(mid, 0o1777);
    t.same(
      (await readPolicyDir(policy)).fragments.map((f) => f.file),
      ['a.toml'],
      'a sticky world-writable ancestor is fine: others cannot rename root’s entry in it',
    );
    chmodSync(mid, 0o775);
    t.match(
      formatDiagnostic((await readPolicyDir(policy)).dirProblem ?? error0()),
      /refusing policy directory: .*mid.* writable by group \(mode 0775\).*; check them, then: chmod go-w \S*mid$/,
    );
    chmodSync(mid, 0o755);
    chownSync(mid, 65534, 65534);
    t.match(formatDiagnostic((await readPolicyDir(policy)).dirProblem ?? error0()), /refusing policy directory: .*mid.* owned by uid 65534/);
    t.same(
      (await readPolicyDir(policy, { allowUnsafe: true })).fragments.map((f) => f.file),
      ['a.toml'],
      '--allow-unsafe-fragments turns it off',
    );
  },
);

/** A stand-in for a missing refusal, so that the match fails saying so. */
function error0(): Diagnostic {
  return error({ file: '(none)' }, 'no refusal');
}

t.test(
  'a symlink into a subdirectory others may write is refused from the start: they could remove or swap its target (the fragment silently gone)',
  { skip: !isRoot && 'needs root to act as another user' },
  async (t) => {
    const d = dir();
    const team = join(d, 'team');
    mkdirSync(team, { mode: 0o755 });
    chmodSync(team, 0o777); // a subdirectory handed to others: subdirectories are not fragments
    put(team, 'block.toml', '[[registry]]\nprefix = "docker.io"\nblocked = true\n');
    symlinkSync('team/block.toml', join(d, 'block.toml'));
    put(d, 'other.toml', '# other');
    const got = await readPolicyDir(d);
    t.same(
      got.fragments.map((f) => f.file),
      ['other.toml'],
      'the others are read',
    );
    t.match(got.diagnostics.map(formatDiagnostic), [
      new RegExp(`^block\\.toml: refusing fragment: symlink to ${team}/block\\.toml, in ${team}, which is writable by group and others \\(mode 0777\\)`),
    ]);
    // What they could do meanwhile (a real process as nobody): remove the target, and the fragment went without a word.
    execFileSync('/bin/rm', [join(team, 'block.toml')], { uid: 65534, gid: 65534 });
    chmodSync(team, 0o1777);
    put(team, 'block.toml', '# back');
    t.same(
      (await readPolicyDir(d)).fragments.map((f) => f.file),
      ['block.toml', 'other.toml'],
      'a sticky one is fine: others cannot remove root’s file in it',
    );
  },
);

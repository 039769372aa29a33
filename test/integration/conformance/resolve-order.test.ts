/**
 * `mirror-policyd resolve --json` against skopeo 1.9.3 (containers/image 5.23) reading the SAME
 * registries.conf set: skopeo --debug prints `Trying to access "REF"` for every source it tries,
 * blocked ones included, in order; an attempt refused as blocked says `is blocked in`, and an
 * insecure endpoint falls back to `GET http://...` after https fails. With no network every host
 * fails at DNS at once, so each comparison takes milliseconds.
 *
 * skopeo always reads /etc/containers/registries.conf.d too (here only aliases, which its docker
 * transport never consults) and $HOME/.config/containers/registries.conf.d; both programs get the
 * same HOME, and so the same user files. Each test's references go to one `resolve` (several
 * REFs, the configuration read once) and to one skopeo each.
 */
import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type Run } from '../../helpers/cli.js';
import { skopeo, type SkopeoResult } from '../../helpers/skopeo.js';
import { repoPath } from '../../helpers/repo.js';

const CONFORMANCE = repoPath('test/fixtures/registries/conformance.conf');
const D = `@sha256:${'a'.repeat(64)}`;

interface Attempt {
  readonly reference: string;
  readonly blocked: boolean;
  /** skopeo fell back to plain http: the endpoint was insecure. */
  readonly http: boolean;
  readonly tagAndDigest: boolean;
}

interface JsonSource {
  reference: string;
  endpoint: string;
  role: string;
  insecure: boolean;
  blocked: boolean;
  health: string;
}

/** skopeo --debug stderr → one entry per `Trying to access`, with what happened in that attempt. */
function attempts(stderr: string): Attempt[] {
  const out: Array<{ reference: string; lines: string[] }> = [];
  for (const line of stderr.split('\n')) {
    const m = /Trying to access \\"([^"\\]*)\\"/.exec(line);
    if (m?.[1] !== undefined) out.push({ reference: m[1], lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out.map(({ reference, lines }) => {
    const text = lines.filter((l) => !l.includes('level=fatal')).join('\n');
    return {
      reference,
      blocked: /failed: registry \S+ is blocked in /.test(text),
      http: /msg="GET http:\/\//.test(text),
      tagAndDigest: text.includes('both a tag and digest'),
    };
  });
}

function home(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-resolve-home-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** Our answer for one reference: its sources, or why we refuse it. */
interface Ours {
  readonly reference: string;
  readonly sources?: readonly JsonSource[];
  readonly error?: string;
}

interface Both {
  readonly ours: Ours;
  readonly theirs: SkopeoResult;
}

interface Batch {
  /** The one `resolve` run for every reference. */
  readonly run: Run;
  /** Per reference, in order. */
  readonly rows: readonly Both[];
}

/** Our entries: an array for several REFs; one REF prints its object, or nothing and the reason on stderr. */
function ourEntries(run: Run, refs: readonly string[]): Ours[] {
  if (refs.length > 1) return JSON.parse(run.stdout || '[]') as Ours[];
  return [run.stdout === '' ? { reference: refs[0] ?? '', error: run.stderr } : (JSON.parse(run.stdout) as Ours)];
}

async function both(refs: readonly string[], conf: string | undefined, homeDir: string): Promise<Batch> {
  const confArgs = conf !== undefined ? ['--registries-conf', conf] : [];
  const [run, theirs] = await Promise.all([
    runCli(['resolve', ...confArgs, '--json', ...refs], { env: { ...process.env, HOME: homeDir } }),
    pool(refs, 4, (ref) => skopeo([...confArgs, 'inspect', '--raw', '--retry-times', '0', `docker://${ref}`], { env: { HOME: homeDir }, timeoutMs: 20_000 })),
  ]);
  const ours = ourEntries(run, refs);
  return { run, rows: refs.map((ref, i) => ({ ours: ours[i] ?? { reference: ref, error: 'missing from our output' }, theirs: theirs[i] as SkopeoResult })) };
}

/** Every reference resolved: exit 0, nothing on stderr. */
function assertAllResolved(t: Test, { run }: Batch): void {
  t.equal(run.code, 0, `resolved (${run.stderr.trim()})`);
}

/** Runs `fn` over `items`, `limit` at a time, results in order. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The same sources in the same order; blocked and insecure as skopeo's attempts show them. */
function assertSameOrder(t: Test, ref: string, { ours, theirs }: Both, expected?: readonly string[]): void {
  t.equal(ours.error, undefined, `${ref}: resolved`);
  t.notOk(theirs.timedOut, `${ref}: skopeo finished`);
  t.notMatch(theirs.stderr, /loading registries configuration/, `${ref}: skopeo loads the file`);
  const sources = ours.sources ?? [];
  const seen = attempts(theirs.stderr);
  t.same(
    sources.map((s) => s.reference),
    seen.map((a) => a.reference),
    `${ref} → ${seen.map((a) => a.reference).join(', ')}`,
  );
  if (expected)
    t.same(
      seen.map((a) => a.reference),
      expected,
      `${ref}: the order the row expects`,
    );
  sources.forEach((s, i) => {
    const a = seen[i];
    if (!a) return;
    t.equal(s.blocked, a.blocked, `${ref} #${i + 1} ${s.reference}: blocked ${s.blocked}`);
    if (!a.blocked && !a.tagAndDigest) t.equal(s.insecure, a.http, `${ref} #${i + 1} ${s.reference}: insecure ${s.insecure}`);
    t.equal(s.health, 'unknown');
  });
}

/** skopeo's logrus lines quote their message: \" → ". */
const unquoted = (stderr: string): string => stderr.replaceAll('\\"', '"');

/** Both refuse: we say why (and list no sources), skopeo fails before trying any source, for the same reason. */
function assertBothRefuse(t: Test, ref: string, { ours, theirs }: Both, why: RegExp): void {
  t.equal(ours.sources, undefined, `${JSON.stringify(ref)}: no sources`);
  t.match(ours.error, why, `our reason: ${ours.error ?? ''}`);
  t.not(theirs.code, 0, 'skopeo fails too');
  t.same(theirs.tried, [], 'skopeo tries nothing');
  t.match(unquoted(theirs.stderr), why, `skopeo's reason: ${theirs.stderr.split('\n').find((l) => l.includes('level=fatal')) ?? ''}`);
}

t.test('the conformance matrix: the same order as skopeo for tags, digests, short names, wildcards, nested, blocked and insecure tables', async (t) => {
  const h = home();
  const rows: ReadonlyArray<readonly [string, (readonly string[])?]> = [
    // A: plain mirrors, an insecure one
    [`registry-a.example/foo/image${D}`, [`mirror-1.example/a/image${D}`, `mirror-2.example/a/image${D}`, `registry-a.example/bar/image${D}`]],
    ['registry-a.example/foo/image:aaa'],
    // B: mirror-by-digest-only
    [`registry-b.example/ns/app${D}`, [`mirror-1.example/b/ns/app${D}`, `mirror-2.example/b/ns/app${D}`, `registry-b.example/ns/app${D}`]],
    ['registry-b.example/ns/app:v1', ['registry-b.example/ns/app:v1']],
    // G: per-mirror pull-from-mirror
    [
      `registry-g.example/foo/image${D}`,
      [`mirror-1.example/g/image${D}`, `mirror-3.example/g/image${D}`, `mirror-4.example/g/image${D}`, `registry-g.example/bar/image${D}`],
    ],
    [
      'registry-g.example/foo/image:v1',
      ['mirror-2.example/g/image:v1', 'mirror-3.example/g/image:v1', 'mirror-4.example/g/image:v1', 'registry-g.example/bar/image:v1'],
    ],
    // Docker Hub short names
    ['busybox', ['hub-mirror.example/dockerhub/library/busybox:latest', 'docker.io/library/busybox:latest']],
    [`busybox${D}`],
    ['grafana/grafana:10'],
    ['index.docker.io/library/busybox:1'],
    ['alpine:3', ['docker.io/library/alpine:3']],
    [`alpine${D}`, [`hub-mirror.example/official-alpine${D}`, `docker.io/library/alpine${D}`]],
    ['docker.io/alpine/git:1', ['hub-mirror.example/dockerhub/alpine/git:1', 'docker.io/alpine/git:1']],
    // nested prefixes
    [`nested.example/team/app${D}`],
    [`nested.example/team/special/app${D}`, [`mirror-2.example/special/app${D}`, `nested.example/team/special/app${D}`]],
    [`nested.example/team/blocked/app${D}`, [`nested.example/team/blocked/app${D}`]],
    ['nested.example/teamx/app:v1', ['nested.example/teamx/app:v1']],
    // blocked sources and mirrors under blocked tables
    [`never.example/ns/app${D}`, [`mirror-1.example/never/app${D}`, `blocked-mirror.example/never/app${D}`, `never.example/ns/app${D}`]],
    ['never.example/ns/app:v1'],
    ['moved.example/old/app:v1', ['moved-target.example/new/app:v1']],
    [`into-blocked.example/app${D}`, [`mirror-1.example/into/app${D}`, `blocked-mirror.example/into/app${D}`]],
    // insecure
    [`insecure.example:5000/app${D}`],
    ['insecure.example:5000/app:v1'],
    ['flag-test.example/app:v1', ['insecure-host.example/x/app:v1', 'flag-test.example/app:v1']],
    // wildcards
    ['a.wild.example/ns/app:v1', ['wild-mirror.example/ns/app:v1', 'wild-target.example/ns/app:v1']],
    [`a.wild.example:5000/ns/app${D}`, [`wild-mirror.example:5000/ns/app${D}`, `wild-target.example:5000/ns/app${D}`]],
    ['foo.bar.wild.example:5000/ns/app:v1', ['exact-port.example/ns/app:v1']],
    [`x.deep.wild.example/app${D}`, [`deep-mirror.example/d/app${D}`, `x.deep.wild.example/app${D}`]],
    ['wild.example/app:v1', ['wild.example/app:v1']],
    ['x.tie.example/app:v1', ['wild-tie.example/app:v1']],
    ['xy.tie.example/app:v1', ['wild-tie.example/app:v1']],
    // the ":" boundary quirk, a location ≠ prefix rewrite below a repository prefix
    ['colon.example:5000/app:v1', ['colon-target.example:5000/app:v1']],
    ['exact.example/repo/sub:v1', ['exact-target.example/sub:v1']],
    // a mirror location with a tag: listed and tried for digests (and then refused)
    [`tagged.example/app${D}`, [`tag-mirror.example/app:v1${D}`, `tagged.example/app${D}`]],
    // no table
    ['quay.io/x/y:1', ['quay.io/x/y:1']],
  ];
  const batch = await both(
    rows.map(([ref]) => ref),
    CONFORMANCE,
    h,
  );
  assertAllResolved(t, batch);
  rows.forEach(([ref, expected], i) => assertSameOrder(t, ref, batch.rows[i] as Both, expected));
});

t.test('references containers/image refuses: skopeo tries nothing, we exit 1', async (t) => {
  const h = home();
  const rows: ReadonlyArray<readonly [string, RegExp]> = [
    [`busybox:1${D}`, /Docker references with both a tag and digest are currently not supported/],
    ['Docker/app', /repository name must be lowercase/],
    ['[::1]:5000/app:v1', /invalid reference format/],
    ['quay.io/app@sha256:abc', /invalid reference format/],
    [`example.example/${'a'.repeat(250)}:v1`, /repository name must not be more than 255 characters/],
    ['', /invalid reference format/],
    // rewrites that are not canonical references fail the whole pull
    ['exact.example/repo:v1', /rewriting reference: repository name must be canonical/],
    ['x.deep.wild.example:5000/app:v1', /rewriting reference: invalid reference format/],
    ['tagged.example/app:v2', /rewriting reference: invalid reference format/],
  ];
  const batch = await both(
    rows.map(([ref]) => ref),
    CONFORMANCE,
    h,
  );
  t.equal(batch.run.code, 1, 'we exit 1');
  t.equal(batch.run.stderr.split('\n').filter((l) => l.startsWith('mirror-policyd: cannot resolve ')).length, rows.length, 'a reason on stderr for each');
  rows.forEach(([ref, why], i) => assertBothRefuse(t, ref, batch.rows[i] as Both, why));
});

t.test('a drop-in in $HOME/.config/containers/registries.conf.d replaces a table whole, for both', async (t) => {
  const h = home({
    '.config/containers/registries.conf.d/50-override.conf': `
[[registry]]
prefix = "registry-a.example/foo"
location = "registry-a.example/bar"
blocked = true

[[registry]]
prefix = "*.wild.example"
location = "dropin-wild.example"
[[registry.mirror]]
location = "dropin-mirror.example"
insecure = true
`,
    '.config/containers/registries.conf.d/10-first.conf':
      '[[registry]]\nlocation = "registry-b.example"\n[[registry.mirror]]\nlocation = "first-dropin.example/b"\n',
    '.config/containers/registries.conf.d/not-a-drop-in.toml': '[[registry]]\nlocation = "registry-b.example"\nblocked = true\n',
  });
  const rows: ReadonlyArray<readonly [string, readonly string[]]> = [
    [`registry-a.example/foo/image${D}`, [`registry-a.example/bar/image${D}`]],
    ['a.wild.example/ns/app:v1', ['dropin-mirror.example/ns/app:v1', 'dropin-wild.example/ns/app:v1']],
    ['registry-b.example/ns/app:v1', ['first-dropin.example/b/ns/app:v1', 'registry-b.example/ns/app:v1']],
    [
      `registry-g.example/foo/image${D}`,
      [`mirror-1.example/g/image${D}`, `mirror-3.example/g/image${D}`, `mirror-4.example/g/image${D}`, `registry-g.example/bar/image${D}`],
    ],
  ];
  const batch = await both(
    rows.map(([ref]) => ref),
    CONFORMANCE,
    h,
  );
  assertAllResolved(t, batch);
  rows.forEach(([ref, expected], i) => assertSameOrder(t, ref, batch.rows[i] as Both, expected));
});

t.test('without --registries-conf: $HOME/.config/containers/registries.conf and only its own drop-in dir', async (t) => {
  const h = home({
    '.config/containers/registries.conf':
      '[[registry]]\nlocation = "user-main.example"\n[[registry.mirror]]\nlocation = "user-mirror.example/m"\n[[registry]]\nlocation = "user-blocked.example"\nblocked = true\n',
    '.config/containers/registries.conf.d/10-user.conf': '[[registry]]\nlocation = "user-dropin.example"\ninsecure = true\n',
  });
  const rows: ReadonlyArray<readonly [string, readonly string[]]> = [
    [`user-main.example/app${D}`, [`user-mirror.example/m/app${D}`, `user-main.example/app${D}`]],
    ['user-mirror.example/m/app:v1', ['user-mirror.example/m/app:v1']],
    ['user-blocked.example/app:v1', ['user-blocked.example/app:v1']],
    ['user-dropin.example/app:v1', ['user-dropin.example/app:v1']],
  ];
  const batch = await both(
    rows.map(([ref]) => ref),
    undefined,
    h,
  );
  assertAllResolved(t, batch);
  rows.forEach(([ref, expected], i) => assertSameOrder(t, ref, batch.rows[i] as Both, expected));
});

t.test('a v1 main file is converted alike', async (t) => {
  const h = home({
    'v1.conf':
      '[registries.search]\nregistries = ["search.example"]\n[registries.insecure]\nregistries = ["v1-insecure.example:5000"]\n[registries.block]\nregistries = ["v1-blocked.example"]\n',
  });
  const conf = join(h, 'v1.conf');
  const rows: ReadonlyArray<readonly [string, readonly string[]]> = [
    ['v1-insecure.example:5000/app:v1', ['v1-insecure.example:5000/app:v1']],
    ['v1-blocked.example/app:v1', ['v1-blocked.example/app:v1']],
    ['v1-blocked.example:5000/app:v1', ['v1-blocked.example:5000/app:v1']],
  ];
  const batch = await both(
    rows.map(([ref]) => ref),
    conf,
    h,
  );
  assertAllResolved(t, batch);
  rows.forEach(([ref, expected], i) => assertSameOrder(t, ref, batch.rows[i] as Both, expected));
});

t.test('configurations containers/image refuses: both refuse, nothing tried', async (t) => {
  const h = home({
    'dup-conflict.conf':
      '[[registry]]\nprefix = "p.example"\nlocation = "l.example"\n[[registry]]\nprefix = "p.example"\nlocation = "l.example"\ninsecure = true\n',
    'bad-pull-from-mirror.conf': '[[registry]]\nlocation = "p.example"\n[[registry.mirror]]\nlocation = "m.example"\npull-from-mirror = "bogus"\n',
    'registry-level-pfm.conf': '[[registry]]\nlocation = "p.example"\npull-from-mirror = "all"\n',
    'wildcard-path.conf': '[[registry]]\nprefix = "*.p.example/x"\nlocation = "l.example"\n',
  });
  const rows: ReadonlyArray<readonly [string, RegExp]> = [
    [join(h, 'dup-conflict.conf'), /registry 'l\.example' is defined multiple times with conflicting 'insecure' setting/],
    [join(h, 'bad-pull-from-mirror.conf'), /unsupported pull-from-mirror value "bogus" for mirror "m\.example"/],
    [join(h, 'registry-level-pfm.conf'), /pull-from-mirror must not be set for a non-mirror registry "p\.example"/],
    [
      join(h, 'wildcard-path.conf'),
      /Wildcarded prefix should be in the format: \*\.example\.com\. Current prefix "\*\.p\.example\/x" is incorrectly formatted/,
    ],
    [join(h, 'missing.conf'), /loading registries configuration ".*missing\.conf": open .*missing\.conf: no such file or directory/],
  ];
  const results = await pool(rows, 4, ([conf]) => both(['p.example/app:v1'], conf, h));
  rows.forEach(([conf, why], i) => {
    const {
      run: ours,
      rows: [row],
    } = results[i] as Batch;
    const theirs = row?.theirs as SkopeoResult;
    t.equal(ours.code, 1, `${conf}: we exit 1`);
    t.match(ours.stderr, /loading registries configuration/);
    t.match(ours.stderr, why, `ours: ${ours.stderr.trim()}`);
    t.not(theirs.code, 0, 'skopeo refuses');
    t.same(theirs.tried, []);
    t.match(unquoted(theirs.stderr), why);
  });
  const v1DropIn = home({ '.config/containers/registries.conf.d/v1.conf': '[registries.block]\nregistries = ["x.example"]\n' });
  const r = await both(['p.example/app:v1'], CONFORMANCE, v1DropIn);
  t.equal(r.run.code, 1);
  t.match(r.run.stderr, /loading drop-in registries configuration ".*v1\.conf": registry must be in v2 format but is in v1/);
  t.match(unquoted(r.rows[0]?.theirs.stderr ?? ''), /loading drop-in registries configuration ".*v1\.conf": registry must be in v2 format but is in v1/);
});

t.test('known difference: a mirror location with a trailing "/" (skopeo 1.9.3 keeps it; containers/image ≥5.3x and we strip it)', async (t) => {
  // containers/image 5.23's postProcessRegistries trims mirror locations on a copy (`for _, mir := range`),
  // so the "/" stays and every rewrite through that mirror becomes "host/path//..." (refused). Later
  // versions fix it (`mir := &reg.Mirrors[j]`), as docs/registries-semantics.md §1.3 describes.
  const h = home({
    'slash.conf': '[[registry]]\nprefix = "slash.example/foo"\nlocation = "slash.example/bar/"\n[[registry.mirror]]\nlocation = "slash-mirror.example/foo/"\n',
  });
  const batch = await both(['slash.example/foo/app:v1'], join(h, 'slash.conf'), h);
  assertAllResolved(t, batch);
  const { ours, theirs } = batch.rows[0] as Both;
  t.same(
    ours.sources?.map((s) => s.reference),
    ['slash-mirror.example/foo/app:v1', 'slash.example/bar/app:v1'],
  );
  t.not(theirs.code, 0);
  t.match(theirs.stderr, /rewriting reference: invalid reference format/);
  t.same(theirs.tried, []);
});

t.test('short names: aliases, search registries and short-name-mode are not consulted by either (docker:// normalises to Docker Hub)', async (t) => {
  const h = home({
    'short.conf':
      'unqualified-search-registries = ["quay.io"]\nshort-name-mode = "enforcing"\n[aliases]\n"myapp" = "quay.io/org/myapp"\n"busybox" = "quay.io/org/busybox"\n',
  });
  const rows: ReadonlyArray<readonly [string, readonly string[]]> = [
    ['myapp', ['docker.io/library/myapp:latest']],
    ['busybox:1', ['docker.io/library/busybox:1']],
    ['org/app:1', ['docker.io/org/app:1']],
  ];
  const batch = await both(
    rows.map(([ref]) => ref),
    join(h, 'short.conf'),
    h,
  );
  assertAllResolved(t, batch);
  rows.forEach(([ref, expected], i) => assertSameOrder(t, ref, batch.rows[i] as Both, expected));
});

t.test('more shapes: host case, localhost, ports, a vs ab, Docker Hub host names, the first-occurrence wildcard quirk, no-host mirrors', async (t) => {
  const h = home({
    'shapes.conf': `
[[registry]]
location = "Upper.example"
[[registry.mirror]]
location = "up-mirror.example"
[[registry]]
prefix = "*.Case.example"
location = "wc-upper.example"
[[registry]]
prefix = "*.case.example"
location = "wc-lower.example"
[[registry]]
location = "localhost"
[[registry.mirror]]
location = "lh-mirror.example"
[[registry]]
location = "port.example:5000"
[[registry.mirror]]
location = "port-mirror.example"
[[registry]]
location = "ab.example/a"
[[registry.mirror]]
location = "a-mirror.example"
[[registry]]
location = "ab.example/ab"
[[registry.mirror]]
location = "ab-mirror.example"
[[registry]]
location = "index.docker.io"
[[registry.mirror]]
location = "idx-mirror.example"
[[registry]]
location = "registry-1.docker.io"
[[registry.mirror]]
location = "r1-mirror.example"
[[registry]]
location = "docker.io/library"
[[registry.mirror]]
location = "lib-mirror.example"
[[registry.mirror]]
location = "docker.io/mirror"
[[registry]]
prefix = "*.dup.example"
[[registry.mirror]]
location = "dup-mirror.example/m"
insecure = true
[[registry]]
location = "nohost.example"
[[registry.mirror]]
location = "no_host.example/m"
[[registry]]
location = "blk.example"
blocked = true
insecure = true
[[registry.mirror]]
location = "blk.example:5000/mirror"
[[registry.mirror]]
location = "ok.example"
insecure = true
`,
  });
  const rows: ReadonlyArray<readonly [string, (readonly string[])?]> = [
    ['Upper.example/app:v1', ['up-mirror.example/app:v1', 'Upper.example/app:v1']],
    ['upper.example/app:v1', ['upper.example/app:v1']],
    ['a.Case.example/x:1', ['wc-upper.example/x:1']],
    ['a.case.example/x:1', ['wc-lower.example/x:1']],
    ['A.CASE.EXAMPLE/x:1', ['A.CASE.EXAMPLE/x:1']],
    ['localhost/app', ['lh-mirror.example/app:latest', 'localhost/app:latest']],
    ['localhost:5000/app', ['lh-mirror.example:5000/app:latest', 'localhost:5000/app:latest']],
    ['port.example:5000/app', ['port-mirror.example/app:latest', 'port.example:5000/app:latest']],
    ['port.example/app', ['port.example/app:latest']],
    ['ab.example/a/x:1', ['a-mirror.example/x:1', 'ab.example/a/x:1']],
    ['ab.example/ab/x:1', ['ab-mirror.example/x:1', 'ab.example/ab/x:1']],
    ['ab.example/abc/x:1', ['ab.example/abc/x:1']],
    ['index.docker.io/library/busybox', ['lib-mirror.example/busybox:latest', 'docker.io/mirror/busybox:latest', 'docker.io/library/busybox:latest']],
    ['registry-1.docker.io/library/busybox', ['r1-mirror.example/library/busybox:latest', 'registry-1.docker.io/library/busybox:latest']],
    ['library/busybox:1'],
    ['docker.io/busybox'],
    [`app@sha512:${'a'.repeat(128)}`],
    [`app@sha384:${'a'.repeat(96)}`],
    ['app:V1'],
    ['a.dup.example.dup.example/x:1', ['a.dup.example.dup.example/x:1']],
    ['x.dup.example/ns.dup.example/y:1', ['dup-mirror.example/m/ns.dup.example/y:1', 'x.dup.example/ns.dup.example/y:1']],
    ['nohost.example/x:1', ['no_host.example/m/x:1', 'nohost.example/x:1']],
    ['a_b.example/x', ['a_b.example/x:latest']],
    [`blk.example/x${D}`, [`blk.example:5000/mirror/x${D}`, `ok.example/x${D}`, `blk.example/x${D}`]],
    ['LOCALHOST:5000/x'],
    ['example.com:99999/x'],
    ['localhost:5000', ['lib-mirror.example/localhost:5000', 'docker.io/mirror/localhost:5000', 'docker.io/library/localhost:5000']],
  ];
  const batch = await both(
    rows.map(([ref]) => ref),
    join(h, 'shapes.conf'),
    h,
  );
  assertAllResolved(t, batch);
  rows.forEach(([ref, expected], i) => assertSameOrder(t, ref, batch.rows[i] as Both, expected));
});

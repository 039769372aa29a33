import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryScope, type RegistriesConf } from '../../src/registries-conf/model.js';
import { parseRegistriesConf } from '../../src/registries-conf/parse.js';
import { listDropIns, loadRegistriesConf, registriesPaths, RegistriesLoadError } from '../../src/registries-conf/load.js';
import { mergeRegistriesConf, mergeRegistriesConfs } from '../../src/registries-conf/layer.js';
import { buildRegistriesConf } from '../../src/pipeline/strict.js';
import { findRegistry } from '../../src/sources/sources.js';
import { repoPath } from '../helpers/repo.js';

const FIXTURES = repoPath('test/fixtures/registries/');

function tmp(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-load-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function parsed(text: string): RegistriesConf {
  const p = parseRegistriesConf(text, 'x.conf');
  if (!p.conf) throw new Error('unparsable');
  return p.conf;
}

t.test('main file and drop-ins merged like updateWithConfigurationFrom (TestRegistriesConfDirectory)', async (t) => {
  const loaded = await loadRegistriesConf({ path: `${FIXTURES}find-registry.conf`, dropInDirs: [`${FIXTURES}registries.conf.d`] });
  t.same(
    loaded.files,
    [
      `${FIXTURES}find-registry.conf`,
      `${FIXTURES}registries.conf.d/10-base.conf`,
      `${FIXTURES}registries.conf.d/20-subdomain-override.conf`,
      `${FIXTURES}registries.conf.d/30-empty.conf`,
    ],
    'main file, then *.conf in name order; not *.conf.ignore, not a directory named *.conf, no recursion',
  );
  const c = loaded.conf;
  const prefixes = c.registries.map(registryScope);
  t.same(prefixes, [...prefixes].sort(), 'tables sorted by prefix');
  const base = c.registries.find((r) => registryScope(r) === 'base.com');
  t.same(
    base && { blocked: base.blocked, mirrors: base.mirrors },
    { blocked: true, mirrors: [] },
    "a drop-in table replaces the main file's table of the same prefix whole: its mirrors are gone",
  );
  t.equal(
    c.registries.find((r) => registryScope(r) === '*.docker.io')?.location,
    'subdomain-prefix-2.com',
    'a different prefix ("*.docker.com") replaces nothing',
  );
  t.ok(
    c.registries.some((r) => registryScope(r) === '*.docker.com'),
    '... it is added',
  );
  t.ok(
    c.registries.some((r) => registryScope(r) === '1.com'),
    'new prefixes are added',
  );
  t.notOk(c.registries.some((r) => registryScope(r).startsWith('ignore-me') || registryScope(r).startsWith('never-read')));
  t.same(c.unqualifiedSearchRegistries, ['dropin-search.example'], 'search registries replaced by a drop-in that sets them');
  t.same(c.credentialHelpers, ['dropin-1', 'dropin-2'], 'credential helpers replaced');
  t.equal(c.shortNameMode, 'enforcing', 'short-name-mode replaced when set');
  t.same(
    { ...c.aliases },
    { keep: 'kept.example/image', replaced: 'dropin.example/replaced', added: 'dropin.example/added' },
    'aliases merged per name, later file wins, "" erases',
  );
  t.equal(c.registries.find((r) => registryScope(r) === 'dup.example')?.location, 'first.dup.example', 'duplicate prefix in one file: the first table wins');
  t.match(
    loaded.warnings.map((w) => w.message),
    [/prefix "dup\.example" is defined more than once in this file; only the first table counts/],
    'and it is said (containers/image says nothing)',
  );
});

t.test('unqualified-search-registries: kept when a drop-in does not name the key, cleared by []', async (t) => {
  const kept = await loadRegistriesConf({ path: `${FIXTURES}search.conf`, dropInDirs: [`${FIXTURES}search-kept.d`] });
  t.same(kept.conf.unqualifiedSearchRegistries, ['registry-a.com', 'registry-c.com', 'registry-d.com']);
  const cleared = await loadRegistriesConf({ path: `${FIXTURES}search.conf`, dropInDirs: [`${FIXTURES}search-cleared.d`] });
  t.same(cleared.conf.unqualifiedSearchRegistries, []);
});

t.test('defaults after the merge: credential helpers and short-name mode', async (t) => {
  const c = mergeRegistriesConfs(parsed('credential-helpers = []\n'), [parsed('')]);
  t.same(c.credentialHelpers, ['containers-auth.json'], 'empty → the auth files');
  t.equal(c.shortNameMode, 'permissive');
  t.same(
    mergeRegistriesConfs(parsed('credential-helpers = ["a"]\n'), [parsed('credential-helpers = []\n')]).credentialHelpers,
    ['containers-auth.json'],
    'a present [] clears, then the default applies',
  );
  t.equal(
    mergeRegistriesConfs(parsed('short-name-mode = "disabled"\n'), [parsed('short-name-mode = ""\n')]).shortNameMode,
    'disabled',
    'an empty mode does not replace',
  );
  t.equal(mergeRegistriesConfs(parsed(''), [parsed('additional-layer-store-auth-helper = "h"\n'), parsed('')]).additionalLayerStoreAuthHelper, 'h');
});

t.test('mergeRegistriesConf is pure and replaces tables whole', async (t) => {
  const base = parsed(
    '[[registry]]\nlocation = "a.example"\ninsecure = true\n[[registry.mirror]]\nlocation = "m.example"\n[[registry]]\nlocation = "b.example"\n',
  );
  const update = parsed('[[registry]]\nlocation = "a.example"\nblocked = true\n[[registry]]\nprefix = "0.example"\nlocation = "z.example"\n');
  const before = JSON.stringify(base);
  const merged = mergeRegistriesConf(base, update);
  t.equal(JSON.stringify(base), before, 'the base is not changed');
  t.same(
    merged.registries.map((r) => [registryScope(r), r.insecure ?? false, r.blocked ?? false, r.mirrors.length]),
    [
      ['0.example', false, false, 0],
      ['a.example', false, true, 0],
      ['b.example', false, false, 0],
    ],
    'no field-level merge: insecure and the mirror of a.example are gone with the table',
  );
  t.same(
    mergeRegistriesConfs(parsed('[[registry]]\nlocation = "b.example"\n[[registry]]\nlocation = "a.example"\n')).registries.map(registryScope),
    ['a.example', 'b.example'],
    'a main file alone comes out sorted too',
  );
  t.same(
    { ...mergeRegistriesConfs(parsed('[aliases]\nx = ""\ny = "q.example/y"\n')).aliases },
    { y: 'q.example/y' },
    'an alias "" in the main file is no alias',
  );
});

t.test('a v1 main file is converted; a v1 drop-in is refused', async (t) => {
  const dir = tmp({
    'main.conf':
      '[registries.search]\nregistries = ["search.example"]\n[registries.insecure]\nregistries = ["insecure.example:5000"]\n[registries.block]\nregistries = ["blocked.example"]\n',
    'd/v1.conf': '[registries.block]\nregistries = ["x.example"]\n',
    'e/empty-v1.conf': '[registries.search]\nregistries = []\n[[registry]]\nlocation = "fine.example"\n',
  });
  const v1 = await loadRegistriesConf({ path: join(dir, 'main.conf'), dropInDirs: [] });
  t.same(v1.conf.unqualifiedSearchRegistries, ['search.example']);
  t.same(
    v1.conf.registries.map((r) => [registryScope(r), r.location, r.insecure ?? false, r.blocked ?? false]),
    [
      ['blocked.example', 'blocked.example', false, true],
      ['insecure.example:5000', 'insecure.example:5000', true, false],
    ],
  );
  t.match(
    v1.warnings.map((w) => w.message),
    [/deprecated v1 format/],
  );
  await t.rejects(loadRegistriesConf({ path: join(dir, 'main.conf'), dropInDirs: [join(dir, 'd')] }), {
    name: 'RegistriesLoadError',
    message: `loading drop-in registries configuration "${join(dir, 'd', 'v1.conf')}": registry must be in v2 format but is in v1`,
    file: join(dir, 'd', 'v1.conf'),
  });
  const empty = await loadRegistriesConf({ path: join(dir, 'main.conf'), dropInDirs: [join(dir, 'e')] });
  t.ok(
    empty.conf.registries.some((r) => r.location === 'fine.example'),
    'an empty v1 list is no v1 file (containers/image Nonempty): a v2 drop-in',
  );
});

t.test("errors name the file and the line, in containers/image's words", async (t) => {
  const dir = tmp({
    'bad.conf': '[[registry]]\nlocation = "a.example"\n\n[[registry]]\nprefix = "*.x.example/path"\nlocation = "b.example"\n',
    'dup-conflict.conf':
      '[[registry]]\nprefix = "p.example"\nlocation = "l.example"\n[[registry]]\nprefix = "p.example"\nlocation = "l.example"\ninsecure = true\n',
    'good.conf': '',
    'd/10-bad.conf': '[[registry]]\nlocation = "ok.example"\n[[registry.mirror]]\nlocation = "m.example"\npull-from-mirror = "bogus"\n',
    'syntax.conf': '[[registry]\nlocation = "x"\n',
    'wild-location.conf': '[[registry]]\nlocation = "*.x.example:5000"\n',
    'empty-pull-from-mirror.conf': '[[registry]]\nlocation = "a.example"\npull-from-mirror = ""\n',
  });
  await t.rejects(
    loadRegistriesConf({ path: join(dir, 'wild-location.conf'), dropInDirs: [] }),
    {
      message: `loading registries configuration "${join(dir, 'wild-location.conf')}": ${join(dir, 'wild-location.conf')}:2:12: Wildcarded prefix should be in the format: *.example.com. Current prefix "*.x.example:5000" is incorrectly formatted`,
    },
    'a wildcard location without a prefix is its prefix, held to the format (postProcessRegistries runs first)',
  );
  await t.resolves(
    loadRegistriesConf({ path: join(dir, 'empty-pull-from-mirror.conf'), dropInDirs: [] }),
    'an empty pull-from-mirror on a [[registry]] loads, as in containers/image',
  );
  await t.rejects(loadRegistriesConf({ path: join(dir, 'bad.conf'), dropInDirs: [] }), {
    message: `loading registries configuration "${join(dir, 'bad.conf')}": ${join(dir, 'bad.conf')}:5:10: Wildcarded prefix should be in the format: *.example.com. Current prefix "*.x.example/path" is incorrectly formatted`,
  });
  await t.rejects(loadRegistriesConf({ path: join(dir, 'good.conf'), dropInDirs: [join(dir, 'd')] }), {
    message: new RegExp(
      `^loading drop-in registries configuration "${join(dir, 'd', '10-bad.conf')}": ${join(dir, 'd', '10-bad.conf')}:5:\\d+: unsupported pull-from-mirror value "bogus" for mirror "m.example"$`,
    ),
  });
  await t.rejects(
    loadRegistriesConf({ path: join(dir, 'dup-conflict.conf'), dropInDirs: [] }),
    {
      message: /registry 'l\.example' is defined multiple times with conflicting 'insecure' setting/,
    },
    'a dropped duplicate still takes part in the insecure/blocked conflict check (confirmed with skopeo)',
  );
  await t.rejects(loadRegistriesConf({ path: join(dir, 'syntax.conf'), dropInDirs: [] }), {
    message: /^loading registries configuration ".*syntax\.conf": .*syntax\.conf:1:\d+: invalid TOML/,
  });
  await t.rejects(
    loadRegistriesConf({ path: join(dir, 'missing.conf'), dropInDirs: [] }),
    {
      name: 'RegistriesLoadError',
      message: `loading registries configuration "${join(dir, 'missing.conf')}": open ${join(dir, 'missing.conf')}: no such file or directory`,
    },
    'an explicit main file must exist',
  );
  await t.rejects(loadRegistriesConf({ path: dir, dropInDirs: [] }), RegistriesLoadError, 'a directory is no file');
});

t.test("which files: explicit, the user's, or the system's; a missing default is empty", async (t) => {
  const root = tmp({
    'etc/registries.conf': '[[registry]]\nlocation = "system.example"\n',
    'etc/registries.conf.d/10-sys.conf': '[[registry]]\nlocation = "sys-dropin.example"\n',
    'home-empty/.keep': '',
    'home-user/.config/containers/registries.conf': '[[registry]]\nlocation = "user.example"\n',
    'home-user/.config/containers/registries.conf.d/10-user.conf': '[[registry]]\nlocation = "user-dropin.example"\n',
    'explicit.conf': '[[registry]]\nlocation = "explicit.example"\n',
  });
  const sys = { systemPath: join(root, 'etc/registries.conf'), systemDropInDir: join(root, 'etc/registries.conf.d') };
  const locations = (c: RegistriesConf): string[] => c.registries.map((r) => r.location);

  const system = await loadRegistriesConf({ ...sys, home: join(root, 'home-empty') });
  t.same(locations(system.conf), ['sys-dropin.example', 'system.example'], 'no user file: the system file and the system drop-ins');
  const user = await loadRegistriesConf({ ...sys, home: join(root, 'home-user') });
  t.same(locations(user.conf), ['user-dropin.example', 'user.example'], 'a user file: it, and ONLY the user drop-ins');
  const explicit = await loadRegistriesConf({ ...sys, home: join(root, 'home-user'), path: join(root, 'explicit.conf') });
  t.same(
    locations(explicit.conf),
    ['explicit.example', 'sys-dropin.example', 'user-dropin.example'],
    'an explicit file: the system AND user drop-ins are still read, as skopeo does',
  );
  t.same(await registriesPaths({ ...sys, home: join(root, 'home-user'), path: 'x.conf' }), {
    main: 'x.conf',
    mainIsDefault: false,
    dropInDirs: [join(root, 'etc/registries.conf.d'), join(root, 'home-user/.config/containers/registries.conf.d')],
  });
  const missing = await loadRegistriesConf({ systemPath: join(root, 'nope.conf'), systemDropInDir: join(root, 'nope.d'), home: join(root, 'home-empty') });
  t.same(missing.conf.registries, [], 'a missing default main file counts as empty');
  t.same(missing.files, []);
  const pinned = await loadRegistriesConf({ ...sys, home: join(root, 'home-user'), dropInDirs: [] });
  t.same(locations(pinned.conf), ['user.example'], 'dropInDirs replaces the directories');
});

t.test('listDropIns: byte order, *.conf non-directories only, a missing directory is empty', async (t) => {
  const dir = tmp({ 'b.conf': '', 'B.conf': '', 'a.conf': '', '10.conf': '', '.hidden.conf': '', 'x.conf.bak': '', 'sub.conf/inner.conf': '' });
  t.same(
    (await listDropIns(dir)).map((f) => f.slice(dir.length + 1)),
    ['.hidden.conf', '10.conf', 'B.conf', 'a.conf', 'b.conf'],
  );
  t.same(await listDropIns(join(dir, 'none')), []);
});

// BurntSushi/toml refuses bytes that are not UTF-8 (skopeo 1.9.3: `toml: line 4 (last key "registry"): invalid UTF-8 byte: 0xe9`);
// reading them as UTF-8 text turned them into U+FFFD and took the file as valid.
t.test('a file that is not UTF-8 (a Latin-1 comment) is refused with its line, as containers/image refuses it', async (t) => {
  const dir = tmp({ 'main.conf': '' });
  mkdirSync(join(dir, 'd'));
  writeFileSync(join(dir, 'd', '10-latin1.conf'), Buffer.from('[[registry]]\nlocation = "a.example"\nblocked = true\n# caf\xe9\n', 'latin1'));
  await t.rejects(loadRegistriesConf({ path: join(dir, 'main.conf'), dropInDirs: [join(dir, 'd')] }), {
    name: 'RegistriesLoadError',
    message: /^loading drop-in registries configuration ".*10-latin1\.conf": .*10-latin1\.conf:4: invalid UTF-8/,
  });
  writeFileSync(join(dir, 'latin1.conf'), Buffer.from('# caf\xe9\n', 'latin1'));
  await t.rejects(loadRegistriesConf({ path: join(dir, 'latin1.conf'), dropInDirs: [] }), {
    message: /^loading registries configuration ".*latin1\.conf": .*:1: invalid UTF-8/,
  });
  writeFileSync(join(dir, 'utf8.conf'), '# caf\u00e9 \ufffd\n');
  t.same(
    (await loadRegistriesConf({ path: join(dir, 'utf8.conf'), dropInDirs: [] })).files,
    [join(dir, 'utf8.conf')],
    'UTF-8, U+FFFD itself included, is read',
  );
});

// containers/image walks each drop-in directory with filepath.WalkDir, which Lstats its root: a
// symbolic link there is one non-directory entry, read only if its own name ends in ".conf".
t.test('listDropIns: a drop-in directory that is a symbolic link is not walked (skopeo 1.9.3 reads nothing in it)', async (t) => {
  const root = tmp({ 'real/50-block.conf': '[[registry]]\nlocation = "blocked.example"\nblocked = true\n', 'main.conf': '' });
  symlinkSync(join(root, 'real'), join(root, 'registries.conf.d'));
  t.same(await listDropIns(join(root, 'registries.conf.d')), []);
  const loaded = await loadRegistriesConf({ path: join(root, 'main.conf'), dropInDirs: [join(root, 'registries.conf.d')] });
  t.same(loaded.files, [join(root, 'main.conf')]);
  t.equal(findRegistry(loaded.conf, 'blocked.example/app').implicit, true, 'nothing blocked');
  symlinkSync(join(root, 'real', '50-block.conf'), join(root, 'link.conf'));
  t.same(await listDropIns(join(root, 'link.conf')), [join(root, 'link.conf')], 'a root whose name ends in .conf is read, as Go visits it');
});

t.test('hostile base files give located errors, not exceptions (the daemon would fail every render)', async (t) => {
  // A key of 40 000 characters: a RegExp built from it was "too large" (found by the fuzzer).
  const long = 'k'.repeat(40_000);
  const p = parseRegistriesConf(`unqualified-search-registries = []\n[[registry]]\nlocation = "a.example"\n${long} = 1\n`, 'long.conf');
  t.ok(p.conf, 'lenient about an unknown key, as containers/image is');
  const warning = p.diagnostics.find((d) => d.message.includes('kkkk'));
  t.ok(warning, 'the unknown key is reported');
  t.equal(warning?.line, 4, 'at its line');
  // A location that is a table, beside pull-from-mirror: String() of a null-prototype table threw.
  const q = parseRegistriesConf('[[registry]]\npull-from-mirror = "all"\n[registry.location]\nx = 1\n', 'table.conf');
  t.ok(
    q.diagnostics.some((d) => d.severity === 'error'),
    'refused with errors',
  );
  t.ok(
    q.diagnostics.some((d) => /pull-from-mirror must not be set/.test(d.message) && d.line === 2),
    'pull-from-mirror named at its line',
  );
  t.ok(
    q.diagnostics.some((d) => /location/.test(d.message)),
    'the location that is no string is named',
  );
});

t.test('a v1 main file loses trailing slashes on every entry, as containers/image trims them (TestV1BackwardsCompatibility)', async (t) => {
  const file = `${FIXTURES}v1-compatibility.conf`;
  const parsedV1 = parseRegistriesConf(readFileSync(file, 'utf8'), file);
  t.same(
    parsedV1.diagnostics.filter((d) => d.severity === 'error'),
    [],
    'no error: containers/image loads it',
  );
  t.same(
    parsedV1.conf?.registries.map((r) => [r.location, r.blocked ?? false, r.insecure ?? false]),
    [
      ['registry-b.com', true, true],
      ['registry-d.com', false, true],
      ['registry-e.com', false, true],
      ['registry-a.com', false, true],
      ['registry-x.com', false, true],
    ],
    "blocked hosts first, then insecure ones, one table per host, in containers/image's order",
  );
  t.equal(parsedV1.conf?.registries.find((r) => r.location === 'registry-x.com')?.origin?.line, 12, 'a table points at its v1 list');
  const loaded = await loadRegistriesConf({ path: file, dropInDirs: [] });
  t.same(loaded.conf.unqualifiedSearchRegistries, ['registry-a.com', 'registry-c.com', 'registry-d.com']);
  t.equal(loaded.conf.registries.length, 5);
  const x = findRegistry(loaded.conf, 'registry-x.com/ns/app:latest');
  t.same([x.prefix, x.table.insecure], ['registry-x.com', true], '"registry-x.com////" makes registry-x.com insecure, as in containers/image');
  const b = findRegistry(loaded.conf, 'registry-b.com/bar/foo/barfoo:latest').table;
  t.same([b.blocked, b.insecure], [true, true], 'merged per host');
  const built = buildRegistriesConf({ base: { file, text: readFileSync(file, 'utf8') }, fragments: [] });
  t.same(
    built.diagnostics.filter((d) => d.severity === 'error'),
    [],
    'the same file as a v1 base renders',
  );
  t.match(built.text, /location = "registry-x\.com"\ninsecure = true/);
});

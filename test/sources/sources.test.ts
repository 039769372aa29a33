import t from 'tap';
import { parseRegistriesConf } from '../../src/registries-conf/parse.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';
import { loadRegistriesConf } from '../../src/registries-conf/load.js';
import { mergeRegistriesConfs } from '../../src/registries-conf/layer.js';
import { referenceString } from '../../src/reference/reference.js';
import { findRegistry, parseLogicalReference, pullSources, ResolveError, rewriteReference, type Source } from '../../src/sources/sources.js';
import { repoPath } from '../helpers/repo.js';

const FIXTURES = repoPath('test/fixtures/registries/');
const D = `@sha256:${'a'.repeat(64)}`;

/** One file, as containers/image holds it after loading (validated, duplicates dropped, sorted). */
function conf(text: string): RegistriesConf {
  const parsed = parseRegistriesConf(text, 'test.conf');
  const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
  if (!parsed.conf || errors.length > 0) throw new Error(errors.map((e) => e.message).join('; '));
  return mergeRegistriesConfs(parsed.conf);
}

const refs = (sources: readonly Source[]): string[] => sources.map((s) => s.reference);

t.test('findRegistry: TestFindRegistry (find-registry.conf with its drop-ins)', async (t) => {
  const { conf: c } = await loadRegistriesConf({ path: `${FIXTURES}find-registry.conf`, dropInDirs: [`${FIXTURES}registries.conf.d`] });
  t.equal(c.registries.length, 19, 'tables of the main file and the drop-ins, one per prefix (TestFindRegistry counts 19 too)');
  const rows: ReadonlyArray<[string, string, string | undefined]> = [
    // [name, expected prefix, expected location]; prefix "" = the implicit table
    ['simple-prefix.com/foo/bar:latest', 'simple-prefix.com', 'registry.com:5000'],
    ['simple-prefix.com/', 'simple-prefix.com', 'registry.com:5000'],
    ['simple-prefix.com', 'simple-prefix.com', 'registry.com:5000'],
    ['not.so.simple-prefix.com/', '*.so.simple-prefix.com', 'subdomain-prefix.com'],
    ['not.quite.simple-prefix.com/', '*.simple-prefix.com', 'subdomain-prefix-2.com'],
    ['not.quite.simple-prefix.com:5000/with/path/and/beyond:tag', '*.simple-prefix.com', 'subdomain-prefix-2.com'],
    [
      'really.not.quite.simple-prefix.com:5000/with/path/and/beyond:tag',
      '*.not.quite.simple-prefix.com',
      'subdomain-prefix-1-overridden-by-dropin-location.com',
    ],
    ['foo.docker.io:5000/omg/wtf/bbq:foo', '*.docker.io', 'subdomain-prefix-2.com'],
    [`foo.bar.example.com:6000/omg/wtf/bbq${D}`, '*.bar.example.com', 'subdomain-prefix-3-overridden-by-dropin-location.com'],
    ['foo.bar.docker.io:5000/omg/wtf/bbq:foo', '*.bar.docker.io', 'subdomain-prefix-4.com'],
    ['foo.bar.example.com:5000/omg/wtf/bbq:foo', 'foo.bar.example.com:5000', 'subdomain-prefix-5.com'],
    ['complex-prefix.com:4000/with/path/and/beyond:tag', 'complex-prefix.com:4000/with/path', 'another-registry.com:5000'],
    ['no-prefix.com/foo:tag', 'no-prefix.com', 'no-prefix.com'],
    ['empty-prefix.com/foo:tag', 'empty-prefix.com', 'empty-prefix.com'],
    ['abc.internal.registry.com/foo', '*.internal.registry.com', ''],
    ['blah.foo.bar.com/omg', '*.com', ''],
  ];
  for (const [name, prefix, location] of rows) {
    const found = findRegistry(c, name);
    t.equal(found.implicit, false, `${name} matches a table`);
    t.equal(found.prefix, prefix, `${name} → prefix ${prefix}`);
    t.equal(found.table.location, location, `${name} → location ${location ?? ''}`);
  }
  const none = findRegistry(c, 'simple-prefix.comx');
  t.equal(none.implicit, true, 'simple-prefix.comx: no match');
  t.same(
    none.table,
    { prefix: 'simple-prefix.comx', location: 'simple-prefix.comx', mirrors: [] },
    'the implicit table: the name itself, no mirrors, not blocked, not insecure',
  );
  t.equal(findRegistry(c, 'base.com/test').table.blocked, true, 'the drop-in replaced base.com whole: blocked');
  t.same(findRegistry(c, 'base.com/test').table.mirrors, [], "... and without the main file's mirrors");
  t.equal(findRegistry(c, 'dup.example/x').table.location, 'first.dup.example', 'a duplicate prefix in one file: the first table counts');
});

t.test('findRegistry: longest prefix text, ties to the prefix that sorts first, never the order in the file', async (t) => {
  const literalFirst = conf(
    '[[registry]]\nprefix = "x.a.com"\nlocation = "literal.example"\n[[registry]]\nprefix = "*.a.com"\nlocation = "wildcard.example"\n',
  );
  t.equal(
    findRegistry(literalFirst, 'x.a.com/foo').prefix,
    '*.a.com',
    '"*.a.com" and "x.a.com" are both 7 long; "*" sorts first (derived, confirmed with skopeo)',
  );
  const wildcardFirst = { registries: [...literalFirst.registries].reverse() };
  t.equal(findRegistry(wildcardFirst, 'x.a.com/foo').prefix, '*.a.com', 'the same with the tables in the other order');
  const longer = conf('[[registry]]\nprefix = "xy.a.com"\nlocation = "literal.example"\n[[registry]]\nprefix = "*.a.com"\nlocation = "wildcard.example"\n');
  t.equal(findRegistry(longer, 'xy.a.com/foo').prefix, 'xy.a.com', 'a literal host wins when its text is longer');
  const nested = conf('[[registry]]\nlocation = "quay.io"\n[[registry]]\nlocation = "quay.io/ns"\n[[registry]]\nlocation = "quay.io/ns/app"\n');
  t.equal(findRegistry(nested, 'quay.io/ns/app').prefix, 'quay.io/ns/app');
  t.equal(findRegistry(nested, 'quay.io/ns/app2').prefix, 'quay.io/ns', 'boundary: app2 is not under app');
  t.equal(findRegistry(nested, 'quay.io/other/x').prefix, 'quay.io');
  t.equal(findRegistry(nested, 'quay.io:443/ns/app').prefix, 'quay.io', 'the ":" boundary quirk: "quay.io" matches "quay.io:443"');
  const library = conf(
    '[[registry]]\nprefix = "docker.io/alpine"\nlocation = "m.example/alpine-ns"\n[[registry]]\nprefix = "docker.io/library/alpine"\nlocation = "m.example/official-alpine"\n',
  );
  t.equal(findRegistry(library, 'docker.io/library/alpine').prefix, 'docker.io/library/alpine', 'official images need library/');
  t.equal(findRegistry(library, 'docker.io/alpine/git').prefix, 'docker.io/alpine', '"docker.io/alpine" is the alpine/* namespace');
});

t.test('rewriteReference: TestRewriteReferenceSuccess', async (t) => {
  const rows: ReadonlyArray<[string, string, string, string]> = [
    ['example.com/image:latest', 'example.com', 'example.com', 'example.com/image:latest'],
    ['example.com:5000/image:latest', 'example.com:5000', 'example.com:5000', 'example.com:5000/image:latest'],
    [`example.com/foo${D}`, 'example.com', 'example.com', `example.com/foo${D}`],
    ['example.com/foo/image:latest', 'example.com/foo', 'example.com', 'example.com/image:latest'],
    ['example.com/foo/image:latest', 'example.com/foo', 'example.com/path', 'example.com/path/image:latest'],
    ['docker.io/library/image:latest', 'docker.io', 'docker.io', 'docker.io/library/image:latest'],
    ['docker.io/library/image:latest', 'docker.io/library', 'example.com', 'example.com/image:latest'],
    ['docker.io/library/image:latest', 'docker.io', 'example.com', 'example.com/library/image:latest'],
    ['docker.io/library/prefix/image:latest', 'docker.io/library/prefix', 'example.com', 'example.com/image:latest'],
    ['docker.io/namespace/image:latest', '*.io', 'example.com', 'example.com/namespace/image:latest'],
    ['sub.example.io/library/prefix/image:latest', '*.example.io', 'example.com', 'example.com/library/prefix/image:latest'],
    // wildcard + port: the match ends at the host, the port is carried over to the location
    ['another.sub.example.io:5000/library/prefix/image:latest', '*.sub.example.io', 'example.com', 'example.com:5000/library/prefix/image:latest'],
    ['foo.bar.io/ns1/ns2/ns3/ns4:latest', '*.bar.io', 'omg.bbq.com/roflmao', 'omg.bbq.com/roflmao/ns1/ns2/ns3/ns4:latest'],
    // empty location (wildcard prefixes only): unchanged
    ['abc.internal.registry.com/foo:bar', '*.internal.registry.com', '', 'abc.internal.registry.com/foo:bar'],
    ['alien.vs.predator.foobar.io:5000/omg:bbq', '*.foobar.io', '', 'alien.vs.predator.foobar.io:5000/omg:bbq'],
    [`alien.vs.predator.foobar.io:5000/foo${D}`, '*.foobar.io', '', `alien.vs.predator.foobar.io:5000/foo${D}`],
    // the prefix is matched against the full string, tag included
    ['example.com/foo:bar', 'example.com/foo:bar', 'example.com/exact', 'example.com/exact'],
  ];
  for (const [ref, prefix, location, expected] of rows) {
    t.equal(referenceString(rewriteReference(ref, prefix, location)), expected, `${ref} | ${prefix} → ${location || '""'}`);
  }
});

t.test('rewriteReference: TestRewriteReferenceFailedDuringParseNamed', async (t) => {
  const rows: ReadonlyArray<[string, string, string, RegExp]> = [
    ['example.com/foo/image:latest', 'example.com/foo', 'example.com/path/', /^rewriting reference: invalid reference format/],
    [`example.com/foo${D}`, 'example.com/foo', 'example.com', /^rewriting reference: repository name must be canonical/],
    ['example.com:5000/image:latest', 'example.com', '', /^invalid prefix 'example.com' for empty location/],
    ['example.com:5000/image:latest', 'example.com', 'example.com:5000', /^rewriting reference: invalid reference format/],
    ['example.com/foo/image:latest', 'example.com//foo', 'example.com/path', /^invalid prefix/],
    ['example.com/image:latest', 'image', 'anotherimage', /^invalid prefix 'image' for reference 'example.com\/image:latest'/],
    ['example.com/foo/image:latest', 'example.com/foo/', 'example.com', /^invalid prefix/],
    ['example.com/foo/image:latest', 'example.com/fo', 'example.com/foo', /^invalid prefix/],
    ['example.com/foo:latest', 'example.com/fo', 'example.com/foo', /^invalid prefix/],
    ['docker.io/library/image:latest', 'example.com', 'example.com', /^invalid prefix/],
    ['docker.io/library/image:latest', '*.com', 'example.com', /^invalid prefix/],
    ['foo.docker.io/library/image:latest', '*.example.com', 'example.com/image', /^invalid prefix/],
    ['foo.docker.io/library/image:latest', '*.docker.com', 'example.com/image', /^invalid prefix/],
    ['docker.io/library/busybox:latest', 'docker.io/library', 'docker.io', /^rewriting reference: repository name must be canonical/],
    ['quay.io/ns/app:latest', 'quay.io/ns', 'Mirror.example/UPPER', /^rewriting reference: invalid reference format: repository name must be lowercase/],
  ];
  for (const [ref, prefix, location, message] of rows) {
    t.throws(() => rewriteReference(ref, prefix, location), { name: 'ResolveError', kind: 'rewrite', message }, `${ref} | ${prefix} → ${location || '""'}`);
  }
});

t.test('pullSources: TestPullSourcesFromReference tables A–G, digest vs tag', async (t) => {
  const { conf: c } = await loadRegistriesConf({ path: `${FIXTURES}pull-sources.conf`, dropInDirs: [] });
  const rows: ReadonlyArray<[string, string[], string[]]> = [
    // [repository, digest pull → endpoints, tag pull → endpoints] (last = the primary, "registry-X.com/bar")
    [
      'registry-a.com/foo/image',
      ['mirror-1.registry-a.com', 'mirror-2.registry-a.com', 'registry-a.com/bar'],
      ['mirror-1.registry-a.com', 'mirror-2.registry-a.com', 'registry-a.com/bar'],
    ],
    ['registry-b.com/foo/image', ['mirror-1.registry-b.com', 'mirror-2.registry-b.com', 'registry-b.com/bar'], ['registry-b.com/bar']],
    ['registry-b.com/baz/image', ['mirror-1.registry-b.com', 'mirror-2.registry-b.com', 'registry-b.com/bar'], ['registry-b.com/bar']],
    [
      'registry-c.com/foo/image',
      ['mirror-1.registry-c.com', 'mirror-2.registry-c.com', 'registry-c.com/bar'],
      ['mirror-1.registry-c.com', 'registry-c.com/bar'],
    ],
    ['registry-e.com/foo/image', ['registry-e.com/bar'], ['mirror-1.registry-e.com', 'mirror-2.registry-e.com', 'registry-e.com/bar']],
    [
      'registry-f.com/foo/image',
      ['mirror-1.registry-f.com', 'registry-f.com/bar'],
      ['mirror-1.registry-f.com', 'mirror-2.registry-f.com', 'registry-f.com/bar'],
    ],
    [
      'registry-g.com/foo/image',
      ['mirror-1.registry-g.com', 'mirror-3.registry-g.com', 'mirror-4.registry-g.com', 'registry-g.com/bar'],
      ['mirror-2.registry-g.com', 'mirror-3.registry-g.com', 'mirror-4.registry-g.com', 'registry-g.com/bar'],
    ],
  ];
  for (const [repo, digestEndpoints, tagEndpoints] of rows) {
    for (const [suffix, endpoints] of [
      [D, digestEndpoints],
      [':aaa', tagEndpoints],
    ] as const) {
      const r = pullSources(c, repo + suffix);
      t.same(
        refs(r.sources),
        endpoints.map((e) => `${e}/image${suffix}`),
        `${repo}${suffix === D ? '@digest' : suffix}`,
      );
      t.same(
        r.sources.map((s) => s.role),
        endpoints.map((_, i) => (i === endpoints.length - 1 ? 'primary' : 'mirror')),
        'mirrors, then the primary last',
      );
    }
  }
  const a = pullSources(c, `registry-a.com/foo/image${D}`).sources;
  t.same(
    a.map((s) => s.endpoint),
    [
      { host: 'mirror-1.registry-a.com', insecure: false },
      { host: 'mirror-2.registry-a.com', insecure: true },
      { host: 'registry-a.com', insecure: false },
    ],
    "insecure is the endpoint's own flag",
  );
});

t.test('pullSources: the man page example', async (t) => {
  const c = conf(`[[registry]]
prefix = "example.com/foo"
location = "internal-registry-for-example.com/bar"
insecure = false
blocked = false

[[registry.mirror]]
location = "example-mirror-0.local/mirror-for-foo"

[[registry.mirror]]
location = "example-mirror-1.local/mirrors/foo"
insecure = true
`);
  const r = pullSources(c, 'example.com/foo/image:latest');
  t.same(r.sources, [
    {
      reference: 'example-mirror-0.local/mirror-for-foo/image:latest',
      endpoint: { host: 'example-mirror-0.local', insecure: false },
      role: 'mirror',
      blocked: false,
    },
    {
      reference: 'example-mirror-1.local/mirrors/foo/image:latest',
      endpoint: { host: 'example-mirror-1.local', insecure: true },
      role: 'mirror',
      blocked: false,
    },
    {
      reference: 'internal-registry-for-example.com/bar/image:latest',
      endpoint: { host: 'internal-registry-for-example.com', insecure: false },
      role: 'primary',
      blocked: false,
    },
  ]);
  t.same(refs(pullSources(c, 'registry.com/foo/image:latest').sources), ['registry.com/foo/image:latest'], 'mirrors belong to their own table only');
});

t.test('pullSources: wildcard prefix with a port in the name', async (t) => {
  const c = conf(
    '[[registry]]\nprefix = "*.sub.example.io"\nlocation = "example.com"\n[[registry.mirror]]\nlocation = "mirror.example.net"\n[[registry]]\nprefix = "*.path.example.io"\nlocation = "example.com"\n[[registry.mirror]]\nlocation = "mirror.example.net/with-path"\n',
  );
  const r = pullSources(c, 'another.sub.example.io:5000/library/prefix/image:latest');
  t.same(
    refs(r.sources),
    ['mirror.example.net:5000/library/prefix/image:latest', 'example.com:5000/library/prefix/image:latest'],
    'the port is appended to each location',
  );
  t.same(
    r.sources.map((s) => s.endpoint.host),
    ['mirror.example.net:5000', 'example.com:5000'],
  );
  t.throws(
    () => pullSources(c, 'a.path.example.io:5000/app:v1'),
    { kind: 'rewrite', message: /^rewriting reference: invalid reference format .*"mirror\.example\.net\/with-path:5000\/app:v1"/ },
    'a location with a path then cannot take the port: the whole pull is refused',
  );
  t.same(
    refs(pullSources(c, 'a.path.example.io/app:v1').sources),
    ['mirror.example.net/with-path/app:v1', 'example.com/app:v1'],
    'without a port the same table works',
  );
});

t.test('pullSources: blocked is decided on each physical reference', async (t) => {
  const c = conf(`
[[registry]]
prefix = "never.example/ns"
location = "never.example/ns"
blocked = true
[[registry.mirror]]
location = "mirror.example.net/never"
[[registry.mirror]]
location = "blocked-mirror.example/never"

[[registry]]
location = "blocked-mirror.example"
blocked = true

[[registry]]
prefix = "moved.example/old"
location = "moved-target.example/new"
blocked = true

[[registry]]
location = "blocked-target.example"
blocked = true

[[registry]]
prefix = "into-blocked.example"
location = "blocked-target.example/x"
[[registry.mirror]]
location = "mirror.example.net/into"
`);
  const never = pullSources(c, `never.example/ns/app${D}`).sources;
  t.same(
    never.map((s) => [s.reference, s.role, s.blocked, s.blockedBy]),
    [
      [`mirror.example.net/never/app${D}`, 'mirror', false, undefined],
      [`blocked-mirror.example/never/app${D}`, 'mirror', true, 'blocked-mirror.example'],
      [`never.example/ns/app${D}`, 'primary', true, 'never.example/ns'],
    ],
    'a blocked source keeps its mirrors and is still listed last; a mirror under a blocked table is refused',
  );
  const moved = pullSources(c, 'moved.example/old/app:v1').sources;
  t.same(
    moved.map((s) => [s.reference, s.blocked]),
    [['moved-target.example/new/app:v1', false]],
    'a blocked table whose location lies elsewhere does not block its primary (derived, confirmed with skopeo)',
  );
  const into = pullSources(c, 'into-blocked.example/app:v1').sources;
  t.same(
    into.map((s) => [s.reference, s.blocked, s.blockedBy]),
    [
      ['mirror.example.net/into/app:v1', false, undefined],
      ['blocked-target.example/x/app:v1', true, 'blocked-target.example'],
    ],
    'an unblocked table whose location lies under a blocked one is blocked at attempt time',
  );
});

t.test('pullSources: short names, default tag, insecure primary, mirror-by-digest-only', async (t) => {
  const c = conf(`
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "hub-mirror.example/dockerhub"

[[registry]]
location = "insecure.example:5000"
insecure = true
mirror-by-digest-only = true
[[registry.mirror]]
location = "secure-mirror.example/ins"
`);
  const busybox = pullSources(c, 'busybox');
  t.equal(busybox.reference, 'docker.io/library/busybox:latest', 'a short name is a Docker Hub name; no tag means :latest');
  t.same(refs(busybox.sources), ['hub-mirror.example/dockerhub/library/busybox:latest', 'docker.io/library/busybox:latest']);
  t.same(refs(pullSources(c, 'grafana/grafana:10').sources), ['hub-mirror.example/dockerhub/grafana/grafana:10', 'docker.io/grafana/grafana:10']);
  t.same(
    refs(pullSources(c, 'index.docker.io/library/alpine').sources),
    ['hub-mirror.example/dockerhub/library/alpine:latest', 'docker.io/library/alpine:latest'],
    'index.docker.io is docker.io',
  );
  const ins = pullSources(c, 'insecure.example:5000/app:v1').sources;
  t.same(
    ins.map((s) => [s.reference, s.endpoint]),
    [['insecure.example:5000/app:v1', { host: 'insecure.example:5000', insecure: true }]],
    'mirror-by-digest-only: no mirror for a tag; the primary insecure',
  );
  const insD = pullSources(c, `insecure.example:5000/app${D}`).sources;
  t.same(
    insD.map((s) => [s.reference, s.endpoint.insecure]),
    [
      [`secure-mirror.example/ins/app${D}`, false],
      [`insecure.example:5000/app${D}`, true],
    ],
    'a digest uses the mirror, with its own (secure) flag',
  );
  t.same(pullSources(c, 'quay.io/x/y:1').registry.implicit, true, 'no table: implicit');
  t.same(refs(pullSources(c, 'quay.io/x/y:1').sources), ['quay.io/x/y:1']);
});

t.test('pullSources: a mirror location with a tag gives an unusable source for digests and refuses tag pulls', async (t) => {
  const c = conf('[[registry]]\nprefix = "tagged.example/app"\nlocation = "tagged.example/app"\n[[registry.mirror]]\nlocation = "mirror.example/app:v1"\n');
  const d = pullSources(c, `tagged.example/app${D}`).sources;
  t.same(
    d.map((s) => [s.reference, s.unusable]),
    [
      [`mirror.example/app:v1${D}`, 'Docker references with both a tag and digest are currently not supported'],
      [`tagged.example/app${D}`, undefined],
    ],
  );
  t.throws(() => pullSources(c, 'tagged.example/app:v2'), { kind: 'rewrite', message: /^rewriting reference: invalid reference format/ });
});

t.test('pullSources: a name with no registry host (a first component with "_") is listed, and unusable', async (t) => {
  // distribution/reference's quirk: "a_b.example" is no domain but a path component, so the name has
  // domain "". skopeo tries it ("Trying to access") and fails without a request: "no Host in request URL".
  const c = conf('[[registry]]\nlocation = "m.example"\n[[registry.mirror]]\nlocation = "no_host.example/m"\n[[registry.mirror]]\nlocation = "ok.example/m"\n');
  const rows = (ref: string): Array<[string, string, boolean]> =>
    pullSources(c, ref).sources.map((s) => [s.reference, s.endpoint.host, /no registry host/.test(s.unusable ?? '')]);
  t.same(rows('a_b.example/x'), [['a_b.example/x:latest', '', true]]);
  t.same(rows('m.example/x:1'), [
    ['no_host.example/m/x:1', '', true],
    ['ok.example/m/x:1', 'ok.example', false],
    ['m.example/x:1', 'm.example', false],
  ]);
});

t.test('pullSources: references containers/image refuses', async (t) => {
  const c = conf('');
  const rows: ReadonlyArray<[string, string, RegExp]> = [
    [`busybox:1${D}`, 'tag-and-digest', /^Docker references with both a tag and digest are currently not supported$/],
    ['', 'invalid-reference', /^invalid reference format$/],
    ['quay.io/UPPER/app', 'invalid-reference', /repository name must be lowercase/],
    ['Docker/app', 'invalid-reference', /repository name must be lowercase/],
    ['[::1]:5000/app:v1', 'invalid-reference', /^invalid reference format$/],
    ['quay.io/app@sha256:abc', 'invalid-reference', /^invalid reference format$/],
    [`quay.io/app@sha256:${'a'.repeat(63)}`, 'invalid-reference', /^invalid checksum digest length$/],
    [`quay.io/app@sha512:${'a'.repeat(64)}`, 'invalid-reference', /^invalid checksum digest length$/],
    [`quay.io/${'a'.repeat(250)}`, 'invalid-reference', /^repository name must not be more than 255 characters$/],
    ['a'.repeat(64), 'invalid-reference', /cannot specify 64-byte hexadecimal strings/],
    ['quay.io/app:-bad', 'invalid-reference', /^invalid reference format$/],
    ['http://quay.io/app', 'invalid-reference', /^invalid reference format$/],
  ];
  for (const [input, kind, message] of rows) {
    t.throws(() => pullSources(c, input), { name: 'ResolveError', kind, message, input }, JSON.stringify(input));
  }
  t.ok(new ResolveError('rewrite', 'x', 'y') instanceof Error);
});

t.test('parseLogicalReference: as skopeo parses docker://REF', async (t) => {
  const rows: ReadonlyArray<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    [`busybox${D}`, `docker.io/library/busybox${D}`],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['Example.COM/app', 'Example.COM/app:latest'],
  ];
  for (const [input, expected] of rows) t.equal(referenceString(parseLogicalReference(input)), expected, input);
});

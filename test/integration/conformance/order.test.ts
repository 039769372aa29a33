/**
 * Conformance of what we render with the real consumer: skopeo 1.9.3 (containers/image
 * 5.23) reads our registries.conf and prints, with --debug, every source it tries in
 * order ("Trying to access ..."). With no network every unknown host fails at DNS at
 * once, so this checks the order for any host names in milliseconds.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRegistriesConf, type SourceText } from '../../../src/pipeline/strict.js';
import { skopeoInspectRaw } from '../../helpers/skopeo.js';
import { repoPath } from '../../helpers/repo.js';
import { pathToFileURL } from 'node:url';

const D = `sha256:${'a'.repeat(64)}`;
const EXAMPLES = pathToFileURL(repoPath('examples/policy.d/'));
const example = (name: string): SourceText => ({ file: name, text: readFileSync(new URL(name, EXAMPLES), 'utf8') });

function renderTo(fragments: SourceText[], warnings: string[] = []): string {
  const result = buildRegistriesConf({ fragments });
  warnings.push(...result.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message));
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (result.text === undefined) throw new Error(`render failed: ${errors.map((e) => e.message).join('; ')}`);
  const file = join(mkdtempSync(join(tmpdir(), 'mpd-order-')), 'registries.conf');
  writeFileSync(file, result.text);
  return file;
}

interface Row {
  readonly ref: string;
  readonly tried: readonly string[];
  /** Sources skopeo must refuse as blocked, without contacting them. */
  readonly blocked?: readonly string[];
}

async function assertOrder(t: Test, conf: string, rows: readonly Row[]): Promise<void> {
  for (const row of rows) {
    const r = await skopeoInspectRaw(`docker://${row.ref}`, { registriesConf: conf, timeoutMs: 15_000 });
    t.same(r.tried, row.tried, `${row.ref} → ${row.tried.join(', ')}`);
    for (const b of row.blocked ?? []) t.match(r.stderr, `is blocked in`, `${b} refused as blocked`);
    t.notMatch(r.stderr, /loading registries configuration/, 'skopeo loads the file');
  }
}

t.test('the ICSP of the OpenShift documentation: digest pulls try the mirrors in order, longest prefix wins, tag pulls go to the source', async (t) => {
  const conf = renderTo([example('10-ubi8repo.yaml')]);
  await assertOrder(t, conf, [
    {
      ref: `registry.access.redhat.com/ubi8/ubi-minimal@${D}`,
      tried: [`example.io/example/ubi-minimal@${D}`, `example.com/example/ubi-minimal@${D}`, `registry.access.redhat.com/ubi8/ubi-minimal@${D}`],
    },
    { ref: 'registry.access.redhat.com/ubi8/ubi-minimal:latest', tried: ['registry.access.redhat.com/ubi8/ubi-minimal:latest'] },
    { ref: `registry.redhat.io/openshift4/ose-cli@${D}`, tried: [`mirror.example.com/redhat/ose-cli@${D}`, `registry.redhat.io/openshift4/ose-cli@${D}`] },
    { ref: `registry.redhat.io/rhel9/httpd@${D}`, tried: [`mirror.example.com/rhel9/httpd@${D}`, `registry.redhat.io/rhel9/httpd@${D}`] },
    { ref: `registry.example.com/redhat/ubi8/ubi-minimal@${D}`, tried: [`mirror.example.net/image@${D}`, `registry.example.com/redhat/ubi8/ubi-minimal@${D}`] },
    { ref: `registry.example.com/redhat/other@${D}`, tried: [`mirror.example.net/other@${D}`, `registry.example.com/redhat/other@${D}`] },
    { ref: `registry.example.com/team/app@${D}`, tried: [`mirror.example.net/team/app@${D}`, `registry.example.com/team/app@${D}`] },
    { ref: `quay.io/unrelated/app@${D}`, tried: [`quay.io/unrelated/app@${D}`] },
  ]);
});

t.test('the rewrite our render warns about is one containers/image really refuses', async (t) => {
  // check/render warn: pulls of exactly registry.example.com/redhat rewrite to mirror.example.net@D.
  const warnings: string[] = [];
  const conf = renderTo([example('10-ubi8repo.yaml')], warnings);
  t.match(
    warnings,
    [/pulls of exactly "registry\.example\.com\/redhat" by digest would be rewritten to "mirror\.example\.net@DIGEST", which is not a valid reference/],
    'the warning names the pulls that fail: by digest (the mirror is digest-only)',
  );
  const r = await skopeoInspectRaw(`docker://registry.example.com/redhat@${D}`, { registriesConf: conf });
  t.not(r.code, 0);
  t.match(r.stderr, /rewriting reference/);
  t.same(r.tried, [], 'the whole pull fails before any source is tried');
  const byTag = await skopeoInspectRaw('docker://registry.example.com/redhat:v1', { registriesConf: conf });
  t.notMatch(byTag.stderr, /rewriting reference/, 'by tag, the digest-only mirror is not used: nothing to rewrite');
  t.same(byTag.tried, ['registry.example.com/redhat:v1']);
});

t.test('IDMS NeverContactSource and ITMS: blocked source after its mirrors, tag mirrors only for tags', async (t) => {
  const conf = renderTo([example('20-release.yaml')]);
  await assertOrder(t, conf, [
    {
      ref: `quay.io/openshift-release-dev/ocp-release@${D}`,
      tried: [`mirror.registry.example:5000/ocp4/openshift4@${D}`, `quay.io/openshift-release-dev/ocp-release@${D}`],
      blocked: ['quay.io'],
    },
    {
      ref: 'quay.io/openshift-release-dev/ocp-release:4.18.1-x86_64',
      tried: ['quay.io/openshift-release-dev/ocp-release:4.18.1-x86_64'],
      blocked: ['quay.io'],
    },
    {
      ref: 'registry.access.redhat.com/ubi9/ubi:latest',
      tried: ['mirror.registry.example:5000/ubi9/ubi:latest', 'registry.access.redhat.com/ubi9/ubi:latest'],
    },
    { ref: `registry.access.redhat.com/ubi9/ubi@${D}`, tried: [`registry.access.redhat.com/ubi9/ubi@${D}`] },
  ]);
});

t.test('native TOML: an all-pulls mirror set for docker.io, short names normalised, insecure and blocked scopes', async (t) => {
  const conf = renderTo([example('50-local.toml')]);
  await assertOrder(t, conf, [
    {
      ref: 'busybox',
      tried: [
        'cache-1.lab.example/dockerhub/library/busybox:latest',
        'cache-2.lab.example/dockerhub/library/busybox:latest',
        'docker.io/library/busybox:latest',
      ],
    },
    {
      ref: `docker.io/grafana/grafana@${D}`,
      tried: [`cache-1.lab.example/dockerhub/grafana/grafana@${D}`, `cache-2.lab.example/dockerhub/grafana/grafana@${D}`, `docker.io/grafana/grafana@${D}`],
    },
    { ref: `registry.lab.example:5000/team/app@${D}`, tried: [`registry-dr.lab.example/team/app@${D}`, `registry.lab.example:5000/team/app@${D}`] },
    { ref: 'untrusted.example.com/x/y:1', tried: ['untrusted.example.com/x/y:1'], blocked: ['untrusted.example.com'] },
  ]);
});

t.test('wildcard sources, nested scopes and merged sets', async (t) => {
  const conf = renderTo([
    {
      file: '10-sets.toml',
      text: `blocked-registries = ["primary.example.com/top/blocked", "*.blocked.example.org"]
insecure-registries = ["primary.example.com/top/insecure"]

[[mirror-set]]
source = "*.example.org"
mirrors = ["wild-mirror.example.net/org"]
pull-from-mirror = "all"

[[mirror-set]]
source = "primary.example.com/top"
mirrors = ["mirror.example.net/primary", "mirror-b.example.net/primary"]

[[mirror-set]]
source = "primary.example.com/top/insecure/more-specific"
mirrors = ["mirror.example.net/more-specific"]
`,
    },
    // A second fragment for the same source: merged in topological order (V1).
    {
      file: '20-more.yaml',
      text: 'apiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\nmetadata: {name: more}\nspec:\n  repositoryDigestMirrors:\n  - source: primary.example.com/top\n    mirrors: [mirror-b.example.net/primary, mirror-c.example.net/primary]\n',
    },
  ]);
  const m = (host: string, path: string): string => `${host}/${path}@${D}`;
  await assertOrder(t, conf, [
    { ref: `a.example.org/ns/app@${D}`, tried: [m('wild-mirror.example.net/org', 'ns/app'), m('a.example.org', 'ns/app')] },
    // The blocked wildcard inside the mirrored one inherits its mirrors (else its table would hide them).
    {
      ref: `x.blocked.example.org/ns/app@${D}`,
      tried: [m('wild-mirror.example.net/org', 'ns/app'), m('x.blocked.example.org', 'ns/app')],
      blocked: ['x.blocked.example.org'],
    },
    {
      ref: `primary.example.com/top/app@${D}`,
      tried: [
        m('mirror.example.net/primary', 'app'),
        m('mirror-b.example.net/primary', 'app'),
        m('mirror-c.example.net/primary', 'app'),
        m('primary.example.com/top', 'app'),
      ],
    },
    {
      ref: `primary.example.com/top/blocked/app@${D}`,
      tried: [
        m('mirror.example.net/primary', 'blocked/app'),
        m('mirror-b.example.net/primary', 'blocked/app'),
        m('mirror-c.example.net/primary', 'blocked/app'),
        m('primary.example.com/top/blocked', 'app'),
      ],
      blocked: ['primary.example.com/top/blocked'],
    },
    {
      ref: `primary.example.com/top/insecure/app@${D}`,
      tried: [
        m('mirror.example.net/primary', 'insecure/app'),
        m('mirror-b.example.net/primary', 'insecure/app'),
        m('mirror-c.example.net/primary', 'insecure/app'),
        m('primary.example.com/top/insecure', 'app'),
      ],
    },
    {
      ref: `primary.example.com/top/insecure/more-specific/app@${D}`,
      tried: [m('mirror.example.net/more-specific', 'app'), m('primary.example.com/top/insecure/more-specific', 'app')],
    },
  ]);
});

// A wildcard's mirror with a path, or with a port of its own: either way a name with a port is rewritten to no name.
for (const [what, mirror, rewritten] of [
  [
    'the port rewrite our render warns about for wildcard sources is one containers/image really refuses',
    'wild-mirror.example.net/org',
    /"wild-mirror\.example\.net\/org:PORT\/\.\.\."/,
  ],
  [
    'a wildcard mirror with a port of its own: names with a port are refused too, and our render says so',
    'wild-mirror.example.net:8082',
    /"wild-mirror\.example\.net:8082:PORT\/\.\.\."/,
  ],
] as const) {
  t.test(what, async (t) => {
    const warnings: string[] = [];
    const conf = renderTo(
      [{ file: 'w.toml', text: `[[mirror-set]]\nsource = "*.example.org"\nmirrors = ["${mirror}"]\npull-from-mirror = "all"\n` }],
      warnings,
    );
    t.match(warnings, [new RegExp(`names with a port under "\\*\\.example\\.org" .* ${rewritten.source}, which is not a valid reference`)]);
    const r = await skopeoInspectRaw('docker://deep.sub.example.org:5000/ns/app:v1', { registriesConf: conf });
    t.not(r.code, 0);
    t.match(r.stderr, /rewriting reference/);
    const plain = await skopeoInspectRaw('docker://deep.sub.example.org/ns/app:v1', { registriesConf: conf });
    t.same(plain.tried, [`${mirror}/ns/app:v1`, 'deep.sub.example.org/ns/app:v1'], 'without a port the same set works');
  });
}

t.test("Docker Hub as a namespace's mirror: our warning names the one-component names containers/image refuses", async (t) => {
  const warnings: string[] = [];
  const conf = renderTo(
    [{ file: 'hub.toml', text: '[[mirror-set]]\nsource = "registry.lab.example/org"\nmirrors = ["docker.io"]\npull-from-mirror = "all"\n' }],
    warnings,
  );
  t.ok(
    warnings.some((w) => /names of one component under "registry\.lab\.example\/org" .* "docker\.io\/NAME", which is not canonical/.test(w)),
    'said (beside the warning about pulls of exactly the namespace)',
  );
  const one = await skopeoInspectRaw('docker://registry.lab.example/org/app:v1', { registriesConf: conf });
  t.not(one.code, 0);
  t.match(one.stderr, /rewriting reference/, 'a one-component name fails the whole pull');
  const two = await skopeoInspectRaw('docker://registry.lab.example/org/ns/app:v1', { registriesConf: conf });
  t.same(two.tried, ['docker.io/ns/app:v1', 'registry.lab.example/org/ns/app:v1'], 'two components work');
});

t.test('a nested insecure namespace under NeverContactSource: its source is never tried either', async (t) => {
  const conf = renderTo([
    {
      file: '10-never.toml',
      text: 'insecure-registries = ["quay.io/org/team"]\n\n[[mirror-set]]\nsource = "quay.io/org"\nmirrors = ["mirror.example.net/org"]\nsource-policy = "never"\n',
    },
  ]);
  await assertOrder(t, conf, [
    { ref: `quay.io/org/app@${D}`, tried: [`mirror.example.net/org/app@${D}`, `quay.io/org/app@${D}`], blocked: ['quay.io/org'] },
    { ref: `quay.io/org/team/app@${D}`, tried: [`mirror.example.net/org/team/app@${D}`, `quay.io/org/team/app@${D}`], blocked: ['quay.io/org/team'] },
  ]);
});

t.test('a wildcard mirror that cannot carry a port is left out of the nested scope with a port; the others still serve it', async (t) => {
  const warnings: string[] = [];
  const conf = renderTo(
    [
      {
        file: '10-wild.toml',
        text: 'insecure-registries = ["foo.example.org:5000"]\n\n[[mirror-set]]\nsource = "*.example.org"\nmirrors = ["wild-mirror.example.net/org", "bare.example.net"]\n',
      },
    ],
    warnings,
  );
  t.match(warnings, [/not sent to mirror "wild-mirror\.example\.net\/org"/], 'said');
  await assertOrder(t, conf, [{ ref: `foo.example.org:5000/ns/app@${D}`, tried: [`bare.example.net:5000/ns/app@${D}`, `foo.example.org:5000/ns/app@${D}`] }]);
});

t.test('a mirror under a blocked scope: our warning, and containers/image refuses it (the next source is tried)', async (t) => {
  const warnings: string[] = [];
  const conf = renderTo(
    [
      {
        file: '10-b.toml',
        text:
          'blocked-registries = ["blocked.example.com"]\n\n[[mirror-set]]\nsource = "src.example.com"\nmirrors = ["blocked.example.com/m", "good.example.net"]\n' +
          '\n[[mirror-set]]\nsource = "quay.io"\nmirrors = ["mirror.example.net/quay"]\nsource-policy = "never"\n' +
          '\n[[mirror-set]]\nsource = "quay.io/open"\nmirrors = ["mirror.example.net/open"]\n' +
          '\n[[mirror-set]]\nsource = "other.example.com"\nmirrors = ["quay.io/open/m"]\n',
      },
    ],
    warnings,
  );
  t.match(warnings, [/mirror "blocked\.example\.com\/m" of "src\.example\.com" is under blocked "blocked\.example\.com"/]);
  t.equal(warnings.length, 1, 'quay.io/open/m is not said: quay.io/open answers for it, unblocked');
  const r = await skopeoInspectRaw(`docker://src.example.com/app@${D}`, { registriesConf: conf });
  t.match(r.stderr, /blocked\.example\.com\/m\/app@sha256:a+: registry blocked\.example\.com is blocked in/, 'skopeo refuses the blocked mirror');
  t.notMatch(r.stderr, /good\.example\.net\/app@sha256:a+: registry .* is blocked/, 'and moves on');
  const open = await skopeoInspectRaw(`docker://other.example.com/app@${D}`, { registriesConf: conf });
  t.notMatch(open.stderr, /is blocked in/, 'a mirror under an open, more specific table is used');
});

t.test('a repeated mirror (an ICSP has no set semantics) or a cycle between sets: the source is still tried last', async (t) => {
  const icsp = (name: string, mirrors: readonly string[]): string =>
    `apiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\nmetadata:\n  name: ${name}\nspec:\n  repositoryDigestMirrors:\n  - source: a-source.example.com/ns\n    mirrors: [${mirrors.join(', ')}]\n`;
  const conf = renderTo([
    { file: '10-repeat.yaml', text: icsp('repeat', ['r.example.net/ns', 'r.example.net/ns']) },
    {
      file: '20-cycle.yaml',
      text: icsp('one', ['q1.example.net/ns', 'q2.example.net/ns']) + '---\n' + icsp('two', ['q2.example.net/ns', 'q1.example.net/ns']),
    },
  ]);
  await assertOrder(t, conf, [
    {
      ref: `a-source.example.com/ns/app@${D}`,
      tried: [`q1.example.net/ns/app@${D}`, `q2.example.net/ns/app@${D}`, `r.example.net/ns/app@${D}`, `a-source.example.com/ns/app@${D}`],
    },
  ]);
});

t.test("a mirror on another port of a blocked host: our warning, and containers/image's prefix match (':' ends it) refuses it", async (t) => {
  const warnings: string[] = [];
  const conf = renderTo(
    [
      {
        file: '10-p.toml',
        text: '[[mirror-set]]\nsource = "registry.example.com"\nmirrors = ["registry.example.com:5000/cache", "good.example.net"]\nsource-policy = "never"\n',
      },
    ],
    warnings,
  );
  t.match(warnings, [/mirror "registry\.example\.com:5000\/cache" .* is under blocked "registry\.example\.com"/]);
  const r = await skopeoInspectRaw(`docker://registry.example.com/app@${D}`, { registriesConf: conf });
  t.match(r.stderr, /registry\.example\.com:5000\/cache\/app@sha256:a+: registry registry\.example\.com is blocked in/);
});

t.test('an IDMS for index.docker.io (OpenShift admits it): rendered with a warning, loaded by containers/image, its table never matched', async (t) => {
  const warnings: string[] = [];
  const idms = [
    'apiVersion: config.openshift.io/v1',
    'kind: ImageDigestMirrorSet',
    'metadata:',
    '  name: hub',
    'spec:',
    '  imageDigestMirrors:',
    '  - source: index.docker.io',
    '    mirrors:',
    '    - mirror.example.net/hub',
    '',
  ].join('\n');
  const conf = renderTo([{ file: 'hub.yaml', text: idms }], warnings);
  t.match(warnings, [/prefix "index\.docker\.io" is not a registry or repository namespace .*so containers\/image .* never uses this table/]);
  const r = await skopeoInspectRaw(`docker://index.docker.io/library/busybox@${D}`, { registriesConf: conf, timeoutMs: 15_000 });
  t.notMatch(r.stderr, /loading registries configuration|rewriting reference/, 'containers/image loads the file');
  t.same(r.tried, [`docker.io/library/busybox@${D}`], 'and pulls as if the table were not there: docker.io, no mirror');
});

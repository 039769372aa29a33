/**
 * The rendered file with the local mirror, read by the real skopeo 1.9.3 (containers/image
 * 5.23): it loads for every prefix shape we accept (hosts, ports, nested namespaces, an exact
 * repository, upper-case host labels, wildcards) and --debug shows the endpoint tried first,
 * then the configured mirrors in order, then the source. Nothing listens on the endpoint's
 * port (refused at once) and the other hosts do not resolve, so only the order is checked.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRegistriesConf } from '../../../src/pipeline/strict.js';
import { applyLocalMirror } from '../../../src/local-mirror/render.js';
import { localMirrorLocation } from '../../../src/local-mirror/mapping.js';
import { skopeoInspectRaw } from '../../helpers/skopeo.js';

const ADDR = '127.0.0.1:9'; // discard: nothing answers HTTP there; refused or reset at once
const D = `sha256:${'c'.repeat(64)}`;
const at = (prefix: string, rest: string): string => `${localMirrorLocation(ADDR, prefix)}${rest}`;

const POLICY = `
[[mirror-set]]
source = "quay.io"
mirrors = ["m1.invalid/quay", "m2.invalid:5000/quay"]
pull-from-mirror = "all"

[[mirror-set]]
source = "reg.invalid:5000/team"
mirrors = ["m3.invalid/team"]

[[mirror-set]]
source = "deep.invalid/a/b/c"
mirrors = ["m4.invalid/abc"]
pull-from-mirror = "tag-only"

[[mirror-set]]
source = "exact.invalid/ns/app"
mirrors = ["m5.invalid/mirrored/app"]

[[mirror-set]]
source = "Upper.Case.invalid/x"
mirrors = ["m6.invalid/x"]

[[mirror-set]]
source = "*.wild.invalid"
mirrors = ["m7.invalid:5000"]
pull-from-mirror = "all"

[[mirror-set]]
source = "*.bare.invalid"
mirrors = ["m8.invalid"]
pull-from-mirror = "all"
`;

function renderTo(): string {
  const r = buildRegistriesConf({ fragments: [{ file: '50-shapes.toml', text: POLICY }], transform: (c) => applyLocalMirror(c, { address: ADDR }) });
  if (r.text === undefined) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  const file = join(mkdtempSync(join(tmpdir(), 'mpd-lm-conf-')), 'registries.conf');
  writeFileSync(file, r.text);
  return file;
}

const ROWS: ReadonlyArray<{ ref: string; tried: string[]; why: string }> = [
  {
    ref: `quay.io/ns/app@${D}`,
    tried: [at('quay.io', `/ns/app@${D}`), `m1.invalid/quay/ns/app@${D}`, `m2.invalid:5000/quay/ns/app@${D}`, `quay.io/ns/app@${D}`],
    why: 'a host, by digest',
  },
  {
    ref: 'quay.io/ns/app:v1',
    tried: [at('quay.io', '/ns/app:v1'), 'm1.invalid/quay/ns/app:v1', 'm2.invalid:5000/quay/ns/app:v1', 'quay.io/ns/app:v1'],
    why: 'a host, by tag (all)',
  },
  {
    ref: `reg.invalid:5000/team/app@${D}`,
    tried: [at('reg.invalid:5000/team', `/app@${D}`), `m3.invalid/team/app@${D}`, `reg.invalid:5000/team/app@${D}`],
    why: 'a port',
  },
  { ref: 'reg.invalid:5000/team/app:v1', tried: ['reg.invalid:5000/team/app:v1'], why: 'digest-only mirrors: the endpoint is digest-only too' },
  {
    ref: 'deep.invalid/a/b/c/d/e:v1',
    tried: [at('deep.invalid/a/b/c', '/d/e:v1'), 'm4.invalid/abc/d/e:v1', 'deep.invalid/a/b/c/d/e:v1'],
    why: 'nested namespaces, tag-only',
  },
  { ref: `deep.invalid/a/b/c/d/e@${D}`, tried: [`deep.invalid/a/b/c/d/e@${D}`], why: 'tag-only mirrors: the endpoint is tag-only too' },
  {
    ref: `exact.invalid/ns/app@${D}`,
    tried: [at('exact.invalid/ns/app', `@${D}`), `m5.invalid/mirrored/app@${D}`, `exact.invalid/ns/app@${D}`],
    why: 'exactly the repository of a prefix',
  },
  {
    ref: `Upper.Case.invalid/x/y@${D}`,
    tried: [at('Upper.Case.invalid/x', `/y@${D}`), `m6.invalid/x/y@${D}`, `Upper.Case.invalid/x/y@${D}`],
    why: 'upper-case host labels',
  },
  {
    ref: 'a.wild.invalid/lib/img:v1',
    tried: [at('*.wild.invalid', '/lib/img:v1'), 'm7.invalid:5000/lib/img:v1', 'a.wild.invalid/lib/img:v1'],
    why: 'a wildcard: the host is rewritten away',
  },
  {
    ref: 'a.bare.invalid:6000/lib/img:v1',
    tried: ['m8.invalid:6000/lib/img:v1', 'a.bare.invalid:6000/lib/img:v1'],
    why: 'a wildcard whose bare mirror takes names with a port: not fronted, still pulls',
  },
  { ref: 'a.bare.invalid/lib/img:v1', tried: ['m8.invalid/lib/img:v1', 'a.bare.invalid/lib/img:v1'], why: 'the same table without a port' },
];

t.test('skopeo reads the rendered file and tries the endpoint first, for every prefix shape', async (t) => {
  const conf = renderTo();
  for (const row of ROWS) {
    const r = await skopeoInspectRaw(`docker://${row.ref}`, { registriesConf: conf, timeoutMs: 15_000 });
    t.notMatch(
      r.stderr,
      /loading registries configuration|rewriting reference|invalid reference format/,
      `${row.why}: skopeo loads the file and rewrites the name`,
    );
    t.same(r.tried, row.tried, `${row.why}: ${row.ref}`);
  }
});

t.test('what containers/image refuses: a wildcard name with a port, where the mirrors already cannot take it', async (t) => {
  // m7.invalid:5000 + ":6000/…" fails today; the endpoint adds no failure that was not there.
  const conf = renderTo();
  const r = await skopeoInspectRaw('docker://a.wild.invalid:6000/lib/img:v1', { registriesConf: conf, timeoutMs: 15_000 });
  t.match(r.stderr, /rewriting reference|invalid reference format/);
  const without = buildRegistriesConf({ fragments: [{ file: '50-shapes.toml', text: POLICY }] });
  const plain = join(mkdtempSync(join(tmpdir(), 'mpd-lm-conf-')), 'registries.conf');
  writeFileSync(plain, without.text as string);
  const r2 = await skopeoInspectRaw('docker://a.wild.invalid:6000/lib/img:v1', { registriesConf: plain, timeoutMs: 15_000 });
  t.match(r2.stderr, /rewriting reference|invalid reference format/, 'the same without the endpoint');
});

import t from 'tap';
import { buildRegistriesConf } from '../../src/pipeline/strict.js';
import { parseRegistriesConf } from '../../src/registries-conf/parse.js';
import { registryScope, type RegistriesConf } from '../../src/registries-conf/model.js';
import { applyHealthOrder } from '../../src/health/order.js';
import { applyLocalMirror, planLocalMirror } from '../../src/local-mirror/render.js';
import { localMirrorLocation, mapLocalMirrorRepository, localMirrorPath } from '../../src/local-mirror/mapping.js';

const ADDR = '127.0.0.1:5050';
const BASE = '/etc/containers/registries.conf';

const POLICY = `
[[mirror-set]]
source = "docker.io"
mirrors = ["cache-1.example/dockerhub", "cache-2.example:5000/dockerhub"]
pull-from-mirror = "all"

[[mirror-set]]
source = "quay.io/ns"
mirrors = ["d1.example/quay"]
pull-from-mirror = "digest-only"

[[mirror-set]]
source = "quay.io/ns"
mirrors = ["d2.example/quay"]
pull-from-mirror = "digest-only"

[[mirror-set]]
source = "ghcr.io/team"
mirrors = ["t1.example/ghcr"]
pull-from-mirror = "tag-only"

[[mirror-set]]
source = "reg.example.com:5000/a/b"
mirrors = ["m.example:5000/ab"]
pull-from-mirror = "digest-only"

[[mirror-set]]
source = "reg.example.com:5000/a/b"
mirrors = ["m.example:5000/ab-tags"]
pull-from-mirror = "tag-only"

[[mirror-set]]
source = "*.wild.example"
mirrors = ["w.example:5000"]
pull-from-mirror = "all"
`;

const BASE_TEXT = `unqualified-search-registries = ["docker.io"]

[[registry]]
location = "host-only.example"

[[registry.mirror]]
location = "host-mirror.example/x"
`;

function build(transform?: (c: RegistriesConf) => RegistriesConf): { conf: RegistriesConf; text: string } {
  const r = buildRegistriesConf({
    base: { file: BASE, text: BASE_TEXT },
    fragments: [{ file: '50-policy.toml', text: POLICY }],
    ...(transform ? { transform } : {}),
  });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (!r.conf || r.text === undefined || errors.length > 0) throw new Error(errors.map((e) => e.message).join('; '));
  return { conf: r.conf, text: r.text };
}

const on = (c: RegistriesConf): RegistriesConf => applyLocalMirror(c, { address: ADDR, baseFile: BASE });
const table = (c: RegistriesConf, prefix: string) => c.registries.find((x) => registryScope(x) === prefix);

t.test('every table with mirrors from the policy gets the endpoint first, insecure, the others after it in order', async (t) => {
  const before = build().conf;
  const { conf } = build(on);
  for (const prefix of ['docker.io', 'quay.io/ns', 'ghcr.io/team', 'reg.example.com:5000/a/b']) {
    const was = table(before, prefix);
    const now = table(conf, prefix);
    t.same(
      now?.mirrors[0],
      {
        location: localMirrorLocation(ADDR, prefix),
        insecure: true,
        ...(now?.mirrors[0]?.pullFromMirror ? { pullFromMirror: now.mirrors[0].pullFromMirror } : {}),
      },
      `${prefix}: the endpoint first`,
    );
    t.same(
      now?.mirrors.slice(1).map((m) => m.location),
      was?.mirrors.map((m) => m.location),
      `${prefix}: the configured mirrors after it, in order`,
    );
    t.equal(now?.location, was?.location, `${prefix}: the primary untouched`);
  }
  t.same(
    table(conf, 'host-only.example')?.mirrors.map((m) => m.location),
    ['host-mirror.example/x'],
    "the base's own table is the host's: left alone",
  );
  t.same(conf.unqualifiedSearchRegistries, ['docker.io'], 'top-level keys untouched');
});

t.test('a base table the policy adds mirrors to is fronted; the base mirror stays behind the endpoint', async (t) => {
  const r = buildRegistriesConf({
    base: { file: BASE, text: `[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "base-mirror.example/hub"\n` },
    fragments: [{ file: '50-policy.toml', text: POLICY }],
    transform: on,
  });
  t.same(
    table(r.conf as RegistriesConf, 'docker.io')?.mirrors.map((m) => m.location),
    [localMirrorLocation(ADDR, 'docker.io'), 'base-mirror.example/hub', 'cache-1.example/dockerhub', 'cache-2.example:5000/dockerhub'],
  );
  t.same(
    r.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
});

t.test('pull-from-mirror covers what the mirrors cover', async (t) => {
  const { conf, text } = build(on);
  t.equal(table(conf, 'docker.io')?.mirrors[0]?.pullFromMirror, undefined, 'all: no key (= all)');
  t.equal(table(conf, 'quay.io/ns')?.mirrors[0]?.pullFromMirror, 'digest-only', 'all digest-only: digest-only');
  t.equal(table(conf, 'ghcr.io/team')?.mirrors[0]?.pullFromMirror, 'tag-only', 'all tag-only: tag-only');
  t.equal(table(conf, 'reg.example.com:5000/a/b')?.mirrors[0]?.pullFromMirror, undefined, 'digest-only and tag-only: all');
  t.match(text, `  [[registry.mirror]]\n  location = "${localMirrorLocation(ADDR, 'quay.io/ns')}"\n  insecure = true\n  pull-from-mirror = "digest-only"\n`);
});

t.test('mirror-by-digest-only tables: the table filters the endpoint too, no pull-from-mirror next to it', async (t) => {
  const base = parseRegistriesConf(
    `[[registry]]\nlocation = "q.example"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.example/q"\n`,
    'frag.conf',
  ).conf as RegistriesConf;
  const out = applyLocalMirror(base, { address: ADDR });
  t.same(out.registries[0]?.mirrors[0], { location: localMirrorLocation(ADDR, 'q.example'), insecure: true });
});

t.test('stable across renders, unique per table, and the mapping finds every table back', async (t) => {
  const a = build(on);
  const b = build(on);
  t.equal(a.text, b.text, 'the same file twice');
  const fronted = planLocalMirror(build().conf, { address: ADDR, baseFile: BASE }).fronted;
  const locations = fronted.map((p) => table(a.conf, p)?.mirrors[0]?.location);
  t.equal(new Set(locations).size, fronted.length, 'one location per table');
  for (const p of fronted) t.equal(mapLocalMirrorRepository(a.conf, ADDR, localMirrorPath(p))?.prefix, p, `${p} maps back`);
});

t.test('applied twice, or on a base that already lists it: still one endpoint', async (t) => {
  const { conf } = build(on);
  const twice = on(conf);
  t.same(twice, conf);
});

t.test('after the health order: the endpoint stays first however the mirrors are ordered', async (t) => {
  const { conf } = build((c) => on(applyHealthOrder(c, new Set(['https://cache-1.example']))));
  t.same(
    table(conf, 'docker.io')?.mirrors.map((m) => m.location),
    [localMirrorLocation(ADDR, 'docker.io'), 'cache-2.example:5000/dockerhub', 'cache-1.example/dockerhub'],
  );
});

t.test('wildcard tables: fronted only where a name with a port fails already; otherwise skipped with the reason', async (t) => {
  const plan = planLocalMirror(build().conf, { address: ADDR, baseFile: BASE });
  t.ok(plan.fronted.includes('*.wild.example'), 'w.example:5000 has a port: a.wild.example:5000/x fails already, the endpoint costs nothing more');
  t.same(plan.skipped, [], 'nothing skipped');
  const bare = parseRegistriesConf(
    `[[registry]]\nprefix = "*.bare.example"\nlocation = ""\n[[registry.mirror]]\nlocation = "bare-mirror.example"\n`,
    'frag.conf',
  ).conf as RegistriesConf;
  const p2 = planLocalMirror(bare, { address: ADDR });
  t.same(p2.fronted, []);
  t.match(p2.skipped, [{ prefix: '*.bare.example', why: /names with a port/ }]);
  t.same(applyLocalMirror(bare, { address: ADDR }), bare, 'left as it was');
});

t.test('turned off: the transform not applied, no trace of the endpoint', async (t) => {
  const { text: withIt } = build(on);
  const { text: without } = build();
  t.match(withIt, ADDR);
  t.notMatch(without, ADDR);
  t.notMatch(without, 'mirror-policyd/');
});

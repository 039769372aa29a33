/**
 * Large policies through the pure pipeline (issue 15): the IDMS oc-mirror writes for a large
 * catalog renders under the default fragment cap, and a list of tens of thousands of entries
 * costs linear work: each distinct name is parsed once per render, and twice the entries take
 * about twice the CPU, never four times. No absolute time is asserted.
 */
import t from 'tap';
import { DEFAULT_MAX_FRAGMENT_BYTES } from '../../src/core/defaults.js';
import { parseFragment } from '../../src/fragments/index.js';
import type { Fragment } from '../../src/fragments/policy.js';
import { mergePolicies } from '../../src/merge/merge.js';
import { buildRegistriesConf } from '../../src/pipeline/strict.js';
import { RewriteChecks, validateRewrites } from '../../src/registries-conf/validate.js';
import { insecureList, ocMirrorIdms } from '../helpers/large-policies.js';
import { withCpuMs } from '../helpers/cpu.js';

const locate = (): { file: string } => ({ file: 'registries.conf' });

function parsed(file: string, text: string): Fragment {
  const r = parseFragment(file, file.endsWith('.toml') ? 'toml' : 'yaml', text);
  if (!r.fragment) throw new Error(`${file} did not parse: ${r.diagnostics[0]?.message}`);
  return r.fragment;
}

t.test('an oc-mirror IDMS of 10 000 entries (over 1 MiB) renders under the default max-fragment-bytes', async (t) => {
  const text = ocMirrorIdms(10_000);
  t.ok(text.length > 1024 * 1024, `${text.length} bytes: more than the old fixed cap of 1 MiB`);
  t.ok(text.length < DEFAULT_MAX_FRAGMENT_BYTES, 'within the default cap');
  const r = buildRegistriesConf({ fragments: [{ file: '90-catalog.yaml', text }] });
  t.same(r.diagnostics, []);
  t.equal(r.conf?.registries.length, 10_000, 'a table per source');
  const out = r.text ?? '';
  t.equal(out.split('\n[[registry]]\n').length - 1, 10_000, '10 000 [[registry]] tables rendered');
  t.ok(
    out.includes(
      '\n[[registry]]\nlocation = "registry.redhat.io/ns-49/operator-9999-bundle"\n\n  [[registry.mirror]]\n  location = "mirror.example.com:5000/ns-49/operator-9999-bundle"\n  pull-from-mirror = "digest-only"\n',
    ),
    'the last entry, with its mirror, digest-only',
  );
});

t.test('each distinct name is parsed once per render: one parse per insecure table, none again in a second round', async (t) => {
  const n = 5000;
  const merged = mergePolicies({ fragments: [parsed('10-insecure.toml', insecureList(n))] });
  t.equal(merged.conf.registries.length, n);
  const checks = new RewriteChecks();
  t.same(validateRewrites(merged.conf, locate, checks), []);
  t.equal(checks.parsed, n, 'a table whose location is its prefix costs one parse, not two');
  t.same(validateRewrites(merged.conf, locate, checks), []);
  t.equal(checks.parsed, n, 'a second round of the same render parses nothing again');
});

t.test('a mirror shared by many tables is parsed once, however many tables use it', async (t) => {
  const sets = Array.from(
    { length: 2000 },
    (_, i) => `[[mirror-set]]\nsource = "registry.example.com/team-${i}"\nmirrors = ["mirror-${i % 4}.example.net/shared"]\n`,
  ).join('');
  const merged = mergePolicies({ fragments: [parsed('10-sets.toml', sets)] });
  const checks = new RewriteChecks();
  t.same(validateRewrites(merged.conf, locate, checks), []);
  // Per table: its scope as a namespace and as an exact repository; per mirror host: as a namespace and as a repository.
  t.equal(checks.parsed, 2000 * 2 + 4 * 2);
});

/** The least CPU time (ms) of a few renders of `text`: the least is the one the machine's other work disturbed least. */
function leastCpuMs(file: string, text: string, runs = 3): number {
  let least = Infinity;
  for (let i = 0; i < runs; i++) {
    const { result, ms } = withCpuMs(() => buildRegistriesConf({ fragments: [{ file, text }] }));
    if (result.text === undefined) throw new Error(`${file} did not render: ${result.diagnostics[0]?.message}`);
    least = Math.min(least, ms);
  }
  return least;
}

t.test('an insecure-registries list of 2n entries costs about twice the CPU of n (linear), far from four times (quadratic)', async (t) => {
  const n = 15_000;
  leastCpuMs('10-insecure.toml', insecureList(n / 10), 1); // warm up the code paths
  const one = leastCpuMs('10-insecure.toml', insecureList(n));
  const two = leastCpuMs('10-insecure.toml', insecureList(2 * n));
  const ratio = two / one;
  t.comment(`n=${n}: ${one.toFixed(0)} ms CPU, 2n: ${two.toFixed(0)} ms CPU, ratio ${ratio.toFixed(2)}`);
  t.ok(ratio < 3.2, `2n / n = ${ratio.toFixed(2)}: linear is 2, quadratic 4`);
});

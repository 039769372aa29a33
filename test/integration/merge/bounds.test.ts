/**
 * What one policy may expand to (src/merge/bounds.ts): checked on counts, before anything is built.
 * The 66 KB case used to render 1 000 200 mirrors in 38 s (past the daemon's 30 s watchdog).
 */
import t from 'tap';
import { DEFAULT_BOUNDS, type PolicyBounds } from '../../../src/merge/bounds.js';
import { buildForgiving } from '../../../src/pipeline/forgiving.js';
import { parseFragment } from '../../../src/fragments/index.js';
import { mergePolicies } from '../../../src/merge/merge.js';
import { buildRegistriesConf } from '../../../src/pipeline/strict.js';
import type { Fragment } from '../../../src/fragments/policy.js';
import { registryScope } from '../../../src/registries-conf/model.js';
import { renderBody } from '../../../src/registries-conf/render.js';
import { fragment } from '../../helpers/daemon.js';

/** The 66 KB fragment: 5 000 insecure namespaces under a source with 200 mirrors (1 000 200 mirrors once inherited). */
function amplifyingFragment(namespaces = 5000, mirrors = 200): string {
  const scopes = Array.from({ length: namespaces }, (_, i) => `"quay.io/n${i}",`).join('\n');
  const list = Array.from({ length: mirrors }, (_, i) => `"m${i}.example.com/q",`).join('\n');
  return `insecure-registries = [\n${scopes}\n]\n\n[[mirror-set]]\nsource = "quay.io"\npull-from-mirror = "all"\nmirrors = [\n${list}\n]\n`;
}

function parsed(file: string, text: string): Fragment {
  const p = parseFragment(file, 'toml', text);
  if (!p.fragment) throw new Error(`${file} does not parse: ${JSON.stringify(p.diagnostics)}`);
  return p.fragment;
}

const errorsOf = (ds: ReadonlyArray<{ severity: string; file: string; line?: number; message: string }>): string[] =>
  ds.filter((d) => d.severity === 'error').map((d) => `${d.file}:${d.line ?? ''}: ${d.message}`);

t.test('the 66 KB amplifying fragment is refused, naming it, before anything is built', async (t) => {
  const text = amplifyingFragment();
  t.ok(text.length < 100_000, `a small fragment (${text.length} bytes)`);
  const r = buildRegistriesConf({ fragments: [{ file: '10-amp.toml', text }] });
  t.equal(r.text, undefined, 'nothing rendered');
  const errors = errorsOf(r.diagnostics);
  t.equal(errors.length, 1, errors.join('\n'));
  t.match(
    errors[0],
    /^10-amp\.toml:2: the policy would render 1000200 mirrors, more than the limit of 100000 \(1000200 mirrors from this file: 5000 scopes here are nested in "quay\.io" and would each inherit its 200 mirrors \(listed at 10-amp\.toml:5008:1\)/,
  );
  t.match(errors[0], /see LIMITS in mirror-policy\.d\(5\)/, 'says where the limits are documented');
  const mirrors = (r.conf?.registries ?? []).reduce((n, x) => n + x.mirrors.length, 0);
  t.equal(mirrors, 200, "no inherited mirror was built: only the source's own 200");
});

t.test('within the bounds, nested scopes still inherit (and the bound itself is allowed)', async (t) => {
  const text = amplifyingFragment(3, 2); // 2 own + 3 × 2 inherited = 8 mirrors
  const frag = parsed('10-amp.toml', text);
  const at = (bounds: Partial<PolicyBounds>) => mergePolicies({ fragments: [frag], bounds: { ...DEFAULT_BOUNDS, ...bounds } });
  const ok = at({ maxMirrors: 8 });
  t.strictSame(errorsOf(ok.diagnostics), []);
  t.strictSame(
    ok.conf.registries.map((x) => [registryScope(x), x.mirrors.map((m) => m.location)]),
    [
      ['quay.io', ['m0.example.com/q', 'm1.example.com/q']],
      ['quay.io/n0', ['m0.example.com/q/n0', 'm1.example.com/q/n0']],
      ['quay.io/n1', ['m0.example.com/q/n1', 'm1.example.com/q/n1']],
      ['quay.io/n2', ['m0.example.com/q/n2', 'm1.example.com/q/n2']],
    ],
  );
  const over = at({ maxMirrors: 7 });
  t.match(errorsOf(over.diagnostics), [
    /^10-amp\.toml:2: the policy would render 8 mirrors, more than the limit of 7 \(8 mirrors from this file: 3 scopes here are nested in "quay\.io"/,
  ]);
  t.ok(
    over.conf.registries.filter((x) => x.location.startsWith('quay.io/n')).every((x) => x.mirrors.length === 0),
    'refused: nothing inherited',
  );
});

t.test('each bound, reported at the fragment that contributes the most', async (t) => {
  const small = parsed('10-small.toml', fragment('quay.io/a', ['m.example.com/a']));
  const big = parsed('20-big.toml', Array.from({ length: 3 }, (_, i) => fragment(`quay.io/b${i}`, ['m1.example.com/b', 'm2.example.com/b'])).join('\n'));
  const merge = (bounds: Partial<PolicyBounds>) => errorsOf(mergePolicies({ fragments: [small, big], bounds: { ...DEFAULT_BOUNDS, ...bounds } }).diagnostics);
  t.strictSame(merge({ maxTables: 4, maxMirrorsPerTable: 2, maxMirrors: 7 }), [], 'at every bound: fine');
  t.match(merge({ maxTables: 3 }), [
    /^20-big\.toml:2: the policy would render 4 \[\[registry\]\] tables, more than the limit of 3 \(3 of them from this file\)/,
  ]);
  t.match(merge({ maxMirrorsPerTable: 1 }), [/^20-big\.toml:3: \[\[registry\]\] "quay\.io\/b0" would have 2 mirrors, more than the limit of 1 per table/]);
  t.match(merge({ maxMirrors: 6 }), [/^20-big\.toml:3: the policy would render 7 mirrors, more than the limit of 6 \(6 mirrors from this file\)/]);
  const bytes = renderBody(mergePolicies({ fragments: [small, big] }).conf).length;
  t.strictSame(merge({ maxOutputBytes: bytes + 10 }), [], 'the size counted is the size rendered (give or take the last newline)');
  const twin = parsed('30-twin.toml', Array.from({ length: 3 }, (_, i) => fragment(`quay.io/t${i}`, ['m1.example.com/t', 'm2.example.com/t'])).join('\n'));
  t.match(
    errorsOf(mergePolicies({ fragments: [small, big, twin], bounds: { ...DEFAULT_BOUNDS, maxMirrors: 12 } }).diagnostics),
    [/^30-twin\.toml:3: the policy would render 13 mirrors, more than the limit of 12 \(6 mirrors from this file\)/],
    'on a tie, the last in merge order',
  );
  t.match(merge({ maxOutputBytes: bytes - 10 }), [
    /^20-big\.toml:\d+: the policy would render about 0\.0 MiB of registries\.conf, more than the limit of 0\.0 MiB/,
  ]);
});

t.test('an amplification across two fragments names both sides: the daemon drops the one changed last', async (t) => {
  const scopes = `insecure-registries = [${Array.from({ length: 2000 }, (_, i) => `"quay.io/n${i}"`).join(', ')}]\n`;
  const mirrors = fragment(
    'quay.io',
    Array.from({ length: 150 }, (_, i) => `m${i}.example.com/q`),
  );
  const files = { '10-insecure.toml': scopes, '20-mirrors.toml': mirrors };
  const strict = buildRegistriesConf({ fragments: Object.entries(files).map(([file, text]) => ({ file, text })) });
  t.match(errorsOf(strict.diagnostics), [
    /^10-insecure\.toml:1: the policy would render 300150 mirrors, .* 2000 scopes here are nested in "quay\.io" and would each inherit its 150 mirrors \(listed at 20-mirrors\.toml:3:\d+\)/,
  ]);

  for (const [newer, other] of [
    ['20-mirrors.toml', '10-insecure.toml'],
    ['10-insecure.toml', '20-mirrors.toml'],
  ] as const) {
    const r = buildForgiving(
      { fragments: Object.entries(files).map(([file, text]) => ({ file, text, changedAt: file === newer ? 2 : 1 })), unreadable: [], lastGood: {} },
      { file: 'registries.conf' },
    );
    t.strictSame(r.inEffect, [other], `${newer} changed last: it is left out`);
    t.ok(r.text, 'the rest is rendered');
    const status = r.statuses.find((s) => s.file === newer);
    t.equal(status?.state, 'invalid');
    t.match(status?.errors.map((d) => d.message).join('\n'), /would render 300150 mirrors/);
  }
});

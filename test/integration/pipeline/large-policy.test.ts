/**
 * Large policies render in linear time. No test asserts a time: these took minutes (past
 * the suite's 120 s timeout per file, the only clock here) while each entry was located by
 * scanning the lines above it and compared with every table.
 */
import t from 'tap';
import { buildRegistriesConf } from '../../../src/pipeline/strict.js';
import { registryScope } from '../../../src/registries-conf/model.js';
import { fragment } from '../../helpers/daemon.js';

const errorsOf = (ds: ReadonlyArray<{ severity: string; file: string; line?: number; message: string }>): string[] =>
  ds.filter((d) => d.severity === 'error').map((d) => `${d.file}:${d.line ?? ''}: ${d.message}`);

t.test('90 000 insecure-registries entries (955 KiB) render, each an insecure table', async (t) => {
  // Took 140 s of CPU.
  const n = 90_000;
  const entries = Array.from({ length: n }, (_, i) => `"${i}.io",${i % 16 === 15 ? '\n' : ''}`).join('');
  const text = `insecure-registries = [\n${entries}\n]\n`;
  t.ok(text.length < 1024 * 1024, `within the 1 MiB a fragment may have (${text.length} bytes)`);
  const r = buildRegistriesConf({ fragments: [{ file: '10-insecure.toml', text }] });
  t.strictSame(errorsOf(r.diagnostics), []);
  const tables = r.conf?.registries ?? [];
  t.equal(tables.length, n);
  t.ok(
    tables.every((x) => x.insecure === true),
    'all insecure',
  );
  t.equal(r.text?.match(/^insecure = true$/gm)?.length, n, 'all rendered');
  t.strictSame(tables[n - 1]?.origin, { file: '10-insecure.toml', line: 5626, col: 166 }, 'still located at its line and column');
});

t.test('many scopes nested in many mirrored scopes: each inherits from its own, fast', async (t) => {
  // 20 000 insecure namespaces under 20 000 mirrored sources: was 4·10⁸ nesting checks.
  const n = 20_000;
  const sets = Array.from({ length: n }, (_, i) => fragment(`quay.io/s${i}`, [`m.example.com/s${i}`])).join('\n');
  const scopes = `insecure-registries = [${Array.from({ length: n }, (_, i) => `"quay.io/s${i}/app"`).join(',\n')}]\n`;
  const r = buildRegistriesConf({
    fragments: [
      { file: '10-scopes.toml', text: scopes },
      { file: '20-sets.toml', text: sets },
    ],
  });
  t.strictSame(errorsOf(r.diagnostics), []);
  const app = r.conf?.registries.find((x) => registryScope(x) === `quay.io/s${n - 1}/app`);
  t.strictSame(
    app?.mirrors.map((m) => [m.location, m.insecure]),
    [[`m.example.com/s${n - 1}/app`, undefined]],
  );
});

t.test('40 000 aliases (800 KiB) render, each located at its line', async (t) => {
  // Took more than ten minutes: the aliases were copied once per alias, and each was located
  // by scanning the [aliases] table from its start.
  const n = 40_000;
  const text = `[aliases]\n${Array.from({ length: n }, (_, i) => `a${i} = "d.io/a${i}"`).join('\n')}\n`;
  const r = buildRegistriesConf({ fragments: [{ file: '10-aliases.toml', text }] });
  t.strictSame(errorsOf(r.diagnostics), []);
  t.equal(Object.keys(r.conf?.aliases ?? {}).length, n);
  t.equal(r.text?.match(/^"a\d+" = "d\.io\/a\d+"$/gm)?.length, n, 'all rendered');
  const bad = buildRegistriesConf({ fragments: [{ file: '10-aliases.toml', text: text.replace(`a${n - 1} = "d.io/a${n - 1}"`, `a${n - 1} = 5`) }] });
  t.match(errorsOf(bad.diagnostics), [new RegExp(`^10-aliases\\.toml:${n + 1}: alias "a${n - 1}" must be a string`)], 'the last one, located');
});

/**
 * Calls of the string methods every scan uses, while `run` runs. A deterministic count, not a
 * time: linear work grows as the input, a scan per entry as its square.
 */
function stringOps(run: () => void): number {
  const names = ['indexOf', 'startsWith', 'endsWith', 'includes'] as const;
  const proto = String.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const saved = names.map((name) => proto[name] as (...args: unknown[]) => unknown);
  let calls = 0;
  names.forEach((name, i) => {
    const original = saved[i] as (...args: unknown[]) => unknown;
    proto[name] = function (this: string, ...args: unknown[]) {
      calls++;
      return original.apply(this, args);
    };
  });
  try {
    run();
  } finally {
    names.forEach((name, i) => void (proto[name] = saved[i] as (...args: unknown[]) => unknown));
  }
  return calls;
}

t.test('the work grows linearly with the entries (string operations counted, 4× the entries)', async (t) => {
  const insecureList = (n: number) => [
    { file: '10-insecure.toml', text: `insecure-registries = [\n${Array.from({ length: n }, (_, i) => `"${i}.io",`).join('\n')}\n]\n` },
  ];
  const nested = (n: number) => [
    { file: '10-scopes.toml', text: `insecure-registries = [${Array.from({ length: n }, (_, i) => `"quay.io/s${i}/app"`).join(',\n')}]\n` },
    { file: '20-sets.toml', text: Array.from({ length: n }, (_, i) => fragment(`quay.io/s${i}`, [`m.example.com/s${i}`])).join('\n') },
  ];
  const aliases = (n: number) => [{ file: '10-aliases.toml', text: `[aliases]\n${Array.from({ length: n }, (_, i) => `a${i} = "d.io/a${i}"`).join('\n')}\n` }];
  for (const [name, input] of [
    ['an insecure list', insecureList],
    ['nested scopes under as many sources', nested],
    ['aliases', aliases],
  ] as const) {
    const ops = (n: number) => stringOps(() => t.strictSame(errorsOf(buildRegistriesConf({ fragments: input(n) }).diagnostics), []));
    const small = ops(2000);
    const large = ops(8000);
    t.ok(large < 6 * small, `${name}: ${small} operations for 2 000, ${large} for 8 000 (a scan per entry would be 16×)`);
  }
});

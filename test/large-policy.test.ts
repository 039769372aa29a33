/**
 * Large policies render in linear time. No test asserts a time: these took minutes (past
 * the suite's 120 s timeout per file, the only clock here) while each entry was located by
 * scanning the lines above it and compared with every table.
 */
import t from 'tap';
import { buildRegistriesConf } from '../src/pipeline.js';
import { registryScope } from '../src/registries-conf.js';
import { fragment } from './helpers/daemon.js';

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
  t.ok(tables.every((x) => x.insecure === true), 'all insecure');
  t.equal(r.text?.match(/^insecure = true$/gm)?.length, n, 'all rendered');
  t.strictSame(tables[n - 1]?.origin, { file: '10-insecure.toml', line: 5626, col: 166 }, 'still located at its line and column');
});

t.test('many scopes nested in many mirrored scopes: each inherits from its own, fast', async (t) => {
  // 20 000 insecure namespaces under 20 000 mirrored sources: was 4·10⁸ nesting checks.
  const n = 20_000;
  const sets = Array.from({ length: n }, (_, i) => fragment(`quay.io/s${i}`, [`m.example.com/s${i}`])).join('\n');
  const scopes = `insecure-registries = [${Array.from({ length: n }, (_, i) => `"quay.io/s${i}/app"`).join(',\n')}]\n`;
  const r = buildRegistriesConf({ fragments: [{ file: '10-scopes.toml', text: scopes }, { file: '20-sets.toml', text: sets }] });
  t.strictSame(errorsOf(r.diagnostics), []);
  const app = r.conf?.registries.find((x) => registryScope(x) === `quay.io/s${n - 1}/app`);
  t.strictSame(app?.mirrors.map((m) => [m.location, m.insecure]), [[`m.example.com/s${n - 1}/app`, undefined]]);
});


// Fragments' registries.conf content layered like registries.conf.d drop-ins: a genuine
// override is said (the later file name wins); the same setting given twice is not one.
import t from 'tap';
import { formatDiagnostic } from '../../src/core/diagnostic.js';
import { buildRegistriesConf } from '../../src/pipeline/strict.js';

const OUT = { file: 'registries.conf' };
const table = (mirror: string): string => `[[registry]]\nlocation = "quay.io/org"\n\n  [[registry.mirror]]\n  location = "${mirror}"\n`;

function warningsOf(a: string, b: string): string[] {
  const r = buildRegistriesConf(
    {
      fragments: [
        { file: '10-a.toml', text: a },
        { file: '20-b.toml', text: b },
      ],
    },
    OUT,
  );
  return r.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
}

t.test('the same table (mirrors and all) in two fragments is no override: nothing to say', async (t) => {
  t.strictSame(warningsOf(table('m.local/org'), `# the same, written by another tool\n${table('m.local/org')}`), []);
  t.strictSame(warningsOf('short-name-mode = "enforcing"\n', 'short-name-mode = "enforcing"\n'), [], 'nor the same top-level value');
});

t.test('a different table or value for the same key: a warning at the later file, naming the earlier', async (t) => {
  t.match(warningsOf(table('m.local/org'), table('other.local/org')), [
    /^20-b\.toml:1:1: warning: \[\[registry\]\] "quay\.io\/org" is also set in 10-a\.toml:1; 20-b\.toml wins/,
  ]);
  t.match(warningsOf('short-name-mode = "enforcing"\n', 'short-name-mode = "disabled"\n'), [
    /^20-b\.toml:1:\d+: warning: short-name-mode is also set in 10-a\.toml:1; 20-b\.toml wins/,
  ]);
});

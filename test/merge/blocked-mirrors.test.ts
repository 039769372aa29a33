import t from 'tap';
import { formatDiagnostic } from '../../src/core/diagnostic.js';
import { buildRegistriesConf } from '../../src/pipeline/strict.js';

const OUT = { file: 'registries.conf' };

function warnings(text: string): string[] {
  const r = buildRegistriesConf({ fragments: [{ file: '10-a.toml', text }] }, OUT);
  t.strictSame(
    r.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  return r.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
}

const set = (source: string, mirrors: readonly string[], extra = ''): string =>
  `[[mirror-set]]\nsource = "${source}"\nmirrors = [${mirrors.map((m) => `"${m}"`).join(', ')}]\n${extra}`;

t.test('a mirror under a blocked scope is said at the mirror, naming the block', async (t) => {
  t.match(warnings(`blocked-registries = ["blocked.example.com"]\n\n${set('src.example.com', ['blocked.example.com/m', 'good.example.net'])}`), [
    /^10-a\.toml:5:12: warning: mirror "blocked\.example\.com\/m" of "src\.example\.com" is under blocked "blocked\.example\.com" \(10-a\.toml:1:\d+\)/,
  ]);
  t.match(
    warnings(set('quay.io', ['mirror.local/quay'], 'source-policy = "never"\n') + set('registry.example.com', ['quay.io/mirror', 'good.example.net'])),
    [/mirror "quay\.io\/mirror" of "registry\.example\.com" is under blocked "quay\.io"/],
    'blocked by NeverContactSource too',
  );
});

t.test('no warning when a more specific table that is not blocked answers for the mirror', async (t) => {
  // NeverContactSource blocks quay.io; quay.io/mirror has mirror sets of its own, so it is not blocked, and it is the table
  // containers/image takes for names under quay.io/mirror/m.
  const text =
    set('quay.io', ['mirror.local/quay'], 'source-policy = "never"\n') +
    set('quay.io/mirror', ['mirror.local/own']) +
    set('registry.example.com', ['quay.io/mirror/m']);
  t.strictSame(warnings(text), []);
  const nested = `blocked-registries = ["blocked.example.com"]\n\n${set('src.example.com', ['blocked.example.com/open/m'])}\n[[registry]]\nlocation = "blocked.example.com/open"\n`;
  t.match(warnings(nested), [/is under blocked "blocked\.example\.com\/open"/], 'a nested table of a blocked scope is blocked too');
});

t.test('an inherited copy of a blocked mirror is not said again', async (t) => {
  const text = `blocked-registries = ["blocked.example.com"]\ninsecure-registries = ["src.example.com/team"]\n\n${set('src.example.com', ['blocked.example.com/m'])}`;
  t.equal(warnings(text).filter((w) => w.includes('under blocked')).length, 1);
});

t.test("a mirror on another port of a blocked host: containers/image's prefix match stops at ':' too, so it is refused", async (t) => {
  t.match(warnings(set('registry.example.com', ['registry.example.com:5000/cache'], 'source-policy = "never"\n')), [
    /mirror "registry\.example\.com:5000\/cache" of "registry\.example\.com" is under blocked "registry\.example\.com"/,
  ]);
  t.match(
    warnings(`blocked-registries = ["*.blocked.example"]\n\n${set('src.example.com', ['m.blocked.example:5000/x'])}`),
    [/is under blocked "\*\.blocked\.example"/],
    'a wildcard block too',
  );
});

import t from 'tap';
import { formatDiagnostic } from '../../src/core/diagnostic.js';
import { findShadowing } from '../../src/merge/shadowing.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';

const conf: RegistriesConf = {
  registries: [
    { location: 'quay.io/org', mirrors: [{ location: 'm.local/org' }] },
    { location: 'blocked.example.com', blocked: true, mirrors: [] },
    { location: 'insecure.example.com', insecure: true, mirrors: [] },
  ],
};
const said = (text: string): string[] => findShadowing(conf, [{ file: '/etc/containers/registries.conf.d/50-x.conf', text }]).map(formatDiagnostic);

t.test('a drop-in table for a prefix we manage replaces ours whole', async (t) => {
  t.match(said('[[registry]]\nlocation = "quay.io/org"\n'), [
    /50-x\.conf:1:1: warning: this drop-in defines prefix "quay\.io\/org", which the rendered registries\.conf manages/,
  ]);
});

t.test('a drop-in table nested in a scope of ours with mirrors or a block hides them for names under it', async (t) => {
  t.match(said('[[registry]]\nlocation = "quay.io/org/team"\n'), [
    /defines prefix "quay\.io\/org\/team" inside "quay\.io\/org", .* without our mirrors \(unless it says the same\)$/,
  ]);
  t.match(said('[[registry]]\nlocation = "blocked.example.com/x"\n'), [/inside "blocked\.example\.com", .* without our block \(unless/]);
});

t.test('nothing to say for a table outside our scopes', async (t) => {
  t.strictSame(said('[[registry]]\nlocation = "quay.io/other"\n\n[[registry]]\nlocation = "quay.io/organisation"\n'), []);
  t.match(said('[[registry]]\nlocation = "insecure.example.com/x"\n'), [/without our insecure flag/], 'an insecure flag lost matters too (TLS then required)');
});

t.test('the nearest of our tables decides: a drop-in under our mirror-less table under a mirrored one loses nothing', async (t) => {
  const nested: RegistriesConf = {
    registries: [
      { location: 'quay.io', mirrors: [{ location: 'm.local/quay' }] },
      { location: 'quay.io/org', mirrors: [] },
    ],
  };
  t.strictSame(findShadowing(nested, [{ file: 'x.conf', text: '[[registry]]\nlocation = "quay.io/org/app"\n' }]), []);
});

t.test("containers/image's prefix match decides: our table for a host answers for that host on another port too", async (t) => {
  t.match(said('[[registry]]\nlocation = "blocked.example.com:5000"\n'), [/defines prefix "blocked\.example\.com:5000" inside "blocked\.example\.com"/]);
});

t.test('a drop-in containers/image refuses is said: every pull on the host fails while it is there', async (t) => {
  t.match(said('[[registry]]\nlocation = "quay.io/other"\nmirror = [{ location = "m.local/a", }]\n'), [
    /50-x\.conf:3:\d+: warning: containers\/image refuses this drop-in, so every pull on this host fails until it is mended or removed: .*TOML 1\.1/,
  ]);
  t.match(said('[registries.block]\nregistries = ["x.example"]\n'), [
    /50-x\.conf: warning: containers\/image refuses this drop-in, .*: registry must be in v2 format but is in v1$/,
  ]);
  t.match(
    said('[[registry]]\nlocation = "quay.io/x"\ninsecure = "yes"\n'),
    [/50-x\.conf:3:\d+: warning: containers\/image refuses this drop-in, .*: "insecure" must be a boolean/],
    'a value it refuses',
  );
  t.match(findShadowing(conf, [{ file: 'latin1.conf', text: '', invalidUtf8Line: 2 }]).map(formatDiagnostic), [
    /^latin1\.conf:2:1: warning: containers\/image refuses this drop-in, .*: invalid UTF-8/,
  ]);
});

t.test('a drop-in setting a top-level key or an alias of ours to another value: containers/image takes the drop-in’s', async (t) => {
  const withKeys: RegistriesConf = {
    ...conf,
    unqualifiedSearchRegistries: ['registry.corp.example'],
    shortNameMode: 'enforcing',
    aliases: { app: 'registry.corp.example/app' },
  };
  const say = (text: string): string[] => findShadowing(withKeys, [{ file: '/etc/containers/registries.conf.d/00-local.conf', text }]).map(formatDiagnostic);
  t.match(say('# local\nunqualified-search-registries = ["docker.io"]\n'), [
    /00-local\.conf:2:1: warning: this drop-in sets unqualified-search-registries, which the rendered registries\.conf sets too; containers\/image uses the drop-in's value$/,
  ]);
  t.match(say('Short-Name-Mode = "permissive"\n'), [/00-local\.conf:1:1: warning: this drop-in sets short-name-mode/], 'keys match case-insensitively');
  t.match(say('[aliases]\n"app" = "docker.io/library/app"\n"other" = "docker.io/library/other"\n'), [
    /00-local\.conf:2:1: warning: this drop-in sets the alias "app", which the rendered registries\.conf sets to "registry\.corp\.example\/app"/,
  ]);
  t.strictSame(
    say('unqualified-search-registries = ["registry.corp.example"]\nshort-name-mode = "enforcing"\n[aliases]\n"app" = "registry.corp.example/app"\n'),
    [],
    'the same values: nothing to say',
  );
  t.strictSame(said('unqualified-search-registries = ["docker.io"]\n'), [], 'a key the render does not set: nothing to say');
});

import t from 'tap';
import { parseWwwAuthenticate } from '../../src/registry/www-authenticate.js';

t.test('bearer and basic challenges as registries send them', async (t) => {
  t.same(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
  t.same(parseWwwAuthenticate('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  t.same(
    parseWwwAuthenticate('Bearer realm="https://a/t",scope="repository:a/b:pull,push"'),
    [{ scheme: 'bearer', params: { realm: 'https://a/t', scope: 'repository:a/b:pull,push' } }],
    'commas inside quotes',
  );
  t.same(
    parseWwwAuthenticate('Bearer realm=https://a/t, service=reg'),
    [{ scheme: 'bearer', params: { realm: 'https://a/t', service: 'reg' } }],
    'unquoted values',
  );
  t.same(
    parseWwwAuthenticate('Basic realm="a\\"b", Bearer realm="x"'),
    [
      { scheme: 'basic', params: { realm: 'a"b' } },
      { scheme: 'bearer', params: { realm: 'x' } },
    ],
    'escapes and several challenges',
  );
  t.same(parseWwwAuthenticate(''), []);
});

/**
 * What containerd tries, from a hosts.toml (src/containerd/attempts.ts), pure: containerd
 * 1.6's rules for paths, capabilities and the server; checked against our own renders.
 */
import t from 'tap';
import { containerdAttempts } from '../../src/containerd/attempts.js';
import { renderHostsTomls } from '../../src/containerd/hosts-toml.js';

t.test('our render, read back as containerd reads it: digest-only mirrors for digests, the rest for tags, the server last', async (t) => {
  const { files } = renderHostsTomls({
    registries: [
      {
        location: 'quay.io',
        mirrors: [{ location: 'd.example:5000/quay', pullFromMirror: 'digest-only', insecure: true }, { location: 'all.example' }],
      },
    ],
  });
  const text = files[0]?.text;
  t.same(
    containerdAttempts('quay.io', 'team/app', true, text).map((a) => [a.role, a.url, a.skipVerify]),
    [
      ['host', 'https://d.example:5000/v2/quay/team/app', true],
      ['host', 'http://d.example:5000/v2/quay/team/app', false],
      ['host', 'https://all.example/v2/team/app', false],
      ['server', 'https://quay.io/v2/team/app', false],
    ],
    'by digest',
  );
  t.same(
    containerdAttempts('quay.io', 'team/app', false, text).map((a) => a.url),
    ['https://all.example/v2/team/app', 'https://quay.io/v2/team/app'],
    'by tag: the digest-only mirror is not asked',
  );
});

t.test('no hosts.toml: the registry itself (docker.io is registry-1); no capabilities: all; a path gets /v2 appended', async (t) => {
  t.same(
    containerdAttempts('docker.io', 'library/busybox', false, undefined).map((a) => a.url),
    ['https://registry-1.docker.io/v2/library/busybox'],
  );
  const text = 'server = "https://registry.lan"\n[host."http://m.lan:5000/prefix"]\n';
  t.same(
    containerdAttempts('registry.lan', 'app', false, text).map((a) => [a.url, a.capabilities]),
    [
      ['http://m.lan:5000/prefix/v2/app', ['pull', 'resolve', 'push']],
      ['https://registry.lan/v2/app', ['pull', 'resolve', 'push']],
    ],
  );
  t.throws(() => containerdAttempts('x', 'app', true, 'server = '), 'a file containerd could not parse is an error');
});

t.test('the local mirror is marked among the attempts (plain http under its namespace), nothing else is', async (t) => {
  const text = [
    'server = "https://quay.io"',
    '[host."http://127.0.0.1:5050/v2/mirror-policyd/0123456789abcdef0123"]',
    '  capabilities = ["pull", "resolve"]',
    '  override_path = true',
    '[host."https://mirror.example/v2/mirror-policyd/x"]',
    '  capabilities = ["pull", "resolve"]',
    '  override_path = true',
  ].join('\n');
  const attempts = containerdAttempts('quay.io', 'team/app', false, text);
  t.same(
    attempts.map((a) => a.localMirror),
    [true, false, false],
    'an https mirror that happens to use the same path is not ours',
  );
});

t.test('a tag is resolved only by hosts with both pull and resolve (containerd filters on pull|resolve), a digest by pull hosts', async (t) => {
  const text = [
    'server = "https://registry.lan"',
    '[host."https://resolve-only.lan"]',
    '  capabilities = ["resolve"]',
    '[host."https://pull-only.lan"]',
    '  capabilities = ["pull"]',
  ].join('\n');
  t.same(
    containerdAttempts('registry.lan', 'app', false, text).map((a) => a.url),
    ['https://registry.lan/v2/app'],
    'by tag: neither host',
  );
  t.same(
    containerdAttempts('registry.lan', 'app', true, text).map((a) => a.url),
    ['https://pull-only.lan/v2/app', 'https://registry.lan/v2/app'],
    'by digest: the pull host',
  );
});

t.test(
  'as containerd 1.6 and 1.7 read it: a loopback registry defaults to http; a file without [host] or with an unknown capability is refused (the registry alone)',
  async (t) => {
    t.same(
      containerdAttempts('127.0.0.1:5000', 'app', true, undefined).map((a) => a.url),
      ['http://127.0.0.1:5000/v2/app'],
    );
    t.same(
      containerdAttempts('[::1]:5000', 'app', true, undefined).map((a) => a.url),
      ['http://[::1]:5000/v2/app'],
      'IPv6 loopback with a port: http too (docker.IsLocalhost: net.ParseIP(host).IsLoopback())',
    );
    t.same(
      containerdAttempts('localhost:5000', 'app', false, 'capabilities = ["pull", "resolve"]\n[host."https://m.lan"]\n').map((a) => a.url),
      ['https://m.lan/v2/app', 'http://localhost:5000/v2/app'],
      'no server: the default, http for loopback',
    );
    t.same(
      containerdAttempts('quay.io', 'app', true, 'server = "https://elsewhere.lan"\n').map((a) => a.url),
      ['https://quay.io/v2/app'],
      'server alone: refused ("invalid `host` tree"), the registry itself',
    );
    t.same(
      containerdAttempts('quay.io', 'app', true, '[host."https://m.lan"]\n  capabilities = ["pull", "fetch"]\n').map((a) => a.url),
      ['https://quay.io/v2/app'],
      'an unknown capability: refused',
    );
  },
);

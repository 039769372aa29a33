/**
 * containerd's hosts.toml from the merged policy (src/containerd/hosts-toml.ts), pure: the
 * mirrors in order with their capabilities, paths and insecure forms; what containerd cannot
 * express left out with a warning at its fragment's line; everything escaped.
 */
import t from 'tap';
import { parse } from 'smol-toml';
import { formatDiagnostic, type Diagnostic } from '../../src/core/diagnostic.js';
import { endpointHosts, HOSTS_TOML_HEADER, renderHostsTomls } from '../../src/containerd/hosts-toml.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';
import { containerdAttempts } from '../../src/containerd/attempts.js';
import { localMirrorLocation, localMirrorPath } from '../../src/local-mirror/mapping.js';

const at = (line: number) => ({ file: '10-policy.toml', line });

t.test('a registry source: server, then its mirrors in order; pull only for digest-only mirrors; a path needs override_path', async (t) => {
  const conf: RegistriesConf = {
    registries: [
      {
        location: 'quay.io',
        origin: at(1),
        mirrors: [{ location: 'mirror-1.example:5000/quay', pullFromMirror: 'digest-only' }, { location: 'mirror-2.example' }],
      },
    ],
  };
  const { files, warnings } = renderHostsTomls(conf);
  t.same(warnings, []);
  t.equal(files.length, 1);
  t.equal(files[0]?.host, 'quay.io');
  t.ok(files[0]?.text.startsWith(HOSTS_TOML_HEADER), 'our header marks it');
  t.equal(
    files[0]?.text.slice(HOSTS_TOML_HEADER.length),
    [
      'server = "https://quay.io"',
      '',
      '[host."https://mirror-1.example:5000/v2/quay"]',
      '  capabilities = ["pull"]',
      '  override_path = true',
      '',
      '[host."https://mirror-2.example"]',
      '  capabilities = ["pull", "resolve"]',
      '',
    ].join('\n'),
  );
  const parsed = parse(files[0]?.text ?? '') as { server: string; host: Record<string, { capabilities: string[] }> };
  t.same(Object.keys(parsed.host), ['https://mirror-1.example:5000/v2/quay', 'https://mirror-2.example'], 'valid TOML, the order kept');
});

t.test('insecure: https without verification, then plain http; an insecure source too; docker.io is registry-1', async (t) => {
  const { files } = renderHostsTomls({
    registries: [
      { location: 'docker.io', mirrors: [{ location: 'hub-mirror.lan:5000', insecure: true }] },
      { location: 'registry.lan:5000', insecure: true, mirrors: [{ location: 'm.lan' }], mirrorByDigestOnly: true },
    ],
  });
  t.same(
    files.map((f) => f.host),
    ['docker.io', 'registry.lan:5000'],
  );
  t.match(files[0]?.text, 'server = "https://registry-1.docker.io"');
  t.match(
    files[0]?.text,
    '[host."https://hub-mirror.lan:5000"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = true\n\n[host."http://hub-mirror.lan:5000"]',
  );
  t.match(files[1]?.text, /server = "http:\/\/registry\.lan:5000"\n\n/, "an insecure source: plain http is containerd's last try");
  t.match(
    files[1]?.text,
    /\[host."https:\/\/m\.lan"\]\n {2}capabilities = \["pull"\]\n\n\[host."https:\/\/registry\.lan:5000"\]\n {2}capabilities = \["pull", "resolve"\]\n {2}skip_verify = true\n/,
    'mirror-by-digest-only: pull only; then the source over unverified https, before its plain http (containers/image asks https first)',
  );
});

t.test('what containerd cannot express is left out, with a warning at its line', async (t) => {
  const { files, warnings } = renderHostsTomls({
    registries: [
      { location: 'quay.io/team', origin: at(3), mirrors: [{ location: 'm.example/team' }] },
      { prefix: '*.example.com', location: '', origin: at(7), mirrors: [{ location: 'm.example' }] },
      { prefix: 'ghcr.io', location: 'other.example', origin: at(11), mirrors: [{ location: 'm.example/ghcr' }] },
      { location: 'gcr.io', blocked: true, origin: at(15), mirrors: [{ location: 'm.example/gcr' }] },
      {
        location: 'docker.io',
        origin: at(19),
        mirrors: [{ location: 'tags.example', pullFromMirror: 'tag-only', origin: at(20) }, { location: 'all.example' }],
      },
      { location: 'no-mirrors.example', mirrors: [] },
    ],
  });
  t.same(
    files.map((f) => f.host),
    ['docker.io'],
  );
  t.notMatch(files[0]?.text, 'tags.example', 'the tag-only mirror left out');
  t.match(warnings.map(formatDiagnostic), [
    /^10-policy\.toml:3:1: warning: containerd cannot express a namespace-scoped source \(quay\.io\/team\)/,
    /^10-policy\.toml:7:1: warning: containerd cannot express a wildcard source/,
    /^10-policy\.toml:11:1: warning: containerd cannot express a source rewritten to another location \(other\.example\)/,
    /^10-policy\.toml:15:1: warning: containerd cannot express a blocked source \(NeverContactSource\)/,
    /^10-policy\.toml:20:1: warning: containerd cannot express a tag-only mirror \(tags\.example of docker\.io/,
  ]);
});

t.test('hostile locations are escaped: a value never opens a table or adds a key', async (t) => {
  const { files } = renderHostsTomls({ registries: [{ location: 'quay.io', mirrors: [{ location: 'm.example/a"]\n[evil]\nx = "1' }] }] });
  const parsed = parse(files[0]?.text ?? '') as Record<string, unknown>;
  t.same(Object.keys(parsed).sort(), ['host', 'server']);
});

t.test('every rendered string is escaped: mirror hosts and paths, insecure forms, certificate paths, through the local mirror', async (t) => {
  const evil = 'x"]\n[evil]\nk = "1\\\u0001\u007f\t\r\u00e9';
  const tls = new Map([
    ['a.io', { ca: [`/c/${evil}`], client: [] }],
    ['mm.io', { ca: [`/c/${evil}.crt`], client: [[`/c/${evil}.cert`, `/c/${evil}.key`] as const] }],
  ]);
  const conf: RegistriesConf = {
    registries: [
      { location: 'quay.io', mirrors: [{ location: `m.example/${evil}`, insecure: true }, { location: `${evil}/p` }] },
      { location: 'a.io', mirrors: [{ location: 'mm.io' }] },
    ],
  };
  const keysOf = (text: string) => {
    const parsed = parse(text) as { host: Record<string, Record<string, unknown>> };
    return [Object.keys(parsed).sort(), ...Object.values(parsed.host).map((h) => Object.keys(h).sort())];
  };
  const plain = renderHostsTomls(conf, { tls }).files;
  t.same(
    plain.map((f) => f.host),
    ['a.io', 'quay.io'],
  );
  t.same(keysOf(plain[0]?.text ?? ''), [
    ['ca', 'host', 'server'],
    ['ca', 'capabilities', 'client'],
  ]);
  t.same(keysOf(plain[1]?.text ?? ''), [
    ['host', 'server'],
    ['capabilities', 'override_path', 'skip_verify'],
    ['capabilities', 'override_path'],
    ['capabilities', 'override_path'],
  ]);
  const ca = (parse(plain[0]?.text ?? '') as { ca: string[] }).ca;
  t.same(ca, [`/c/${evil}`], 'the value read back is the value given');
  const routed = renderHostsTomls(conf, { tls, localMirror: '127.0.0.1:5050' }).files;
  for (const f of routed) t.notOk('evil' in (parse(f.text) as Record<string, unknown>), `${f.host} through the local mirror: no key added`);
});

t.test('certificate files: ca and client for server and for https mirrors; a client only for skip_verify; none for http entries', async (t) => {
  const conf: RegistriesConf = {
    registries: [{ location: 'quay.io', mirrors: [{ location: 'mirror.lan:5000/quay' }, { location: 'plain.lan', insecure: true }] }],
  };
  const tls = new Map([
    ['quay.io', { ca: ['/etc/containerd/certs.d/quay.io/ca.crt'], client: [] }],
    ['mirror.lan:5000', { ca: ['/etc/containers/certs.d/mirror.lan:5000/a.crt'], client: [['/c/x.cert', '/c/x.key'] as const] }],
    ['plain.lan', { ca: ['/never/named.crt'], client: [['/p/y.cert', '/p/y.key'] as const] }],
  ]);
  t.same(endpointHosts(conf), ['mirror.lan:5000', 'plain.lan', 'quay.io'], 'the hosts whose certificates are looked up');
  const text = renderHostsTomls(conf, { tls }).files[0]?.text ?? '';
  const parsed = parse(text) as { ca?: string[]; host: Record<string, { ca?: string[]; client?: string[][] }> };
  t.same(parsed.ca, ['/etc/containerd/certs.d/quay.io/ca.crt'], 'server: the CA containerd used before our hosts.toml hid it');
  t.same(parsed.host['https://mirror.lan:5000/v2/quay'], {
    capabilities: ['pull', 'resolve'],
    ca: ['/etc/containers/certs.d/mirror.lan:5000/a.crt'],
    client: [['/c/x.cert', '/c/x.key']],
    override_path: true,
  });
  t.notMatch(text, '/never/named.crt', 'an unverified or plain-http entry names no CA');
  t.same(
    parsed.host['https://plain.lan'],
    { capabilities: ['pull', 'resolve'], skip_verify: true, client: [['/p/y.cert', '/p/y.key']] },
    'skip_verify still presents the client certificate, as containers/image does for an insecure registry',
  );
  t.same(parsed.host['http://plain.lan'], { capabilities: ['pull', 'resolve'] }, 'plain http: no TLS keys');
  t.same(renderHostsTomls(conf).files[0]?.text, renderHostsTomls(conf, { tls: new Map() }).files[0]?.text, 'no files, no keys');
});

const LM = '127.0.0.1:5050';
/** The endpoint's URL in a hosts.toml for a registry host. */
const lm = (host: string) => `http://${LM}/v2/${localMirrorPath(host)}`;

t.test('with the local mirror: it comes first (plain http, its per-host path, override_path), the mirrors behind it, then server', async (t) => {
  // The daemon passes the rendered configuration: the endpoint is already the table's first mirror there.
  const conf: RegistriesConf = {
    registries: [
      {
        location: 'quay.io',
        origin: at(1),
        mirrors: [
          { location: localMirrorLocation(LM, 'quay.io'), insecure: true },
          { location: 'mirror-1.example:5000/quay', pullFromMirror: 'digest-only' },
        ],
      },
    ],
  };
  const { files, warnings, routed } = renderHostsTomls(conf, { localMirror: LM });
  t.same(warnings, []);
  t.same(routed, []);
  t.equal(
    files[0]?.text.slice(HOSTS_TOML_HEADER.length),
    [
      'server = "https://quay.io"',
      '',
      `[host."${lm('quay.io')}"]`,
      '  capabilities = ["pull", "resolve"]',
      '  override_path = true',
      '',
      '[host."https://mirror-1.example:5000/v2/quay"]',
      '  capabilities = ["pull"]',
      '  override_path = true',
      '',
    ].join('\n'),
    'the endpoint listed once, over http, not as the https+http pair of an insecure mirror',
  );
  t.same(
    containerdAttempts('quay.io', 'team/app', true, files[0]?.text).map((a) => a.url),
    [`${lm('quay.io')}/team/app`, 'https://mirror-1.example:5000/v2/quay/team/app', 'https://quay.io/v2/team/app'],
    'containerd asks the endpoint at the per-host path with the repository appended',
  );
});

t.test('with the local mirror: what containerd cannot express is routed by registry host, not left out', async (t) => {
  const { files, warnings, routed } = renderHostsTomls(
    {
      registries: [
        { location: 'quay.io', mirrors: [{ location: 'm.example/quay' }] },
        { location: 'quay.io/team', origin: at(3), mirrors: [{ location: 'm.example/team' }] },
        { prefix: '*.example.com', location: '', origin: at(7), mirrors: [{ location: 'm.example' }] },
        { prefix: 'ghcr.io', location: 'other.example/ghcr', insecure: true, origin: at(11), mirrors: [{ location: 'm.example/ghcr' }] },
        { location: 'gcr.io', blocked: true, origin: at(15), mirrors: [{ location: 'm.example/gcr' }] },
        { location: 'registry.k8s.io/sig', blocked: true, origin: at(19), mirrors: [] },
        { location: 'registry.k8s.io', mirrors: [{ location: 'm.example/k8s' }] },
      ],
    },
    { localMirror: LM },
  );
  t.same(
    files.map((f) => f.host),
    ['gcr.io', 'ghcr.io', 'quay.io', 'registry.k8s.io'],
  );
  t.match(warnings.map(formatDiagnostic), [/^10-policy\.toml:7:1: warning: containerd cannot express a wildcard source \(it names no registry host/]);
  t.same(
    routed.map((r) => r.prefix),
    ['quay.io/team', 'ghcr.io', 'gcr.io', 'registry.k8s.io/sig'],
  );
  const file = (host: string) => files.find((f) => f.host === host)?.text;
  const tries = (host: string, byDigest: boolean) => containerdAttempts(host, 'team/app', byDigest, file(host)).map((a) => a.url);

  t.same(
    tries('quay.io', false),
    [`${lm('quay.io')}/team/app`, 'https://m.example/v2/quay/team/app', 'https://quay.io/v2/team/app'],
    'a namespace-scoped source: the endpoint (it applies quay.io/team), then the registry-level mirrors and server',
  );
  t.same(
    tries('ghcr.io', true),
    [`${lm('ghcr.io')}/team/app`, 'https://m.example/v2/ghcr/team/app', 'https://other.example/v2/ghcr/team/app', 'http://other.example/v2/ghcr/team/app'],
    'a rewritten source: server is its location (insecure: unverified https, then http), never ghcr.io itself',
  );
  for (const host of ['gcr.io', 'registry.k8s.io']) {
    t.same(
      tries(host, true),
      [`${lm(host)}/team/app`, `${lm(host)}/team/app`],
      `${host}: a block anywhere under the host: server is the endpoint too; containerd never falls back to the registry`,
    );
    t.same(tries(host, false), [`${lm(host)}/team/app`, `${lm(host)}/team/app`], `${host}: tags too`);
  }
  t.notMatch(file('gcr.io'), 'm.example', 'a blocked table: its mirrors only through the endpoint');
});

t.test('without the local mirror, nothing is routed (left out as before)', async (t) => {
  const r = renderHostsTomls({ registries: [{ location: 'quay.io/team', mirrors: [{ location: 'm.example/team' }] }] });
  t.same(r.files, []);
  t.same(r.routed, []);
  t.equal(r.warnings.length, 1);
});

t.test(
  "docker.io as server or mirror: containerd asks registry-1.docker.io, with docker.io's certificates (containers/image's and containerd's own name)",
  async (t) => {
    const tls = new Map([['docker.io', { ca: ['/etc/containerd/certs.d/docker.io/corp.crt'], client: [] }]]);
    const hub = renderHostsTomls({ registries: [{ location: 'docker.io', mirrors: [{ location: 'hub.lan:5000' }] }] }, { tls });
    const top = parse(hub.files[0]?.text ?? '') as { server?: string; ca?: string[] };
    t.equal(top.server, 'https://registry-1.docker.io');
    t.same(top.ca, ['/etc/containerd/certs.d/docker.io/corp.crt'], "server: docker.io's CA, which containerd used for it before our hosts.toml");

    const mirrored = renderHostsTomls({ registries: [{ location: 'registry.k8s.io', mirrors: [{ location: 'docker.io/mirrors' }] }] }, { tls });
    const parsed = parse(mirrored.files[0]?.text ?? '') as { host: Record<string, { ca?: string[] }> };
    t.same(Object.keys(parsed.host), ['https://registry-1.docker.io/v2/mirrors'], 'a mirror on Docker Hub: its API host, as containers/image asks it');
    t.same(parsed.host['https://registry-1.docker.io/v2/mirrors']?.ca, ['/etc/containerd/certs.d/docker.io/corp.crt']);
    t.same(
      containerdAttempts('registry.k8s.io', 'pause', false, mirrored.files[0]?.text).map((a) => a.url),
      ['https://registry-1.docker.io/v2/mirrors/pause', 'https://registry.k8s.io/v2/pause'],
    );
  },
);

t.test('a registry whose every mirror is left out gets no hosts.toml: containerd 1.6 and 1.7 refuse one without a [host] table', async (t) => {
  const { files, warnings } = renderHostsTomls({
    registries: [
      { location: 'quay.io', mirrors: [{ location: 'tags.example', pullFromMirror: 'tag-only', origin: at(2) }] },
      { location: 'registry.lan', insecure: true, mirrors: [{ location: 'tags.example', pullFromMirror: 'tag-only' }] },
    ],
  });
  t.same(
    files.map((f) => f.host),
    ['registry.lan'],
    'quay.io: nothing but server (containerd would log an error at every pull and ignore it); an insecure source still has its http entry',
  );
  t.match(warnings.map(formatDiagnostic), [/^10-policy\.toml:2:1: warning: containerd cannot express a tag-only mirror/, /tag-only/]);
});

t.test(
  'an insecure registry without mirrors gets a hosts.toml (containerd would verify https and fail where podman pulls); narrower ones are named',
  async (t) => {
    const conf: RegistriesConf = {
      registries: [
        { location: 'registry.lan:5000', insecure: true, origin: at(1), mirrors: [] },
        { prefix: 'quay.io/org', location: 'quay.io/org', insecure: true, origin: at(4), mirrors: [] },
        { prefix: '*.lan', location: '', insecure: true, origin: at(7), mirrors: [] },
        { location: 'ghcr.io', origin: at(9), mirrors: [] },
      ],
    };
    for (const options of [{}, { localMirror: LM }]) {
      const { files, warnings } = renderHostsTomls(conf, options);
      t.same(
        files.map((f) => f.host),
        ['registry.lan:5000'],
        'a plain table (ghcr.io) says nothing containerd does not do already',
      );
      t.equal(
        files[0]?.text.slice(HOSTS_TOML_HEADER.length),
        [
          'server = "http://registry.lan:5000"',
          '',
          '[host."https://registry.lan:5000"]',
          '  capabilities = ["pull", "resolve"]',
          '  skip_verify = true',
          '',
        ].join('\n'),
        `${options.localMirror ? 'with' : 'without'} the local mirror: its https unverified and its http, no endpoint (it carries no mirror)`,
      );
      t.match(
        warnings.map(formatDiagnostic),
        [
          /^10-policy\.toml:4:1: warning: containerd cannot express an insecure namespace-scoped source \(quay\.io\/org\): skip_verify and plain http are per registry host; \[\[registry\]\] "quay\.io\/org" is left out/,
          /^10-policy\.toml:7:1: warning: containerd cannot express an insecure wildcard source/,
        ],
        'the insecure flags it cannot carry are named at their lines',
      );
      t.equal(warnings.length, 2);
    }
  },
);

t.test('with the local mirror, an insecure registry that is routed keeps one file (the endpoint, then its https entry, then http as server)', async (t) => {
  const { files, warnings } = renderHostsTomls(
    {
      registries: [
        { location: 'registry.lan', insecure: true, mirrors: [] },
        { prefix: 'registry.lan/team', location: 'registry.lan/team', mirrors: [{ location: 'm.example/team' }] },
      ],
    },
    { localMirror: LM },
  );
  t.same(warnings, []);
  t.same(
    files.map((f) => f.host),
    ['registry.lan'],
  );
  t.match(files[0]?.text, /^server = "http:\/\/registry\.lan"\n\n/m);
  const parsed = parse(files[0]?.text ?? '') as { host: Record<string, { skip_verify?: boolean }> };
  t.same(Object.keys(parsed.host), [`http://${LM}/v2/${localMirrorPath('registry.lan')}`, 'https://registry.lan']);
  t.equal(parsed.host['https://registry.lan']?.skip_verify, true);
});

t.test('a namespace-scoped table left out says where containerd pulls its names when its registry has a hosts.toml', async (t) => {
  const { files, warnings } = renderHostsTomls({
    registries: [
      { location: 'quay.io', origin: at(1), mirrors: [{ location: 'm.example/quay' }] },
      { location: 'quay.io/team', blocked: true, origin: at(4), mirrors: [] },
      { location: 'ghcr.io/org', origin: at(6), mirrors: [{ location: 'm.example/org' }] },
    ],
  });
  t.same(
    files.map((f) => f.host),
    ['quay.io'],
  );
  t.match(warnings.map(formatDiagnostic), [
    /^10-policy\.toml:4:1: warning: containerd cannot express a namespace-scoped source \(quay\.io\/team\)[^\n]*: containerd pulls quay\.io\/team\/… through quay\.io's hosts\.toml \(its mirrors, then quay\.io\)$/,
    /^10-policy\.toml:6:1: warning: containerd cannot express a namespace-scoped source \(ghcr\.io\/org\)[^\n]*left out of its hosts directory$/,
  ]);
  t.equal(warnings.length, 2);
});

t.test(
  'an insecure registry without mirrors gets a file: it names its client certificate, which containerd no longer reads itself once there is a hosts.toml',
  async (t) => {
    const conf: RegistriesConf = { registries: [{ location: 'reg.lan:5000', insecure: true, origin: at(1), mirrors: [] }] };
    t.same(endpointHosts(conf), ['reg.lan:5000'], 'its certificates are looked up');
    const tls = new Map([['reg.lan:5000', { ca: ['/c/ca.crt'], client: [['/c/client.cert', '/c/client.key'] as const] }]]);
    const text = renderHostsTomls(conf, { tls }).files.find((f) => f.host === 'reg.lan:5000')?.text ?? '';
    const parsed = parse(text) as { host: Record<string, { client?: string[][]; ca?: string[] }> };
    t.same(parsed.host['https://reg.lan:5000']?.client, [['/c/client.cert', '/c/client.key']], 'the unverified https entry presents it');
    t.notOk(parsed.host['https://reg.lan:5000']?.ca, 'no CA: not verified');
  },
);

t.test('a mirror containers/image refuses as blocked is never listed; one blocked for some names only is left out with a warning', async (t) => {
  const conf: RegistriesConf = {
    registries: [
      {
        location: 'quay.io',
        origin: at(1),
        mirrors: [
          { location: 'blocked.example/quay', origin: at(2) },
          { location: 'partly.example', origin: at(3) },
          { location: 'ok.example/quay', origin: at(4) },
          { location: 'open.example/quay', origin: at(5) },
        ],
      },
      { location: 'blocked.example', blocked: true, origin: at(7), mirrors: [] },
      { location: 'partly.example/bad', blocked: true, origin: at(8), mirrors: [] },
      { location: 'open.example', blocked: true, origin: at(9), mirrors: [] },
      // A narrower table that is not blocked wins for names under it (FindRegistry: the longest prefix).
      { location: 'open.example/quay', origin: at(10), mirrors: [] },
    ],
  };
  for (const options of [{}, { localMirror: LM }]) {
    const { files, warnings } = renderHostsTomls(conf, options);
    const quay = files.find((f) => f.host === 'quay.io')?.text ?? '';
    t.notMatch(quay, 'blocked.example', 'under a blocked table: containerd must not ask it');
    t.notMatch(quay, 'partly.example', 'blocked for some names: left out');
    t.match(quay, '[host."https://ok.example/v2/quay"]');
    t.match(quay, '[host."https://open.example/v2/quay"]', 'under a narrower table that is not blocked: listed');
    t.match(
      warnings.map(formatDiagnostic).filter((w) => w.includes('partly')),
      [
        /^10-policy\.toml:3:1: warning: containerd cannot express a mirror blocked for some names only \(partly\.example of quay\.io: "partly\.example\/bad" is blocked\); left out of its hosts\.toml/,
      ],
    );
    t.notOk(
      warnings.some((w) => w.message.includes('blocked.example/quay')),
      'a mirror blocked for all its names: no hosts.toml warning (the merge says it already)',
    );
  }
});

t.test(
  'with the local mirror, a namespace rewritten to another location closes its registry host: the endpoint as server, no registry mirrors behind it',
  async (t) => {
    for (const acme of [
      { location: 'registry.acme.example/acme', prefix: 'quay.io/acme', origin: at(5), mirrors: [{ location: 'm.example/acme' }] },
      { location: 'registry.acme.example/acme', prefix: 'quay.io/acme', origin: at(5), mirrors: [] },
    ]) {
      const conf: RegistriesConf = { registries: [{ location: 'quay.io', origin: at(1), mirrors: [{ location: 'm.example/quay' }] }, acme] };
      const { files } = renderHostsTomls(conf, { localMirror: LM });
      const file = files.find((f) => f.host === 'quay.io')?.text;
      for (const byDigest of [true, false])
        t.same(
          containerdAttempts('quay.io', 'acme/app', byDigest, file).map((a) => a.url),
          [`${lm('quay.io')}/acme/app`, `${lm('quay.io')}/acme/app`],
          `${acme.mirrors.length} mirror(s), ${byDigest ? 'digest' : 'tag'}: never quay.io itself nor its mirrors (a 404 from registry.acme.example must not fall back to the public name)`,
        );
    }
  },
);

t.test('a source rewritten without mirrors is named: containerd would pull its names from the registry itself', async (t) => {
  const conf: RegistriesConf = {
    registries: [
      { prefix: 'ghcr.io', location: 'internal.example/ghcr', origin: at(1), mirrors: [] },
      { prefix: 'quay.io/org', location: 'internal.example/org', origin: at(3), mirrors: [] },
    ],
  };
  for (const options of [{}, { localMirror: LM }]) {
    const { files, warnings } = renderHostsTomls(conf, options);
    t.same(files, [], 'no file: containerd cannot express a rewrite');
    t.match(warnings.map(formatDiagnostic), [
      /^10-policy\.toml:1:1: warning: containerd cannot express a source rewritten to another location \(internal\.example\/ghcr\): containerd pulls its names from ghcr\.io; /,
      /^10-policy\.toml:3:1: warning: containerd cannot express a namespace-scoped source \(quay\.io\/org\) rewritten to internal\.example\/org: containerd pulls its names from quay\.io; /,
    ]);
    t.equal(warnings.length, 2);
  }
});

t.test(
  'a mirror listed again (a digest set and a tag set naming it, the base file and a fragment) is one [host] table: TOML refuses a table twice',
  async (t) => {
    const conf: RegistriesConf = {
      registries: [
        {
          location: 'quay.io',
          origin: at(1),
          mirrors: [
            { location: 'm.example', origin: at(2) },
            { location: 'm.example', pullFromMirror: 'digest-only', origin: at(3) },
            { location: 'm.example', pullFromMirror: 'tag-only', origin: at(4) },
            { location: 'lan.example', insecure: true, pullFromMirror: 'digest-only', origin: at(5) },
            { location: 'lan.example', insecure: true, pullFromMirror: 'tag-only', origin: at(6) },
          ],
        },
      ],
    };
    const { files, warnings } = renderHostsTomls(conf);
    t.same(warnings.map(formatDiagnostic), [], 'no tag-only mirror left out: its digest twin carries it, in the same order');
    const text = files[0]?.text ?? '';
    const parsed = parse(text) as { host: Record<string, { capabilities: string[] }> };
    t.same(
      Object.entries(parsed.host).map(([url, h]) => [url, h.capabilities]),
      [
        ['https://m.example', ['pull', 'resolve']],
        ['https://lan.example', ['pull', 'resolve']],
        ['http://lan.example', ['pull', 'resolve']],
      ],
    );
    t.equal(text.split('[host."https://m.example"]').length, 2, 'written once');

    const routed = renderHostsTomls(conf, { localMirror: '127.0.0.1:5999' });
    t.doesNotThrow(() => parse(routed.files[0]?.text ?? ''), 'through the local mirror too');
    t.equal((routed.files[0]?.text ?? '').split('[host."https://lan.example"]').length, 2);
  },
);

t.test('a mirror listed again where containerd cannot keep both places: one table at its first place, and a warning', async (t) => {
  const conf: RegistriesConf = {
    registries: [
      {
        location: 'quay.io',
        origin: at(1),
        mirrors: [{ location: 'a.example', pullFromMirror: 'digest-only' }, { location: 'b.example' }, { location: 'a.example', pullFromMirror: 'tag-only' }],
      },
    ],
  };
  const { files, warnings } = renderHostsTomls(conf);
  const parsed = parse(files[0]?.text ?? '') as { host: Record<string, { capabilities: string[] }> };
  t.same(Object.keys(parsed.host), ['https://a.example', 'https://b.example']);
  t.same(parsed.host['https://a.example']?.capabilities, ['pull', 'resolve']);
  t.same(warnings.length, 1);
  t.match(formatDiagnostic(warnings[0] as Diagnostic), /10-policy\.toml:1.*quay\.io.*different order/);
});

t.test("a loopback source keeps containerd's plain http server: 127.x, localhost, and [::1] with a port", async (t) => {
  for (const host of ['127.0.0.1:5000', 'localhost:5000', '[::1]:5000']) {
    const { files } = renderHostsTomls({ registries: [{ location: host, mirrors: [{ location: 'm.example' }] }] });
    t.match(files[0]?.text, `server = "http://${host}"\n`, host);
  }
  const { files } = renderHostsTomls({ registries: [{ location: 'reg.example:5000', mirrors: [{ location: 'm.example' }] }] });
  t.match(files[0]?.text, 'server = "https://reg.example:5000"\n', 'any other host: https');
});

import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';

const D = `@sha256:${'a'.repeat(64)}`;

function setup(): { conf: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-cli-resolve-'));
  const conf = join(dir, 'registries.conf');
  writeFileSync(
    conf,
    `[[registry]]
location = "example.com/foo"
blocked = true
[[registry.mirror]]
location = "example-mirror-0.local/mirror-for-foo"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "example-mirror-1.local/mirrors/foo"
insecure = true
`,
  );
  mkdirSync(join(dir, 'home'));
  return { conf, env: { ...process.env, HOME: join(dir, 'home') } };
}

t.test('resolve --help lists every flag; the main help lists the command', async (t) => {
  const h = await runCli(['resolve', '--help']);
  t.equal(h.code, 0);
  for (const flag of ['--registries-conf', '--json', '--log-level', '--log-format', '--help']) t.match(h.stdout, flag);
  t.match((await runCli(['--help'])).stdout, /\n {2}resolve /);
});

t.test('resolve: usage errors exit 2', async (t) => {
  for (const args of [
    ['resolve'],
    ['resolve', '--no-such-flag', 'a'],
    ['resolve', '--registries-conf'],
    ['resolve', '--registries-conf', '', 'busybox'],
    ['resolve', '--log-level', 'loud', 'busybox'],
  ]) {
    const r = await runCli(args);
    t.equal(r.code, 2, `${args.join(' ')} → 2`);
    t.match(r.stderr, /Try 'mirror-policyd resolve --help'/);
  }
});

t.test('resolve: the sources as a table and as JSON', async (t) => {
  const { conf, env } = setup();
  const table = await runCli(['resolve', '--registries-conf', conf, `example.com/foo/image${D}`], { env });
  t.equal(table.code, 0, table.stderr);
  const lines = table.stdout.split('\n');
  t.equal(lines[0], `example.com/foo/image${D}`);
  t.match(lines[1], /\[\[registry\]\] prefix "example\.com\/foo" \(blocked\)/);
  t.match(lines[2], new RegExp(`configuration: ${conf}`));
  t.match(
    table.stdout,
    /#\s+ROLE\s+REFERENCE\s+ENDPOINT\s+FLAGS\s+HEALTH\n1\s+mirror\s+example-mirror-0\.local\/mirror-for-foo\/image@sha256:a+\s+example-mirror-0\.local\s+-\s+unknown\n2\s+mirror\s+\S+\s+example-mirror-1\.local\s+insecure\s+unknown\n3\s+primary\s+example\.com\/foo\/image@\S+\s+example\.com\s+blocked by "example\.com\/foo"\s+unknown\n$/,
  );

  const json = await runCli(['resolve', '--registries-conf', conf, '--json', 'example.com/foo/image'], { env });
  t.equal(json.code, 0, json.stderr);
  t.same(
    JSON.parse(json.stdout),
    {
      reference: 'example.com/foo/image:latest',
      sources: [
        {
          reference: 'example-mirror-1.local/mirrors/foo/image:latest',
          endpoint: 'example-mirror-1.local',
          role: 'mirror',
          insecure: true,
          blocked: false,
          health: 'unknown',
        },
        { reference: 'example.com/foo/image:latest', endpoint: 'example.com', role: 'primary', insecure: false, blocked: true, health: 'unknown' },
      ],
    },
    'a tag pull skips the digest-only mirror; the blocked primary is still last',
  );
});

t.test('resolve: a blocked table whose location lies elsewhere does not block its primary, and says so', async (t) => {
  const { conf, env } = setup();
  writeFileSync(conf, '[[registry]]\nprefix = "example.com/foo"\nlocation = "internal.example/bar"\nblocked = true\n');
  const r = await runCli(['resolve', '--registries-conf', conf, 'example.com/foo/image:v1'], { env });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /prefix "example\.com\/foo" \(blocked; its location "internal\.example\/bar" is not under it, so the primary is not refused\)/);
  t.match(r.stdout, /1\s+primary\s+internal\.example\/bar\/image:v1\s+internal\.example\s+-\s+unknown/);
});

t.test('resolve: refused references and configurations exit 1 with the reason on stderr', async (t) => {
  const { conf, env } = setup();
  const both = await runCli(['resolve', '--registries-conf', conf, `busybox:1${D}`], { env });
  t.equal(both.code, 1);
  t.equal(both.stdout, '');
  t.match(both.stderr, /^mirror-policyd: cannot resolve "busybox:1@sha256:a+": Docker references with both a tag and digest are currently not supported\n$/);
  const bad = await runCli(['resolve', '--registries-conf', conf, 'UPPER/x'], { env });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /repository name must be lowercase/);
  const missing = await runCli(['resolve', '--registries-conf', `${conf}.missing`, 'busybox'], { env });
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^mirror-policyd: loading registries configuration ".*\.missing": open .*\.missing: no such file or directory\n$/);
});

t.test('resolve: several references, in the order given, the configuration read once; a refused one on stderr and exit 1', async (t) => {
  const { conf, env } = setup();
  const refs = [`example.com/foo/image${D}`, `busybox:1${D}`, 'quay.io/x/y:1'];
  const alone = await Promise.all(refs.map((ref) => runCli(['resolve', '--registries-conf', conf, ref], { env })));
  const table = await runCli(['resolve', '--registries-conf', conf, ...refs], { env });
  t.equal(table.code, 1, 'one of them is refused');
  t.equal(table.stdout, `${alone[0]?.stdout ?? ''}\n${alone[2]?.stdout ?? ''}`, 'each report as it prints alone, a blank line apart');
  t.equal(table.stderr, alone[1]?.stderr, 'the refused one says why, as alone');
  t.match(table.stderr, /^mirror-policyd: cannot resolve "busybox:1@sha256:a+": Docker references with both a tag and digest/);

  const aloneJson = await Promise.all(refs.map((ref) => runCli(['resolve', '--registries-conf', conf, '--json', ref], { env })));
  const json = await runCli(['resolve', '--registries-conf', conf, '--json', ...refs], { env });
  t.equal(json.code, 1);
  t.same(
    JSON.parse(json.stdout),
    [
      JSON.parse(aloneJson[0]?.stdout ?? ''),
      { reference: `busybox:1${D}`, error: `cannot resolve "busybox:1${D}": Docker references with both a tag and digest are currently not supported` },
      JSON.parse(aloneJson[2]?.stdout ?? ''),
    ],
    'an array in REF order, the refused one in its place with its reason',
  );
  const allGood = await runCli(['resolve', '--registries-conf', conf, '--json', refs[0] ?? '', refs[2] ?? ''], { env });
  t.equal(allGood.code, 0, allGood.stderr);
  t.equal(allGood.stderr, '');
  t.equal((JSON.parse(allGood.stdout) as unknown[]).length, 2);
});

t.test('resolve --runtime containerd takes the host directory containerd takes: host_port_, then host:port, then _default', async (t) => {
  const hostsDir = mkdtempSync(join(tmpdir(), 'mpd-cli-resolve-certs-'));
  const hostsToml = (mirror: string): string => `server = "https://reg.example.com:5000"\n\n[host."https://${mirror}"]\n  capabilities = ["pull", "resolve"]\n`;
  const put = (dir: string, mirror: string): void => {
    mkdirSync(join(hostsDir, dir), { recursive: true });
    writeFileSync(join(hostsDir, dir, 'hosts.toml'), hostsToml(mirror));
  };
  const said = async (ref: string): Promise<{ hostsToml: string | null; urls: string[] }> => {
    const r = await runCli(['resolve', ref, '--runtime', 'containerd', '--hosts-dir', hostsDir, '--json']);
    t.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { hostsToml: string | null; attempts: Array<{ url: string }> };
    return { hostsToml: got.hostsToml, urls: got.attempts.map((a) => a.url) };
  };
  const ref = `reg.example.com:5000/app${D}`;
  t.same((await said(ref)).hostsToml, null, 'no directory: the registry itself');
  put('_default', 'default.example.com');
  t.same(await said(ref), {
    hostsToml: join(hostsDir, '_default', 'hosts.toml'),
    urls: ['https://default.example.com/v2/app', 'https://reg.example.com:5000/v2/app'],
  });
  put('reg.example.com:5000', 'port.example.com');
  t.same((await said(ref)).hostsToml, join(hostsDir, 'reg.example.com:5000', 'hosts.toml'), 'the host:port directory before _default');
  mkdirSync(join(hostsDir, 'reg.example.com_5000_'));
  t.same(await said(ref), { hostsToml: null, urls: ['https://reg.example.com:5000/v2/app'] }, 'an empty host_port_ directory hides the others');

  const several = await runCli(['resolve', ref, 'a//b', 'other.example/app:v1', '--runtime', 'containerd', '--hosts-dir', hostsDir, '--json']);
  t.equal(several.code, 1, 'one refused');
  t.equal(several.stderr, 'mirror-policyd: cannot resolve "a//b": invalid reference format\n');
  const [first, refused, third] = JSON.parse(several.stdout) as Array<{ reference: string; error?: string; attempts?: Array<{ url: string }> }>;
  t.same(
    first?.attempts?.map((a) => a.url),
    ['https://reg.example.com:5000/v2/app'],
  );
  t.same(refused, { reference: 'a//b', error: 'cannot resolve "a//b": invalid reference format' });
  t.same(
    third?.attempts?.map((a) => a.url),
    ['https://default.example.com/v2/app', 'https://reg.example.com:5000/v2/app'],
    "another host in the same call: _default's hosts.toml, its server included",
  );
});

t.test('resolve --runtime containerd, by tag: the hosts that resolve the tag, then those that fetch its content by digest', async (t) => {
  const hostsDir = mkdtempSync(join(tmpdir(), 'mpd-cli-resolve-content-'));
  t.teardown(() => rmSync(hostsDir, { recursive: true, force: true }));
  mkdirSync(join(hostsDir, 'quay.io'));
  const file = join(hostsDir, 'quay.io', 'hosts.toml');
  writeFileSync(
    file,
    'server = "https://quay.io"\n[host."https://digests.example"]\n  capabilities = ["pull"]\n[host."https://tags.example"]\n  capabilities = ["pull", "resolve"]\n',
  );
  const r = await runCli(['resolve', 'quay.io/team/app:v1', '--runtime', 'containerd', '--hosts-dir', hostsDir]);
  t.equal(r.code, 0, r.stderr);
  t.equal(
    r.stdout,
    [
      'quay.io/team/app:v1',
      `  containerd: ${file}`,
      '  by tag: hosts with "resolve" resolve the tag',
      '',
      '1  host    https://tags.example/v2/team/app  [pull, resolve]',
      '2  server  https://quay.io/v2/team/app  [pull, resolve, push]',
      '',
      '  then its manifests and blobs, by digest: hosts with "pull"',
      '',
      '1  host    https://digests.example/v2/team/app  [pull]',
      '2  host    https://tags.example/v2/team/app  [pull, resolve]',
      '3  server  https://quay.io/v2/team/app  [pull, resolve, push]',
      '',
    ].join('\n'),
  );
  const byDigest = await runCli(['resolve', `quay.io/team/app${D}`, '--runtime', 'containerd', '--hosts-dir', hostsDir, '--json']);
  const json = JSON.parse(byDigest.stdout) as Record<'attempts' | 'content', Array<{ url: string }>>;
  t.same(json.content, json.attempts, 'by digest: the content comes from the same hosts');
  t.equal(json.attempts.length, 3);
});

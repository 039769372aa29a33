/**
 * `mirror-policyd pull` as users run it: registries.conf rendered by us, real registries,
 * the health cache in the state dir shared between separate pull processes.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { refusingHost, startSilentListener } from '../../helpers/fault-proxy.js';
import { BIN, runCli } from '../../helpers/cli.js';
import { spawn } from 'node:child_process';
import { formatBytes, formatProgress, progressLines, shortDigest } from '../../../src/cli/pull.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-cli-pull-'));
const src = await registryFor(t);
const img = await buildImage(join(work, 'img'), { content: 'pulled by the cli', tag: 'v1' });
await pushImage(img, `${src.host}/app:v1`);
const dead = await refusingHost();
const conf = join(work, 'registries.conf');
writeFileSync(conf, `[[registry]]\nlocation = "${src.host}/app"\ninsecure = true\n\n[[registry.mirror]]\nlocation = "${dead}/app"\ninsecure = true\n`);
const state = join(work, 'state');
const ref = `${src.host}/app@${img.manifestDigest}`;

t.test('pull: falls through a dead mirror, remembers it, and the next process skips it', async (t) => {
  const first = await runCli(['pull', ref, '--dest', join(work, 'd1'), '--registries-conf', conf, '--state-dir', state, '--json', '--log-level', 'silent']);
  t.equal(first.code, 0, first.stderr);
  const r1 = JSON.parse(first.stdout) as { manifestFrom: string; attempts: Array<{ source: string }>; skipped: string[]; digest: string; verified: boolean };
  t.equal(r1.manifestFrom, ref);
  t.equal(r1.digest, img.manifestDigest);
  t.equal(r1.verified, true);
  t.same(
    r1.attempts.map((a) => a.source),
    [`${dead}/app@${img.manifestDigest}`],
  );
  const health = JSON.parse(readFileSync(join(state, 'health.json'), 'utf8')) as { endpoints: Record<string, { lastFailure?: { class: string } }> };
  t.equal(health.endpoints[`insecure://${dead}`]?.lastFailure?.class, 'refused');

  const second = await runCli(['pull', ref, '--dest', join(work, 'd2'), '--registries-conf', conf, '--state-dir', state, '--json', '--log-level', 'silent']);
  t.equal(second.code, 0, second.stderr);
  const r2 = JSON.parse(second.stdout) as { skipped: string[]; attempts: unknown[] };
  t.same(r2.skipped, [`${dead}/app@${img.manifestDigest}`]);
  t.same(r2.attempts, []);
});

t.test('pull: human report, tag warning, refused references and usage errors', async (t) => {
  const tag = await runCli(['pull', `${src.host}/app:v1`, '--dest', join(work, 'd3'), '--registries-conf', conf, '--state-dir', state]);
  t.equal(tag.code, 0, tag.stderr);
  t.match(tag.stdout, new RegExp(`digest:   ${img.manifestDigest}\\n`));
  t.match(tag.stderr, /cannot be verified/);
  const both = await runCli(['pull', `${src.host}/app:v1@${img.manifestDigest}`, '--dest', join(work, 'd4'), '--registries-conf', conf, '--state-dir', state]);
  t.equal(both.code, 1);
  t.match(
    both.stderr,
    `cannot pull "${src.host}/app:v1@${img.manifestDigest}": Docker references with both a tag and digest are currently not supported`,
    'the reason names the reference',
  );
  const missing = await runCli(['pull', `${src.host}/nope@${img.manifestDigest}`, '--dest', join(work, 'd5'), '--registries-conf', conf, '--state-dir', state]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /failed/);
  t.equal((await runCli(['pull', ref])).code, 2, 'no --dest');
  t.equal((await runCli(['pull', ref, '--dest', join(work, 'd6'), '--platform', 'linux'])).code, 2);
});

t.test("resolve shows each endpoint's health from the cache the pulls filled", async (t) => {
  const r = await runCli(['resolve', ref, '--registries-conf', conf, '--state-dir', state, '--json']);
  t.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { sources: Array<{ endpoint: string; health: string }> };
  t.same(
    j.sources.map((s) => [s.endpoint, s.health]),
    [
      [dead, 'down'],
      [src.host, 'up'],
    ],
  );
  const fresh = await runCli(['resolve', ref, '--registries-conf', conf, '--state-dir', join(work, 'no-state'), '--json']);
  t.same(
    (JSON.parse(fresh.stdout) as { sources: Array<{ health: string }> }).sources.map((s) => s.health),
    ['unknown', 'unknown'],
  );
});

t.test('progress lines: the digest short form, bytes of the total, the source; throttled per blob, the last always shown', async (t) => {
  const digest = `sha256:${'ab12'.repeat(16)}`;
  t.equal(shortDigest(digest), 'sha256:ab12ab12ab12');
  t.equal(formatBytes(512), '512 B');
  t.equal(formatBytes(1536), '1.5 KiB');
  t.equal(formatBytes(45.6 * 1024 * 1024), '45.6 MiB');
  t.equal(
    formatProgress({ digest, done: 12 * 1024 * 1024, total: 48 * 1024 * 1024, source: 'mirror.example/app:v1' }),
    'blob sha256:ab12ab12ab12 12.0 MiB / 48.0 MiB (25%) from mirror.example/app:v1',
  );
  t.equal(formatProgress({ digest, done: 0, total: 0, source: 's' }), 'blob sha256:ab12ab12ab12 0 B / 0 B (100%) from s');
  const out: string[] = [];
  let clock = 0;
  const report = progressLines(
    (l) => void out.push(l),
    () => clock,
    2000,
  );
  for (const [at, done] of [
    [0, 10],
    [500, 20],
    [1999, 30],
    [2000, 40],
    [2100, 50],
    [2200, 100],
  ] as const) {
    clock = at;
    report({ digest, done, total: 100, source: 's' });
  }
  t.same(
    out.map((l) => l.replace(/ from s\n$/, '')),
    ['blob sha256:ab12ab12ab12 10 B / 100 B (10%)', 'blob sha256:ab12ab12ab12 40 B / 100 B (40%)', 'blob sha256:ab12ab12ab12 100 B / 100 B (100%)'],
  );
  t.ok(
    out.every((l) => l.endsWith('\n') && !l.includes('\r')),
    'whole lines, nothing redrawn',
  );
});

t.test('pull: no progress lines when stderr is not a terminal; on a terminal, one per blob at least', async (t) => {
  const args = ['pull', ref, '--dest', join(work, 'd-progress'), '--registries-conf', conf, '--state-dir', join(work, 'state-progress')];
  const piped = await runCli(args);
  t.equal(piped.code, 0, piped.stderr);
  t.notMatch(piped.stderr, /^blob sha256:/m, 'stderr piped: quiet');
  // script(1) gives the program a terminal; what it writes there comes back on script's stdout
  const quoted = [process.execPath, BIN, ...args.slice(0, 3), join(work, 'd-progress-tty'), ...args.slice(4)]
    .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
    .join(' ');
  const tty = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn('script', ['-qec', quoted, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
  t.equal(tty.code, 0, tty.out);
  for (const d of [img.configDigest, img.layerDigest])
    t.match(tty.out, new RegExp(`blob ${shortDigest(d)} \\d+ B / \\d+ B \\(100%\\) from ${src.host}/app@`), `the last line of ${shortDigest(d)}`);
});

t.test('the deadline flags bound each attempt: a mirror that accepts and never answers costs them, then the source serves', async (t) => {
  const hung = await startSilentListener();
  t.teardown(() => hung.close());
  const hungConf = join(work, 'hung.conf');
  writeFileSync(
    hungConf,
    `[[registry]]\nlocation = "${src.host}/app"\ninsecure = true\n\n[[registry.mirror]]\nlocation = "${hung.host}/app"\ninsecure = true\n`,
  );
  const deadlines = ['--connect-timeout-ms', '500', '--headers-timeout-ms', '500', '--body-timeout-ms', '500'];
  // with the defaults the hung mirror alone costs 3 s (TLS handshake) + 10 s (plain-http headers): past the 9 s bound
  const r = await runCli(
    [
      'pull',
      ref,
      '--dest',
      join(work, 'd-hung'),
      '--registries-conf',
      hungConf,
      '--state-dir',
      join(work, 'state-hung'),
      '--json',
      '--log-level',
      'silent',
      ...deadlines,
    ],
    {
      timeoutMs: 9000,
    },
  );
  t.equal(r.code, 0, `pulled within the bound (${r.stderr.trim()})`);
  const j = JSON.parse(r.stdout || '{}') as { manifestFrom?: string; attempts?: Array<{ source: string; error: string }> };
  t.equal(j.manifestFrom, ref);
  t.match(j.attempts, [{ source: `${hung.host}/app@${img.manifestDigest}`, error: /no response headers in time \(headers deadline\)/ }]);
  t.ok(hung.connections() > 0, 'the hung mirror was contacted');
});

t.test('a pull stopped by a signal mid-blob leaves no unfinished blob in the layout, and ends by that signal', async (t) => {
  const { createServer } = await import('node:http');
  const { existsSync, readdirSync } = await import('node:fs');
  const blob = (d: string): Buffer => readFileSync(join(img.layoutDir, 'blobs', 'sha256', d.slice(7)));
  const manifestType = (JSON.parse(img.manifest.toString('utf8')) as { mediaType?: string }).mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
  // A registry whose layer stops after its first half and never ends: the pull is in the middle of writing it.
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/v2/') return res.writeHead(200).end();
    const digest = url.slice(url.lastIndexOf('/') + 1);
    if (url.includes('/manifests/')) return res.writeHead(200, { 'content-type': manifestType, 'docker-content-digest': digest }).end(blob(digest));
    const bytes = blob(digest);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
    if (digest === img.layerDigest) return res.write(bytes.subarray(0, Math.max(1, bytes.length >> 1)));
    return res.end(bytes);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const dest = join(work, 'stopped');
  const insecure = join(work, 'stopped.conf');
  writeFileSync(insecure, `[[registry]]\nlocation = "${host}"\ninsecure = true\n`);
  const child = spawn(
    process.execPath,
    [BIN, 'pull', `${host}/app@${img.manifestDigest}`, '--dest', dest, '--registries-conf', insecure, '--state-dir', state, '--log-level', 'silent'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const partials = (): string[] =>
    existsSync(join(dest, 'blobs', 'sha256')) ? readdirSync(join(dest, 'blobs', 'sha256')).filter((n) => n.endsWith('.partial')) : [];
  for (let i = 0; i < 600 && partials().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(partials().length, 1, 'the layer being written');
  child.kill('SIGINT');
  t.same(await exited, { code: null, signal: 'SIGINT' }, 'ended by the signal');
  t.same(partials(), [], 'its unfinished file removed');
});

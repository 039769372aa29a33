/**
 * containerd (Debian's 1.6, started here on a private root, state and socket) and `ctr` as
 * the clients of the hosts directory `render --containerd-hosts-dir` writes, pulling from real
 * docker-registry processes on 127.0.0.1: the mirrors in the policy's order, a digest-only
 * mirror never asked for a tag, a mirror with a path, the next mirror when the first is stopped.
 * Skipped, saying why, when not root or containerd is not installed.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { containerdSkip as skip, forgetContent, renderWithHostsDir, run, startContainerd } from '../../helpers/containerd.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { freePort, registryFor } from '../../helpers/registry.js';

const SOURCE = 'source.invalid';

t.test('ctr pulls through the hosts directory we render', { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-containerd-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const m1 = await registryFor(t);
  const m2 = await registryFor(t);
  const img = await buildImage(join(work, 'img'), { content: 'pulled by containerd', tag: 'v1' });
  await pushImage(img, `${m1.host}/app:v1`);
  await pushImage(img, `${m2.host}/nested/app:v1`);
  const D = img.manifestDigest;

  const policy = join(work, 'policy.d');
  mkdirSync(policy);
  // Mirror 1 digest-only, mirror 2 (with a path) for tags too; both plain-http registries.
  writeFileSync(
    join(policy, '10-source.toml'),
    [
      `insecure-registries = ["${m1.host}", "${m2.host}"]`,
      '',
      '[[mirror-set]]',
      `source = "${SOURCE}"`,
      'pull-from-mirror = "digest-only"',
      `mirrors = ["${m1.host}"]`,
      '',
      '[[mirror-set]]',
      `source = "${SOURCE}"`,
      'pull-from-mirror = "all"',
      `mirrors = ["${m2.host}/nested"]`,
      '',
    ].join('\n'),
  );
  const hostsDir = join(work, 'certs.d');
  const rendered = await renderWithHostsDir(policy, join(work, 'registries.conf'), hostsDir);
  t.equal(rendered.code, 0, rendered.stderr);
  const hostsToml = readFileSync(join(hostsDir, SOURCE, 'hosts.toml'), 'utf8');
  t.match(hostsToml, `[host."http://${m1.host}"]\n  capabilities = ["pull"]`, 'mirror 1: pull only (digest-only)');
  t.match(hostsToml, `[host."http://${m2.host}/v2/nested"]\n  capabilities = ["pull", "resolve"]\n  override_path = true`);

  // resolve --runtime containerd says what containerd is about to do (checked against it below).
  const said = async (ref: string): Promise<{ attempts: string[]; content: string[] }> => {
    const r = await runCli(['resolve', ref, '--runtime', 'containerd', '--hosts-dir', hostsDir, '--json']);
    t.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout) as Record<'attempts' | 'content', Array<{ url: string }>>;
    return { attempts: got.attempts.map((a) => a.url), content: got.content.map((a) => a.url) };
  };
  const byDigest = [
    `https://${m1.host}/v2/app`,
    `http://${m1.host}/v2/app`,
    `https://${m2.host}/v2/nested/app`,
    `http://${m2.host}/v2/nested/app`,
    `https://${SOURCE}/v2/app`,
  ];
  t.same(await said(`${SOURCE}/app@${D}`), { attempts: byDigest, content: byDigest });
  t.same(
    await said(`${SOURCE}/app:v1`),
    { attempts: [`https://${m2.host}/v2/nested/app`, `http://${m2.host}/v2/nested/app`, `https://${SOURCE}/v2/app`], content: byDigest },
    'by tag: resolved by the hosts with "resolve", then fetched by digest from those with "pull"',
  );

  const socket = await startContainerd(t, join(work, 'containerd'));
  const fetch = (ref: string) => run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, ref], { timeout: 120_000 });

  await m1.clearLog();
  await m2.clearLog();
  await fetch(`${SOURCE}/app@${D}`);
  t.ok(
    (await m1.requests()).some((r) => r.kind === 'manifests' && r.reference === D),
    'by digest: mirror 1, first in order, served the manifest',
  );
  t.notOk(
    (await m2.requests()).some((r) => r.kind === 'manifests'),
    'mirror 2 was not needed',
  );

  await m1.clearLog();
  await m2.clearLog();
  await fetch(`${SOURCE}/app:v1`);
  t.notOk(
    (await m1.requests()).some((r) => r.kind === 'manifests' && r.reference === 'v1'),
    'by tag: the digest-only mirror is never asked',
  );
  const tagged = (await m2.requests()).filter((r) => r.kind === 'manifests' && r.repo === 'nested/app');
  t.ok(tagged.length > 0, 'mirror 2 resolved the tag, at its path');
  // Found here: Debian's containerd 1.6.20 names the original registry to a mirror (the local mirror can use it).
  t.match(tagged[0]?.uri, `?ns=${SOURCE}`, 'containerd sends the original registry as the ns query parameter');

  // The tag's content again, not in the store: resolved by mirror 2, fetched from mirror 1.
  const stored = (await run('ctr', ['--address', socket, 'content', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
  await forgetContent(socket, stored);
  await m1.clearLog();
  await m2.clearLog();
  await fetch(`${SOURCE}/app:v1`);
  t.ok(
    (await m1.requests()).some((r) => r.kind === 'manifests' && r.reference === D) && (await m1.requests()).some((r) => r.kind === 'blobs'),
    'by tag: the manifest and blobs came by digest from the digest-only mirror, first of the "pull" hosts',
  );
  t.same(
    (await m2.requests()).map((r) => [r.kind, r.reference]),
    [['manifests', 'v1']],
    'mirror 2 only resolved the tag',
  );

  await m1.stop();
  await m2.clearLog();
  await forgetContent(socket, [D]); // not from the local store: from a mirror
  await fetch(`${SOURCE}/app@${D}`);
  t.ok(
    (await m2.requests()).some((r) => r.kind === 'manifests' || r.kind === 'blobs'),
    'mirror 1 stopped: mirror 2 served the digest pull',
  );
});

t.test('a loopback registry as the source: server stays plain http, as containerd has it with no hosts.toml', { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-containerd-loopback-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const source = await registryFor(t); // plain http on 127.0.0.1, not marked insecure in the policy
  const img = await buildImage(join(work, 'img'), { content: 'from a loopback registry', tag: 'v1' });
  await pushImage(img, `${source.host}/app:v1`);
  const D = img.manifestDigest;
  const hostsDir = join(work, 'certs.d');
  const socket = await startContainerd(t, join(work, 'containerd'));
  const fetch = (ref: string) =>
    run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, ref], { timeout: 120_000 }).then(
      () => 'pulled',
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );
  t.equal(await fetch(`${source.host}/app@${D}`), 'pulled', 'with no hosts.toml: containerd asks a loopback registry over http');
  await forgetContent(socket, [D]);

  const policy = join(work, 'policy.d');
  mkdirSync(policy);
  writeFileSync(join(policy, '10-source.toml'), `[[mirror-set]]\nsource = "${source.host}"\nmirrors = ["127.0.0.1:${await freePort()}"]\n`);
  const rendered = await renderWithHostsDir(policy, join(work, 'registries.conf'), hostsDir);
  t.equal(rendered.code, 0, rendered.stderr);
  t.match(readFileSync(join(hostsDir, source.host, 'hosts.toml'), 'utf8'), `server = "http://${source.host}"`);
  t.equal(await fetch(`${source.host}/app@${D}`), 'pulled', 'with ours: the mirror is down, the source still serves over http');
});

t.test('one mirror named by an ImageDigestMirrorSet and an ImageTagMirrorSet: containerd reads the file and pulls by tag and digest', { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-containerd-twice-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const mirror = await registryFor(t);
  const img = await buildImage(join(work, 'img'), { content: 'one mirror, two sets', tag: 'v1' });
  await pushImage(img, `${mirror.host}/app:v1`);
  const D = img.manifestDigest;
  const policy = join(work, 'policy.d');
  mkdirSync(policy);
  writeFileSync(join(policy, '00-insecure.toml'), `insecure-registries = ["${mirror.host}"]\n`);
  for (const [kind, field] of [
    ['ImageDigestMirrorSet', 'imageDigestMirrors'],
    ['ImageTagMirrorSet', 'imageTagMirrors'],
  ] as const) {
    const yaml = `apiVersion: config.openshift.io/v1\nkind: ${kind}\nmetadata:\n  name: app\nspec:\n  ${field}:\n  - source: ${SOURCE}\n    mirrors:\n    - ${mirror.host}\n`;
    writeFileSync(join(policy, `10-${kind}.yaml`), yaml);
  }
  const hostsDir = join(work, 'certs.d');
  const rendered = await renderWithHostsDir(policy, join(work, 'registries.conf'), hostsDir);
  t.equal(rendered.code, 0, rendered.stderr);
  t.notMatch(rendered.stderr, 'tag-only', 'nothing left out');
  const hostsToml = readFileSync(join(hostsDir, SOURCE, 'hosts.toml'), 'utf8');
  t.equal(hostsToml.split(`[host."http://${mirror.host}"]`).length, 2, 'one table for the mirror', { hostsToml });

  const socket = await startContainerd(t, join(work, 'containerd'));
  const fetch = (ref: string) =>
    run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, ref], { timeout: 120_000 }).then(
      () => 'pulled',
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );
  t.equal(await fetch(`${SOURCE}/app:v1`), 'pulled', 'by tag, from the mirror (the source does not exist)');
  await forgetContent(socket, [D]);
  t.equal(await fetch(`${SOURCE}/app@${D}`), 'pulled', 'by digest');
  t.ok(
    (await mirror.requests()).some((r) => r.kind === 'manifests' && r.reference === 'v1'),
    'the mirror resolved the tag',
  );
});

/**
 * The daemon keeps containerd's hosts directory (`--containerd-hosts-dir`): written at start,
 * rewritten when a fragment changes, a host the policy drops removed, a hand-written hosts.toml
 * left alone and reported (degraded), the certificates beside a hosts.toml named in it, and
 * `status` (text and --json) saying which hosts are managed and what containerd cannot express.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'smol-toml';
import { runCli } from '../../helpers/cli.js';
import { configFileArgs, fragment, readOrUndefined, replaceFile, startDaemon, workspace, type DaemonProcess } from '../../helpers/daemon.js';
import { caCertificatePem } from '../../helpers/test-ca.js';

t.test('the daemon writes, updates and reports containerd hosts', async (t) => {
  const ws = workspace(t);
  const hostsDir = join(ws.dir, 'certs.d');
  // containerd used this CA for quay.io while no hosts.toml was there; ours must keep naming it.
  mkdirSync(join(hostsDir, 'quay.io'), { recursive: true });
  writeFileSync(join(hostsDir, 'quay.io', 'ca.crt'), await caCertificatePem());
  // A hand-written hosts.toml for a host the policy covers: never overwritten.
  mkdirSync(join(hostsDir, 'ghcr.io'), { recursive: true });
  writeFileSync(join(hostsDir, 'ghcr.io', 'hosts.toml'), 'server = "https://ghcr.io"\n');
  writeFileSync(join(ws.policy, '10-quay.toml'), fragment('quay.io', ['mirror-1.example/quay']));
  writeFileSync(join(ws.policy, '20-ghcr.toml'), fragment('ghcr.io', ['mirror-1.example/ghcr']));
  writeFileSync(join(ws.policy, '30-team.toml'), fragment('registry.example/team', ['mirror-1.example/team']));
  // containerd's config as Debian ships it: its CRI plugin reads no hosts directory.
  const containerdConfig = join(ws.dir, 'containerd-config.toml');
  writeFileSync(containerdConfig, 'version = 2\n[plugins."io.containerd.grpc.v1.cri".cni]\n  bin_dir = "/usr/lib/cni"\n');
  const d = await startDaemon(t, ws, { args: ['--containerd-hosts-dir', hostsDir, '--containerd-config', containerdConfig] });

  const quay = join(hostsDir, 'quay.io', 'hosts.toml');
  await d.waitFor(() => existsSync(quay), 'quay.io/hosts.toml written');
  const parsed = parse(readFileSync(quay, 'utf8')) as { server: string; ca?: string[]; host: Record<string, unknown> };
  t.equal(parsed.server, 'https://quay.io');
  t.same(parsed.ca, [join(hostsDir, 'quay.io', 'ca.crt')], 'the CA beside it is named');
  t.same(Object.keys(parsed.host), ['https://mirror-1.example/v2/quay']);
  t.equal(readFileSync(join(hostsDir, 'ghcr.io', 'hosts.toml'), 'utf8'), 'server = "https://ghcr.io"\n', 'the hand-written file is untouched');

  const s = await d.waitForStatus((x) => x.containerd !== undefined, 'containerd in status');
  t.equal(s.state, 'degraded', 'a hosts.toml of someone else makes the daemon degraded');
  t.match(s.degraded, [/ghcr\.io\/hosts\.toml.*written by someone else/]);
  t.same(s.containerd?.hosts, ['quay.io'], 'only the host we manage');
  t.equal(s.containerd?.dir, hostsDir);
  t.match(s.containerd?.warnings, [/30-team\.toml:\d+:\d+: warning: containerd cannot express a namespace-scoped source/]);
  t.ok(
    s.containerd?.warnings.some((w) =>
      w.startsWith(`${containerdConfig}: warning: containerd's CRI plugin does not read ${hostsDir} (config_path is not set)`),
    ),
    "status says containerd's CRI plugin would not read the hosts",
  );
  const text = await runCli(['status', '--control-socket', ws.control]);
  t.match(text.stdout, `containerd: ${hostsDir}, 1 host(s): quay.io\n`);

  // A change of policy reaches hosts.toml; a dropped host loses ours (the CA stays, with its directory).
  replaceFile(join(ws.policy, '10-quay.toml'), fragment('quay.io', ['mirror-2.example/quay']));
  await d.waitFor(() => (readOrUndefined(quay) ?? '').includes('mirror-2.example'), 'the change in hosts.toml');
  replaceFile(join(ws.policy, '10-quay.toml'), fragment('docker.io', ['mirror-2.example/hub']));
  await d.waitFor(() => !existsSync(quay) && existsSync(join(hostsDir, 'docker.io', 'hosts.toml')), 'quay.io dropped, docker.io written');
  t.ok(existsSync(join(hostsDir, 'quay.io', 'ca.crt')), 'the certificate is left where it was');
  const after = await d.waitForStatus((x) => x.containerd?.hosts.includes('docker.io') === true, 'status follows');
  t.same(after.containerd?.hosts, ['docker.io']);

  // Another fragment containerd cannot express: its warning is logged, the one already said is not again.
  writeFileSync(join(ws.policy, '40-other.toml'), fragment('registry.example/other', ['mirror-1.example/other']));
  await d.waitForLog(/WARN: 40-other\.toml:\d+:\d+: containerd cannot express/);
  t.equal((d.stdout().match(/30-team\.toml:\d+:\d+: containerd cannot express/g) ?? []).length, 1, 'each warning logged once');
  t.equal(await d.stop(), 0);
});

/** A daemon keeping quay.io's hosts.toml, its rescan every 300 ms, once healthy with that file written. */
async function quayWithRescan(t: Test): Promise<{ d: DaemonProcess; quay: string; policy: string }> {
  const ws = workspace(t);
  const hostsDir = join(ws.dir, 'certs.d');
  writeFileSync(join(ws.policy, '10-quay.toml'), fragment('quay.io', ['mirror-1.example/quay']));
  const d = await startDaemon(t, ws, { args: ['--containerd-hosts-dir', hostsDir, '--rescan-interval-ms', '300'] });
  const quay = join(hostsDir, 'quay.io', 'hosts.toml');
  await d.waitForStatus((x) => x.state === 'healthy' && x.containerd?.hosts.includes('quay.io') === true, 'healthy, quay.io written');
  return { d, quay, policy: ws.policy };
}

t.test('a hand edit of our hosts.toml is seen by the rescan: kept, ours restored, status says so', async (t) => {
  const { d, quay } = await quayWithRescan(t);
  const ours = readFileSync(quay, 'utf8');
  const edited = `${ours}\n[host."https://hand.example"]\n  capabilities = ["pull"]\n`;
  writeFileSync(quay, edited);

  const s = await d.waitForStatus((x) => (x.containerd?.drift.length ?? 0) > 0, 'the edit seen as drift');
  const kept = s.containerd?.drift[0]?.savedAs ?? '';
  t.match(kept, /\/_mirror-policyd-edited\/quay\.io\/hosts\.toml\.edited-/);
  t.equal(readFileSync(kept, 'utf8'), edited, 'the edited copy is kept whole');
  await d.waitFor(() => readOrUndefined(quay) === ours, 'ours restored');
  await d.waitForLog(/hosts\.toml of quay\.io was edited by hand/); // a log line may land a moment after the effect it reports
  t.match(d.log(), /hosts\.toml of quay\.io was edited by hand/);
  t.equal(await d.stop(), 0);
});

t.test('a certificate put beside a hosts.toml, or removed, reaches it by the rescan (no fragment changes)', async (t) => {
  const { d, quay } = await quayWithRescan(t);
  const caOf = (): unknown => (parse(readOrUndefined(quay) ?? '') as { ca?: string[] }).ca;
  t.equal(caOf(), undefined, 'no CA named yet');
  // Nothing the watcher sees changes: only the rescan can notice the certificate.
  const ca = join(dirname(quay), 'ca.crt');
  writeFileSync(ca, await caCertificatePem());
  await d.waitFor(() => JSON.stringify(caOf()) === JSON.stringify([ca]), 'the new CA named in hosts.toml');
  rmSync(ca);
  await d.waitFor(() => caOf() === undefined, 'the removed CA no longer named');
  t.equal((await d.status()).state, 'healthy');
  t.equal(await d.stop(), 0);
});

t.test('a policy directory that vanishes leaves our hosts.toml in effect (rescans too); back and empty, ours go with their directory', async (t) => {
  const { d, quay, policy } = await quayWithRescan(t);
  const ours = readFileSync(quay, 'utf8');
  const renders = (await d.status()).renders;
  rmSync(policy, { recursive: true });
  await d.waitForStatus((x) => x.degraded.some((r) => /policy directory .* does not exist/.test(r)) && x.renders > renders, 'degraded: no policy directory');
  const rescans = (await d.status()).renders;
  await d.waitForStatus((x) => x.renders > rescans + 1, 'rendered (and refused) again since');
  t.equal(readOrUndefined(quay), ours, 'the unknown policy is not an empty one: ours stays for containerd');
  mkdirSync(policy, { mode: 0o755 });
  await d.waitFor(() => !existsSync(dirname(quay)), 'an existing empty directory is an empty policy: ours removed, and its directory');
  t.equal(await d.stop(), 0);
});

t.test('a hosts directory that cannot be written: logged once at error, the rescans that try again at debug, the recovery at info', async (t) => {
  const ws = workspace(t);
  const parent = join(ws.dir, 'containerd');
  writeFileSync(parent, 'a file where the directory should be\n');
  writeFileSync(join(ws.policy, '10-quay.toml'), fragment('quay.io', ['mirror-1.example/quay']));
  const hostsDir = join(parent, 'certs.d');
  const d = await startDaemon(t, ws, { args: ['--containerd-hosts-dir', hostsDir, '--rescan-interval-ms', '200', '--log-level', 'debug'] });
  await d.waitFor(() => (d.stdout().match(/^DEBUG: still cannot write containerd's hosts in /gm) ?? []).length >= 2, 'two rescans that fail again');
  t.equal((d.stdout().match(/^ERROR: cannot write containerd's hosts in /gm) ?? []).length, 1, 'one error line');
  rmSync(parent);
  mkdirSync(parent);
  await d.waitFor(() => existsSync(join(hostsDir, 'quay.io', 'hosts.toml')), 'written once possible');
  await d.waitForLog(/^INFO: containerd's hosts in .* written again/m);
  t.equal(await d.stop(), 0);
});

t.test(
  'containerd-hosts-dir moved (a reload) or unset (a restart): our hosts.toml files in the old directory go, others stay; render refuses the one in use',
  async (t) => {
    const ws = workspace(t);
    const first = join(ws.dir, 'certs.d');
    const second = join(ws.dir, 'certs2.d');
    mkdirSync(join(first, 'ghcr.io'), { recursive: true });
    writeFileSync(join(first, 'ghcr.io', 'hosts.toml'), 'server = "https://ghcr.io"\n'); // someone else's
    writeFileSync(join(ws.policy, '10-quay.toml'), fragment('quay.io', ['mirror-1.example/quay']));
    const config = join(ws.dir, 'config.toml');
    const settings = (hostsDir?: string): string =>
      [
        `policy-dir = ${JSON.stringify(ws.policy)}`,
        'probe-interval-ms = 0',
        `containerd-config = ${JSON.stringify(join(ws.dir, 'containerd-config.toml'))}`,
        ...(hostsDir !== undefined ? [`containerd-hosts-dir = ${JSON.stringify(hostsDir)}`] : []),
        '',
      ].join('\n');
    writeFileSync(config, settings(first));
    const argv = configFileArgs(ws, config);
    const d = await startDaemon(t, ws, { argv });
    await d.waitFor(() => existsSync(join(first, 'quay.io', 'hosts.toml')), 'ours written in the first directory');

    // A trial `render` into the daemon's hosts directory (its own output elsewhere) would undo the daemon's files there.
    const trial = join(ws.dir, 'trial.d');
    mkdirSync(trial);
    writeFileSync(join(trial, '10-docker.toml'), fragment('docker.io', ['mirror-1.example/hub']));
    const render = (hostsDir: string) =>
      runCli([
        'render',
        '--policy-dir',
        trial,
        '--allow-unsafe-fragments',
        '--output',
        join(ws.dir, 'trial.conf'),
        '--state-dir',
        ws.state,
        '--containerd-hosts-dir',
        hostsDir,
      ]);
    const refused = await render(first);
    t.equal(refused.code, 1, 'render refuses the hosts directory the daemon manages');
    t.match(refused.stderr, `${first} is managed by the running mirror-policyd (pid ${d.pid})`);
    t.ok(existsSync(join(first, 'quay.io', 'hosts.toml')) && !existsSync(join(first, 'docker.io')), 'nothing of it written or removed');

    writeFileSync(config, settings(second));
    const n = d.notify!.messages().length;
    d.child.kill('SIGHUP');
    await d.waitForNotify((m) => m.startsWith('READY=1'), n);
    await d.waitFor(() => existsSync(join(second, 'quay.io', 'hosts.toml')), 'ours written in the new directory');
    await d.waitFor(() => !existsSync(join(first, 'quay.io')), 'ours gone from the old one, with its directory');
    t.equal(readFileSync(join(first, 'ghcr.io', 'hosts.toml'), 'utf8'), 'server = "https://ghcr.io"\n', "someone else's stays");
    t.equal((await render(second)).code, 1, 'after the reload, the new directory is the one refused');
    const old = await render(first);
    t.equal(old.code, 0, `and the old one is free: ${old.stderr}`);
    t.ok(existsSync(join(first, 'docker.io', 'hosts.toml')), 'render wrote there');
    t.equal(await d.stop(), 0);

    writeFileSync(config, settings(undefined));
    const again = await startDaemon(t, ws, { argv });
    await again.waitForLog(/containerd-hosts-dir is no longer set: our hosts\.toml files in .*certs2\.d removed \(1\)/);
    t.notOk(existsSync(join(second, 'quay.io')), 'at the next start, ours gone from the directory no longer set');
    t.equal(await again.stop(), 0);
  },
);

/**
 * Whether containerd's CRI plugin reads the hosts directory, told by `check` and `render` from
 * containerd's config.toml (`--containerd-config`), checked against containerd itself: for each
 * config, `containerd --config FILE config dump` (Debian's 1.6, imports merged) gives the
 * config_path the CRI plugin uses, and the warning is there exactly when it does not name the
 * directory. Skipped, saying why, when containerd is not installed.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { runCli } from '../../helpers/cli.js';
import { run } from '../../helpers/containerd.js';

const skip = existsSync('/usr/bin/containerd') ? false : 'containerd is not installed (apt-get install containerd)';

const work = mkdtempSync(join(tmpdir(), 'mpd-cri-config-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const hostsDir = join(work, 'certs.d');
const policy = join(work, 'policy.d');
mkdirSync(policy);
writeFileSync(join(policy, '10-quay.toml'), '[[mirror-set]]\nsource = "quay.io"\nmirrors = ["mirror.example.net/quay"]\n');

const table = '[plugins."io.containerd.grpc.v1.cri".registry]';

/**
 * As containerd itself merges `file` and its imports: the CRI plugin's config_path, or
 * 'disabled' when `disabled_plugins` turns the plugin off.
 */
async function containerdSays(file: string): Promise<string[] | 'disabled'> {
  const dumped = parse((await run('containerd', ['--config', file, 'config', 'dump'])).stdout) as {
    disabled_plugins?: string[];
    plugins: Record<string, { registry?: { config_path?: string } }>;
  };
  if (dumped.disabled_plugins?.some((p) => p === 'cri' || p === 'io.containerd.grpc.v1.cri')) return 'disabled';
  return (dumped.plugins['io.containerd.grpc.v1.cri']?.registry?.config_path ?? '').split(':').filter(Boolean);
}

/** check's warnings about containerd's config. */
async function weSay(file: string): Promise<Array<{ file: string; line: number | null; message: string }>> {
  const r = await runCli([
    'check',
    '--json',
    '--policy-dir',
    policy,
    '--base',
    '/dev/null',
    '--allow-unsafe-fragments',
    '--containerd-hosts-dir',
    hostsDir,
    '--containerd-config',
    file,
  ]);
  t.equal(r.code, 0, r.stderr);
  const diagnostics = (JSON.parse(r.stdout) as { diagnostics: Array<{ file: string; line: number | null; message: string }> }).diagnostics;
  return diagnostics.filter((d) => d.message.includes(hostsDir));
}

let n = 0;
/** A config dir holding `files` (name → text); the path of its config.toml. */
function configWith(files: Record<string, string>): string {
  const dir = join(work, `conf-${n++}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text.replaceAll('$DIR', dir));
  }
  return join(dir, 'config.toml');
}

t.test('the warning is there exactly when containerd does not read the directory', { skip }, async (t) => {
  const cases: Array<[string, string, Record<string, string>]> = [
    ["Debian's shipped config", 'no config_path', { 'config.toml': 'version = 2\n[plugins."io.containerd.grpc.v1.cri".cni]\n  bin_dir = "/usr/lib/cni"\n' }],
    ['config_path names it', '', { 'config.toml': `version = 2\n${table}\n  config_path = "${hostsDir}"\n` }],
    ['second of two', '', { 'config.toml': `version = 2\n${table}\n  config_path = "${work}/empty-root:${hostsDir}/"\n` }],
    ['another directory', 'another', { 'config.toml': `version = 2\n${table}\n  config_path = "/etc/docker/certs.d"\n` }],
    [
      'a relative import sets it over the main file',
      '',
      {
        'config.toml': `version = 2\nimports = ["conf.d/10.toml"]\n${table}\n  config_path = "/elsewhere"\n`,
        'conf.d/10.toml': `version = 2\n${table}\n  config_path = "${hostsDir}"\n`,
      },
    ],
    [
      'an absolute pattern import sets another over the main file',
      'imported',
      {
        'config.toml': `version = 2\nimports = ["$DIR/conf.d/*.toml"]\n${table}\n  config_path = "${hostsDir}"\n`,
        'conf.d/20.toml': `version = 2\n${table}\n  config_path = "/elsewhere"\n`,
      },
    ],
    [
      "the CRI plugin disabled by an import (as Docker's containerd.io does): nothing to say",
      'disabled',
      { 'config.toml': 'version = 2\nimports = ["docker.toml"]\n', 'docker.toml': 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n' },
    ],
    [
      'deprecated mirrors',
      'mirrors',
      { 'config.toml': `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."quay.io"]\n  endpoint = ["https://m.example"]\n` },
    ],
  ];
  for (const [name, expect, files] of cases) {
    const file = configWith(files);
    const says = await containerdSays(file);
    const said = await weSay(file);
    if (expect === 'disabled') {
      t.equal(says, 'disabled', `${name}: containerd has the CRI plugin off`);
      t.same(said, [], `${name}: no warning`);
      continue;
    }
    const reads = says !== 'disabled' && says.some((d) => d.replace(/\/+$/, '') === hostsDir);
    t.equal(reads, expect === '', `${name}: containerd ${expect === '' ? 'reads' : 'does not read'} the directory`);
    t.equal(said.length, reads ? 0 : 1, `${name}: ${reads ? 'no warning' : 'a warning'}`);
    if (reads) continue;
    const at = expect === 'imported' ? join(file, '..', 'conf.d', '20.toml') : file;
    t.equal(said[0]?.file, at, expect === 'imported' ? 'the warning names the import that set it' : 'the warning names the config file');
    t.match(said[0]?.message, `set config_path = "${hostsDir}" in ${table} and restart containerd`, 'with the fix');
    if (expect === 'imported' || expect === 'another') t.equal(said[0]?.line, 3, 'at the line of config_path');
    if (expect === 'mirrors') t.match(said[0]?.message, 'move its registry.mirrors into a policy fragment first');
  }
  const broken = configWith({ 'config.toml': 'version = 2\nimports = ["bad.toml"]\n', 'bad.toml': 'version = \n' });
  await t.rejects(containerdSays(broken), 'containerd refuses an import it cannot parse');
  t.match(
    await weSay(broken),
    [{ file: broken, message: `cannot tell whether containerd reads ${hostsDir}: ${join(broken, '..', 'bad.toml')}: ` }],
    'so does the warning, naming it',
  );
});

t.test('a root listed before ours in config_path that holds a host directory, or _default, hides ours (hostDirFromRoots)', async (t) => {
  const earlier = join(work, 'earlier-root');
  const file = configWith({ 'config.toml': `version = 2\n${table}\n  config_path = "${earlier}:${hostsDir}"\n` });
  t.same(await weSay(file), [], 'an earlier root without the host: ours is read');
  mkdirSync(join(earlier, 'quay.io'), { recursive: true });
  t.match(await weSay(file), [
    {
      file,
      line: 3,
      message: `containerd's CRI plugin takes these hosts' directories from a config_path root listed before ${hostsDir}, so it never reads our hosts.toml for them: quay.io (${join(earlier, 'quay.io')}); list ${hostsDir} first`,
    },
  ]);
  rmSync(join(earlier, 'quay.io'), { recursive: true });
  mkdirSync(join(earlier, '_default'));
  t.match(await weSay(file), [{ message: `quay.io (${join(earlier, '_default')})` }], '_default/ there hides every host');
  const oursFirst = configWith({ 'config.toml': `version = 2\n${table}\n  config_path = "${hostsDir}:${earlier}"\n` });
  t.same(await weSay(oursFirst), [], 'ours first: read whatever the later roots hold');
});

t.test('render says it too, after writing the hosts; none when the config file does not exist', async (t) => {
  const debian = configWith({ 'config.toml': 'version = 2\n' });
  const render = (config: string) =>
    runCli([
      'render',
      '--policy-dir',
      policy,
      '--base',
      '/dev/null',
      '--output',
      join(work, 'registries.conf'),
      '--allow-unsafe-fragments',
      '--containerd-hosts-dir',
      hostsDir,
      '--containerd-config',
      config,
    ]);
  const r = await render(debian);
  t.equal(r.code, 0, 'a warning, not a failure');
  t.match(r.stderr, `${debian}: warning: containerd's CRI plugin does not read ${hostsDir} (config_path is not set)`);
  t.ok(readdirSync(hostsDir).includes('quay.io'), 'the hosts are written all the same');
  const none = await render(join(work, 'no-such-config.toml'));
  t.equal(none.code, 0, none.stderr);
  t.notMatch(none.stderr, "containerd's CRI plugin", 'no config file: containerd runs on built-in defaults, which vary with its version: nothing is guessed');
  const usage = await runCli(['render', '--policy-dir', policy, '--containerd-config', debian]);
  t.equal(usage.code, 2);
  t.match(usage.stderr, '--containerd-config is read to see whether containerd reads the hosts directory: it needs --containerd-hosts-dir');
});

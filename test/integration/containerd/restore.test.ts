/**
 * `restore` with containerd's hosts directory (the config file's `containerd-hosts-dir`, read
 * as the daemon read it): our hosts.toml files go, an edited one is kept first, and
 * one someone else wrote stays. Uninstalling must not leave containerd routed through an
 * endpoint that is gone.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EDITED_DIR, stampedText } from '../../../src/containerd/hosts-dir.js';
import { HOSTS_TOML_HEADER } from '../../../src/containerd/hosts-toml.js';
import { runCli } from '../../helpers/cli.js';

const ours = (server: string): string => stampedText(`${HOSTS_TOML_HEADER}server = "${server}"\n`);

t.test("restore removes our hosts.toml files from the config file's containerd-hosts-dir, keeping edits and others' files", async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mpd-restore-hosts-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const hosts = join(root, 'certs.d');
  const state = join(root, 'state');
  const output = join(root, 'registries.conf');
  const put = (host: string, text: string): void => {
    mkdirSync(join(hosts, host), { recursive: true });
    writeFileSync(join(hosts, host, 'hosts.toml'), text);
  };
  put('quay.io', ours('https://quay.io'));
  const edited = `${ours('https://registry.lan:5000')}# a hand edit\n`;
  put('registry.lan:5000', edited);
  const theirs = 'server = "https://ghcr.io"\n';
  put('ghcr.io', theirs);
  writeFileSync(join(hosts, 'quay.io', 'ca.crt'), 'a CA the admin put there');
  const config = join(root, 'config.toml');
  writeFileSync(config, `containerd-hosts-dir = ${JSON.stringify(hosts)}\nstate-dir = ${JSON.stringify(state)}\n`);

  const r = await runCli(['restore', '--config', config, '--output', output]);
  t.equal(r.code, 0, r.stderr + r.stdout);
  t.notOk(existsSync(join(hosts, 'quay.io', 'hosts.toml')), 'ours removed');
  t.ok(existsSync(join(hosts, 'quay.io', 'ca.crt')), 'the CA beside it stays');
  t.notOk(existsSync(join(hosts, 'registry.lan:5000')), 'ours edited: removed, with its directory (containerd falls back to _default)');
  const keptDir = join(hosts, EDITED_DIR, 'registry.lan:5000');
  const kept = readdirSync(keptDir).filter((n) => n.startsWith('hosts.toml.edited-'));
  t.equal(kept.length, 1, 'the edit kept');
  t.equal(readFileSync(join(keptDir, kept[0] as string), 'utf8'), edited);
  t.equal(readFileSync(join(hosts, 'ghcr.io', 'hosts.toml'), 'utf8'), theirs, "someone else's left as it is");
  t.match(r.stdout + r.stderr, `removed our hosts.toml for`);
});

t.test('restore with a config file it cannot use does not guess where the daemon wrote: it refuses, naming the file, and touches nothing', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mpd-restore-hosts-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const hosts = join(root, 'certs.d');
  mkdirSync(join(hosts, 'quay.io'), { recursive: true });
  writeFileSync(join(hosts, 'quay.io', 'hosts.toml'), ours('https://quay.io'));
  const config = join(root, 'config.toml');
  writeFileSync(config, `containerd-hosts-dir = ${JSON.stringify(hosts)}\nstate-dir = ${JSON.stringify(join(root, 'state'))}\ndebounce-msec = 100\n`);

  const r = await runCli(['restore', '--config', config, '--output', join(root, 'registries.conf')]);
  t.equal(r.code, 1, 'refused: "nothing to restore" would be untrue');
  t.match(
    r.stderr + r.stdout,
    `${config}:3:1: unknown key "debounce-msec" in the config file; did you mean "debounce-ms"?`,
    'the config file, its line, the key meant',
  );
  t.match(r.stderr + r.stdout, `fix ${config}, or give --state-dir`);
  t.ok(existsSync(join(hosts, 'quay.io', 'hosts.toml')), 'nothing touched');
});

/**
 * The package's tmpfiles.d entry (packaging/files/tmpfiles.conf) run by the real
 * systemd-tmpfiles on a temp root, as postinst and every boot run it: it creates what the
 * unit needs, and leaves the host's own /etc/containers as the host has it.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from '../../helpers/repo.js';

const CONF = repoPath('packaging/files/tmpfiles.conf');
const hasTool = spawnSync('systemd-tmpfiles', ['--version']).status === 0;
const SKIP = !hasTool ? 'systemd-tmpfiles is not installed' : process.getuid?.() !== 0 ? 'needs root (chown)' : false;

function tempRoot(t: Test): string {
  const root = mkdtempSync(join(tmpdir(), 'mpd-tmpfiles-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const d of ['etc', 'var/lib', 'run']) mkdirSync(join(root, d), { recursive: true });
  return root;
}

function runTmpfiles(root: string): void {
  const r = spawnSync('systemd-tmpfiles', [`--root=${root}`, '--create', CONF], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`systemd-tmpfiles: ${r.status} ${r.stderr}`);
}

const modeOf = (path: string): string => {
  const st = statSync(path);
  return `${(st.mode & 0o7777).toString(8).padStart(4, '0')} ${st.uid}:${st.gid}`;
};

t.test('a missing /etc/containers is created 0755 root, the state and runtime directories 0700', { skip: SKIP }, async (t) => {
  const root = tempRoot(t);
  runTmpfiles(root);
  t.equal(modeOf(join(root, 'etc/containers')), '0755 0:0');
  t.equal(modeOf(join(root, 'var/lib/mirror-policyd')), '0700 0:0');
  t.equal(modeOf(join(root, 'run/mirror-policyd')), '0700 0:0');
});

t.test("the host's /etc/containers keeps its own mode and group, at install and at every boot", { skip: SKIP }, async (t) => {
  const root = tempRoot(t);
  const dir = join(root, 'etc/containers');
  mkdirSync(dir);
  chmodSync(dir, 0o750);
  chownSync(dir, 0, 5);
  runTmpfiles(root);
  t.equal(modeOf(dir), '0750 0:5', 'left as the host has it');
});

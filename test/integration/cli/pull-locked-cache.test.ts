/**
 * `mirror-policyd pull` while another process holds the health cache's lock (a real, live
 * `sleep` named in the lock): the pull still succeeds and verifies, writes nothing to the
 * cache, says so, and leaves the other process's lock alone.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { refusingHost } from '../../helpers/fault-proxy.js';
import { runCli } from '../../helpers/cli.js';

t.test('a pull goes on without updating a health cache whose lock a live process holds', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-pull-locked-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const src = await registryFor(t);
  const img = await buildImage(join(work, 'img'), { content: 'pulled while the cache is locked', tag: 'v1' });
  await pushImage(img, `${src.host}/app:v1`);
  const dead = await refusingHost();
  const conf = join(work, 'registries.conf');
  writeFileSync(conf, `[[registry]]\nlocation = "${src.host}/app"\ninsecure = true\n\n[[registry.mirror]]\nlocation = "${dead}/app"\ninsecure = true\n`);
  const state = join(work, 'state');
  mkdirSync(state, { mode: 0o700 });

  const holder = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.teardown(() => void holder.kill('SIGKILL'));
  await new Promise((r) => holder.once('spawn', r));
  const stat = readFileSync(`/proc/${holder.pid}/stat`, 'utf8');
  const identity = {
    pid: holder.pid,
    bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    startTicks: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]),
  };
  const lock = join(state, 'health.json.lock');
  writeFileSync(lock, `${JSON.stringify(identity)}\n`);
  const old = new Date(Date.now() - 3600_000);
  utimesSync(lock, old, old); // long held: still not ours to remove while its holder runs

  const ref = `${src.host}/app@${img.manifestDigest}`;
  const r = await runCli(['pull', ref, '--dest', join(work, 'd1'), '--registries-conf', conf, '--state-dir', state, '--json']);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { digest: string; verified: boolean; manifestFrom: string };
  t.match(report, { digest: img.manifestDigest, verified: true, manifestFrom: ref }, 'pulled and verified from the source after the dead mirror');
  t.match(r.stderr, `health cache ${join(state, 'health.json')} not updated: ${lock} is held by another process (pid ${holder.pid}, still running)`);
  t.notOk(existsSync(join(state, 'health.json')), 'nothing written to the cache');
  t.same(JSON.parse(readFileSync(lock, 'utf8')), identity, "the holder's lock is left alone");
});

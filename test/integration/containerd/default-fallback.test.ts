/**
 * containerd (1.6 here, to 2.x) picks a registry's host directory by its presence, hosts.toml in
 * it or not, and only when there is none falls back to `_default/`. A host the policy drops must
 * leave no directory of ours behind: not even one holding only the kept copy of a hand edit
 * (`hosts.toml.edited-<time>`), or `_default/` no longer applies to that registry. Checked with
 * the real containerd and `ctr` against a real docker-registry: an operator's `_default/hosts.toml`
 * sends every registry to the mirror; `source.invalid` does not exist, so a pull of it succeeds
 * only through `_default`. Skipped, saying why, when not root or containerd is not installed.
 */
import t from 'tap';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHostsDir } from '../../../src/containerd/hosts-dir.js';
import { HOSTS_TOML_HEADER } from '../../../src/containerd/hosts-toml.js';
import { containerdSkip as skip, forgetContent, run, startContainerd } from '../../helpers/containerd.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';

const SOURCE = 'source.invalid';

t.test('a dropped host whose hosts.toml of ours was edited: the edit is kept and containerd falls back to _default', { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-containerd-default-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const mirror = await registryFor(t);
  const img = await buildImage(join(work, 'img'), { content: 'through _default', tag: 'v1' });
  await pushImage(img, `${mirror.host}/app:v1`);
  const D = img.manifestDigest;
  const hostsDir = join(work, 'certs.d');
  mkdirSync(join(hostsDir, '_default'), { recursive: true });
  writeFileSync(join(hostsDir, '_default', 'hosts.toml'), `[host."http://${mirror.host}"]\n  capabilities = ["pull", "resolve"]\n`);

  const socket = await startContainerd(t, join(work, 'containerd'));
  const fetch = async (ref: string): Promise<string> => {
    await forgetContent(socket, [D]); // each fetch from a registry, not the store
    return run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, ref], { timeout: 120_000 }).then(
      () => 'pulled',
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );
  };
  t.equal(await fetch(`${SOURCE}/app@${D}`), 'pulled', 'the control: with no directory for it, containerd uses _default');

  // Ours, edited by hand; then the policy drops the host.
  const ours = `${HOSTS_TOML_HEADER}server = "https://${SOURCE}"\n\n[host."http://${mirror.host}"]\n  capabilities = ["pull"]\n`;
  await writeHostsDir(hostsDir, [{ host: SOURCE, text: ours }]);
  const file = join(hostsDir, SOURCE, 'hosts.toml');
  const edited = `${readFileSync(file, 'utf8')}# a hand edit\n`;
  writeFileSync(file, edited);
  const dropped = await writeHostsDir(hostsDir, []);
  t.same(dropped.removed, [SOURCE]);
  const savedAs = dropped.edited[0]?.savedAs ?? '';
  t.equal(readFileSync(savedAs, 'utf8'), edited, 'the edit is kept');
  t.notOk(existsSync(join(hostsDir, SOURCE)), 'and no directory is left under the host name');
  t.equal(await fetch(`${SOURCE}/app@${D}`), 'pulled', 'containerd behaves as if we never wrote that host: _default applies');
});

t.test('an edit kept when ours was restored stays out of the way when the host is dropped later', { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-containerd-default-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const hostsDir = join(work, 'certs.d');
  const ours = `${HOSTS_TOML_HEADER}server = "https://${SOURCE}"\n\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull"]\n`;
  await writeHostsDir(hostsDir, [{ host: SOURCE, text: ours }]);
  const file = join(hostsDir, SOURCE, 'hosts.toml');
  writeFileSync(file, `${readFileSync(file, 'utf8')}# a hand edit\n`);
  const restored = await writeHostsDir(hostsDir, [{ host: SOURCE, text: ours }]);
  t.equal(restored.edited.length, 1, 'the edit kept, ours restored');
  const dropped = await writeHostsDir(hostsDir, []);
  t.same(dropped.removed, [SOURCE]);
  t.notOk(existsSync(join(hostsDir, SOURCE)), 'no directory left under the host name to hide _default');
  t.ok(existsSync(restored.edited[0]?.savedAs ?? ''), 'the kept copy is still there');
});

t.test("an operator's _default/hosts.toml linked to ours survives our renders: containerd keeps reading it for every other registry", { skip }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-containerd-default-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const mirror = await registryFor(t);
  const img = await buildImage(join(work, 'img'), { content: 'through a linked _default', tag: 'v1' });
  await pushImage(img, `${mirror.host}/app:v1`);
  const D = img.manifestDigest;
  const hostsDir = join(work, 'certs.d');
  const files = [{ host: SOURCE, text: `${HOSTS_TOML_HEADER}server = "https://${SOURCE}"\n\n[host."http://${mirror.host}"]\n  capabilities = ["pull"]\n` }];
  await writeHostsDir(hostsDir, files);
  mkdirSync(join(hostsDir, '_default'));
  symlinkSync(`../${SOURCE}/hosts.toml`, join(hostsDir, '_default', 'hosts.toml'));

  const socket = await startContainerd(t, join(work, 'containerd'));
  const fetch = async (ref: string): Promise<string> => {
    await forgetContent(socket, [D]);
    return run('ctr', ['--address', socket, 'content', 'fetch', '--hosts-dir', hostsDir, ref], { timeout: 120_000 }).then(
      () => 'pulled',
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );
  };
  const other = `other.invalid/app@${D}`; // no such registry: only _default's mirror serves it
  t.equal(await fetch(other), 'pulled', 'the control: containerd reads _default/hosts.toml through the link');
  const again = await writeHostsDir(hostsDir, files);
  t.same(again.removed, [], 'nothing removed through the link');
  t.ok(lstatSync(join(hostsDir, '_default', 'hosts.toml')).isSymbolicLink(), 'the link stays');
  t.equal(await fetch(other), 'pulled', 'and containerd still pulls every other registry through it');
});

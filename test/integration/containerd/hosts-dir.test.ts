/**
 * Writing containerd's hosts directory (src/containerd/hosts-dir.ts) on real files: ours are
 * written and replaced only when they change; a hosts.toml someone else wrote is never
 * touched and is reported; ours for a host the policy dropped is removed, its directory too
 * unless something else (a CA) lives there; ours edited by hand is kept (in _mirror-policyd-edited/)
 * before it is replaced or removed.
 */
import t, { type Test } from 'tap';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { formatDiagnostic } from '../../../src/core/diagnostic.js';
import { EDITED_DIR, stampedText, updateHostsDir, writeHostsDir, type HostsDirOutcome } from '../../../src/containerd/hosts-dir.js';
import { HOSTS_TOML_HEADER } from '../../../src/containerd/hosts-toml.js';
import { tlsListing } from '../../../src/containerd/tls-files.js';
import { BIN } from '../../helpers/cli.js';
import type { RegistriesConf } from '../../../src/registries-conf/model.js';
import { immutableSupported, whileImmutable } from '../../helpers/immutable.js';
import { caCertificatePem } from '../../helpers/test-ca.js';

const ours = (server: string): string => `${HOSTS_TOML_HEADER}server = "${server}"\n`;

t.test('ours written and replaced; theirs left and reported; ours removed when dropped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-dir-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'ghcr.io'));
  const theirs = 'server = "https://ghcr.io"\n[host."https://hand.example"]\n';
  writeFileSync(join(dir, 'ghcr.io', 'hosts.toml'), theirs);

  const first = await writeHostsDir(dir, [
    { host: 'quay.io', text: ours('https://quay.io') },
    { host: 'registry.lan:5000', text: ours('https://registry.lan:5000') },
    { host: 'ghcr.io', text: ours('https://ghcr.io') },
  ]);
  t.same(first.written.sort(), ['quay.io', 'registry.lan:5000']);
  t.equal(readFileSync(join(dir, 'quay.io', 'hosts.toml'), 'utf8'), stampedText(ours('https://quay.io')), 'the header, the digest line, the rest');
  t.equal(readFileSync(join(dir, 'ghcr.io', 'hosts.toml'), 'utf8'), theirs, 'a hand-written hosts.toml is never overwritten');
  t.match(first.conflicts.map(formatDiagnostic), [/ghcr\.io\/hosts\.toml: .*written by someone else; left as it is/]);

  const again = await writeHostsDir(dir, [
    { host: 'quay.io', text: ours('https://quay.io') },
    { host: 'registry.lan:5000', text: ours('https://registry.lan:5000') },
  ]);
  t.same(again.written, [], 'unchanged: nothing rewritten');

  writeFileSync(join(dir, 'registry.lan:5000', 'ca.crt'), 'a CA the operator put there');
  const dropped = await writeHostsDir(dir, []);
  t.same(dropped.removed.sort(), ['quay.io', 'registry.lan:5000']);
  t.notOk(existsSync(join(dir, 'quay.io')), 'an emptied directory of ours goes');
  t.ok(existsSync(join(dir, 'registry.lan:5000', 'ca.crt')), 'a certificate beside it stays, with its directory');
  t.equal(readFileSync(join(dir, 'ghcr.io', 'hosts.toml'), 'utf8'), theirs, 'theirs is never removed');

  const hostile = await writeHostsDir(dir, [{ host: '../escape', text: ours('x') }]);
  t.match(hostile.conflicts.map(formatDiagnostic), [/not a registry host name/]);
  t.notOk(existsSync(join(dir, '..', 'escape')), 'nothing written outside the directory');
});

t.test('ours edited by hand: the edited copy is kept, then ours is restored (or removed)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-dir-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'quay.io', 'hosts.toml');
  await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }]);
  const handEdit = `${readFileSync(file, 'utf8')}[host."https://hand.example"]\n`;
  writeFileSync(file, handEdit);

  const at = new Date('2026-12-04T06:00:00.123Z');
  const restored = await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }], at);
  const savedAs = join(dir, EDITED_DIR, 'quay.io', 'hosts.toml.edited-2026-12-04T06-00-00-123Z');
  t.same(restored.edited, [{ host: 'quay.io', savedAs }]);
  t.same(restored.written, ['quay.io'], 'ours restored');
  t.equal(readFileSync(file, 'utf8'), stampedText(ours('https://quay.io')));
  t.equal(readFileSync(savedAs, 'utf8'), handEdit, 'nothing lost: the edit is kept');

  const intact = await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }]);
  t.same(intact.edited, [], 'an intact file of ours is not drift');

  writeFileSync(file, handEdit);
  const dropped = await writeHostsDir(dir, [], new Date('2026-12-04T07:00:00.000Z'));
  t.same(dropped.removed, ['quay.io']);
  const keptLater = join(dir, EDITED_DIR, 'quay.io', 'hosts.toml.edited-2026-12-04T07-00-00-000Z');
  t.same(dropped.edited, [{ host: 'quay.io', savedAs: keptLater }], 'kept before removal too');
  t.equal(readFileSync(keptLater, 'utf8'), handEdit);
  t.ok(existsSync(savedAs), 'the earlier copy stays');
  t.notOk(existsSync(join(dir, 'quay.io')), 'no directory is left under the host name (containerd would read it instead of _default)');
});

t.test('updateHostsDir hands back what a later look at the certificates compares with, taken before it read them', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mpd-hosts-dir-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'containerd');
  const certDirs = [join(root, 'containers-certs.d')];
  mkdirSync(dir);
  const conf: RegistriesConf = {
    registries: [{ location: 'quay.io', origin: { file: '10-policy.toml', line: 1 }, mirrors: [{ location: 'mirror.lan:5000/quay' }] }],
  };
  const outcome = await updateHostsDir(dir, conf, { certDirs });
  t.same([...outcome.tlsLook.hosts].sort(), ['mirror.lan:5000', 'quay.io'], 'every host a hosts.toml may name certificates for');
  t.equal(tlsListing(outcome.tlsLook.hosts, dir, certDirs), outcome.tlsLook.listing, 'our own hosts.toml write leaves it equal');
  mkdirSync(join(certDirs[0] ?? '', 'mirror.lan:5000'), { recursive: true });
  writeFileSync(join(certDirs[0] ?? '', 'mirror.lan:5000', 'ca.crt'), await caCertificatePem());
  t.not(tlsListing(outcome.tlsLook.hosts, dir, certDirs), outcome.tlsLook.listing, "a CA put in containers/image's directory for a mirror: differs");
  const again = await updateHostsDir(dir, conf, { certDirs });
  t.match(readFileSync(join(dir, 'quay.io', 'hosts.toml'), 'utf8'), /containers-certs\.d\/mirror\.lan:5000\/ca\.crt/, 'and the next write names it');
  t.equal(tlsListing(again.tlsLook.hosts, dir, certDirs), again.tlsLook.listing);
});

t.test('a host directory that is a symlink: ours written through it is removed when dropped; the link and its target stay', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-link-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = join(dir, 'elsewhere');
  mkdirSync(join(dir, 'certs.d'));
  mkdirSync(target);
  symlinkSync(target, join(dir, 'certs.d', 'quay.io'));
  symlinkSync(join(dir, 'nowhere'), join(dir, 'certs.d', 'dangling.io'));
  const hosts = join(dir, 'certs.d');
  await writeHostsDir(hosts, [{ host: 'quay.io', text: ours('https://quay.io') }]);
  t.ok(existsSync(join(target, 'hosts.toml')), 'written through the link (mkdir follows it)');
  const dropped = await writeHostsDir(hosts, []);
  t.same(dropped.removed, ['quay.io'], 'and removed when the policy drops the host');
  t.notOk(existsSync(join(target, 'hosts.toml')));
  t.ok(lstatSync(join(hosts, 'quay.io')).isSymbolicLink(), 'the link stays');
  t.ok(existsSync(target), 'so does its target');
});

t.test('a symlink in the hosts dir that aliases a host we write (`_default` -> docker.io): ours is kept, not removed through it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-alias-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'docker.io'));
  symlinkSync('docker.io', join(dir, '_default')); // containerd's fallback for every other host reads the same file
  const files = [{ host: 'docker.io', text: ours('https://registry-1.docker.io') }];
  for (const round of ['first', 'second']) {
    const outcome = await writeHostsDir(dir, files);
    t.same(outcome.removed, [], `${round} write: nothing removed through the alias`);
    t.equal(readFileSync(join(dir, 'docker.io', 'hosts.toml'), 'utf8'), stampedText(files[0]?.text ?? ''), `${round} write: ours is there`);
  }
  t.ok(lstatSync(join(dir, '_default')).isSymbolicLink(), 'the alias stays');
  const dropped = await writeHostsDir(dir, []);
  t.same(dropped.removed, ['docker.io'], 'dropped: removed once, under its own name, not through the alias');
  t.notOk(existsSync(join(dir, 'docker.io', 'hosts.toml')));
});

t.test("containerd's other name for host:port (host_port_): a conflict while it is another directory, none when it links to ours", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-port-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = [{ host: 'registry.lan:5000', text: ours('https://registry.lan:5000') }];
  mkdirSync(join(dir, 'registry.lan_5000_'));
  const shadowed = await writeHostsDir(dir, files);
  t.match(shadowed.conflicts.map(formatDiagnostic), [/registry\.lan_5000_: .*containerd looks up registry\.lan:5000 here first/]);
  t.same(shadowed.current, [], 'not reported as kept');
  rmSync(join(dir, 'registry.lan_5000_'), { recursive: true });
  symlinkSync('registry.lan:5000', join(dir, 'registry.lan_5000_'));
  const linked = await writeHostsDir(dir, files);
  t.same(linked.conflicts, []);
  t.same(linked.current, ['registry.lan:5000'], 'the link names the same directory: containerd reads ours through it');
  t.same((await writeHostsDir(dir, files)).removed, [], 'and the link is an alias, never removed through');
});

t.test('one host that cannot be written or looked at (a file in its place, a hosts.toml that is a directory) stops no other', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-odd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await writeHostsDir(dir, [{ host: 'old.io', text: ours('https://old.io') }]);
  writeFileSync(join(dir, 'quay.io'), 'a file where the host directory goes');
  symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling.io'));
  mkdirSync(join(dir, 'odd.io', 'hosts.toml'), { recursive: true });
  const hosts = ['a.io', 'dangling.io', 'quay.io', 'z.io'];
  const outcome = await writeHostsDir(
    dir,
    hosts.map((host) => ({ host, text: ours(`https://${host}`) })),
  );
  t.same(outcome.current, ['a.io', 'z.io'], 'the hosts before and after the odd ones are written');
  t.same(outcome.removed, ['old.io'], 'and the clean-up runs');
  t.match(outcome.conflicts.map(formatDiagnostic), [/dangling\.io\/hosts\.toml: cannot write: /, /quay\.io\/hosts\.toml: cannot write: .*EEXIST.*mkdir/]);
  t.equal(outcome.conflicts.length, 2, 'a directory not ours whose hosts.toml cannot be read is no conflict: it is not known to be ours');
  t.equal(readFileSync(join(dir, 'quay.io'), 'utf8'), 'a file where the host directory goes', 'left as it is');
});

t.test('a FIFO where a hosts.toml goes is refused by its type, never read (a read would wait for a writer)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-fifo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'quay.io'));
  t.equal(spawnSync('mkfifo', [join(dir, 'quay.io', 'hosts.toml')]).status, 0, 'mkfifo');
  mkdirSync(join(dir, 'old.io'));
  t.equal(spawnSync('mkfifo', [join(dir, 'old.io', 'hosts.toml')]).status, 0, 'mkfifo');
  const outcome = await writeHostsDir(dir, [
    { host: 'a.io', text: ours('https://a.io') },
    { host: 'quay.io', text: ours('https://quay.io') },
  ]);
  t.same(outcome.current, ['a.io']);
  t.match(outcome.conflicts.map(formatDiagnostic), [/quay\.io\/hosts\.toml: cannot write: .*not a regular file/]);
  t.ok(lstatSync(join(dir, 'quay.io', 'hosts.toml')).isFIFO(), 'left as it is');
  t.ok(lstatSync(join(dir, 'old.io', 'hosts.toml')).isFIFO(), 'one in a dropped host: not known to be ours, left');
});

t.test('a host directory an earlier version left holding only kept copies (hosts.toml.edited-*) is cleared: _default applies again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-legacy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'quay.io'));
  writeFileSync(join(dir, 'quay.io', 'hosts.toml.edited-2026-01-01T00-00-00-000Z'), 'an old hand edit\n');
  mkdirSync(join(dir, 'ghcr.io'));
  writeFileSync(join(dir, 'ghcr.io', 'hosts.toml.edited-2026-01-01T00-00-00-000Z'), 'another\n');
  writeFileSync(join(dir, 'ghcr.io', 'ca.crt'), 'a CA the operator put there');
  mkdirSync(join(dir, 'empty.io'));
  const outcome = await writeHostsDir(dir, []);
  t.same(outcome.removed, [], 'no hosts.toml was removed');
  t.notOk(existsSync(join(dir, 'quay.io')), 'the directory is gone');
  t.equal(readFileSync(join(dir, EDITED_DIR, 'quay.io', 'hosts.toml.edited-2026-01-01T00-00-00-000Z'), 'utf8'), 'an old hand edit\n', 'its copy kept');
  t.ok(existsSync(join(dir, 'ghcr.io', 'ca.crt')), 'a directory with a certificate stays');
  t.ok(existsSync(join(dir, EDITED_DIR, 'ghcr.io', 'hosts.toml.edited-2026-01-01T00-00-00-000Z')), 'its kept copy moved with the others');
  t.ok(existsSync(join(dir, 'empty.io')), 'an empty directory someone made is not ours to remove');
  t.same((await writeHostsDir(dir, [])).conflicts, [], 'the kept copies directory is no host directory to look at');
});

/** A hosts dir with ours written for quay.io, and a hand edit of it (a line appended) followed by a render at `at`. */
async function quayEditedByHand(t: Test): Promise<{ dir: string; editThenRender(edit: string, at: Date): Promise<HostsDirOutcome> }> {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-kept-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = [{ host: 'quay.io', text: ours('https://quay.io') }];
  const file = join(dir, 'quay.io', 'hosts.toml');
  await writeHostsDir(dir, files);
  return {
    dir,
    editThenRender: (edit, at) => {
      writeFileSync(file, `${readFileSync(file, 'utf8')}${edit}`);
      return writeHostsDir(dir, files, at);
    },
  };
}

t.test('two hand edits kept in the same millisecond: two copies, neither overwritten', async (t) => {
  const quay = await quayEditedByHand(t);
  const at = new Date('2026-12-06T12:00:00.000Z');
  const saved: string[] = [];
  for (const edit of ['# first edit\n', '# second edit\n']) saved.push((await quay.editThenRender(edit, at)).edited[0]?.savedAs ?? '');
  t.not(saved[0], saved[1], 'each copy has its own name');
  t.match(readFileSync(saved[0] as string, 'utf8'), /# first edit\n$/, 'the first edit is still there');
  t.match(readFileSync(saved[1] as string, 'utf8'), /# second edit\n$/);
  t.ok((saved[0] as string) < (saved[1] as string), 'and they sort oldest first');
});

t.test('kept copies of a host are bounded: the newest 20, the one just made always among them', async (t) => {
  const quay = await quayEditedByHand(t);
  const keptDir = join(quay.dir, EDITED_DIR, 'quay.io');
  let last = '';
  for (let i = 0; i < 25; i++) {
    const outcome = await quay.editThenRender(`# hand edit ${i}\n`, new Date(Date.UTC(2026, 11, 4, 6, 0, i)));
    last = outcome.edited[0]?.savedAs ?? '';
  }
  t.equal(readdirSync(keptDir).length, 20, 'the newest 20');
  t.ok(readdirSync(keptDir).includes('hosts.toml.edited-2026-12-04T06-00-24-000Z'), 'the newest kept');
  t.notOk(readdirSync(keptDir).includes('hosts.toml.edited-2026-12-04T06-00-04-000Z'), 'the oldest gone');
  const back = await quay.editThenRender('# with the clock set back\n', new Date(Date.UTC(2026, 0, 1)));
  t.ok(existsSync(back.edited[0]?.savedAs ?? ''), 'the copy just made is never the one removed');
  t.not(last, '');
});

t.test("an operator's _default/hosts.toml: a warning names the hosts our files take out of it", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-default-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const conf: RegistriesConf = {
    registries: [{ location: 'quay.io', origin: { file: '10-policy.toml', line: 1 }, mirrors: [{ location: 'mirror.lan:5000/quay' }] }],
  };
  // containerd's config, not the host's: one that reads `dir` (cri-config.test.ts has the others).
  const containerdConfig = join(dir, '..', `${basename(dir)}-containerd.toml`);
  writeFileSync(containerdConfig, `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "${dir}"\n`);
  t.teardown(() => rmSync(containerdConfig, { force: true }));
  const options = { certDirs: [], containerdConfig };
  t.same((await updateHostsDir(dir, conf, options)).warnings, [], 'no _default/hosts.toml: nothing to say');
  mkdirSync(join(dir, '_default'));
  writeFileSync(join(dir, '_default', 'hosts.toml'), '[host."https://global-mirror.example"]\n');
  const outcome = await updateHostsDir(dir, conf, options);
  t.match(outcome.warnings.map(formatDiagnostic), [/_default\/hosts\.toml: warning: containerd no longer reads it for quay\.io/]);
  t.same((await updateHostsDir(dir, { registries: [] }, options)).warnings, [], 'no host of ours: nothing to say');
});

t.test('modes do not depend on the umask: directories we make 0755, hosts.toml 0644, as containerd and resolve --runtime read them', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mpd-hosts-mode-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'etc', 'containerd', 'certs.d');
  const old = process.umask(0o077);
  try {
    await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }]);
    const file = join(dir, 'quay.io', 'hosts.toml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}# a hand edit\n`);
    await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }]);
  } finally {
    process.umask(old);
  }
  const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);
  for (const d of [join(root, 'etc'), join(root, 'etc', 'containerd'), dir, join(dir, 'quay.io'), join(dir, EDITED_DIR), join(dir, EDITED_DIR, 'quay.io')])
    t.equal(mode(d), '755', d);
  t.equal(mode(join(dir, 'quay.io', 'hosts.toml')), '644');
});

t.test("a hosts.toml that is a symbolic link is the operator's: left as it is and reported, never replaced by a regular file", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-filelink-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const hosts = join(dir, 'certs.d');
  const elsewhere = join(dir, 'config');
  mkdirSync(elsewhere);
  // One bearing our header (a copy of ours the operator links from their configuration), one dangling, one of theirs.
  const copied = stampedText(ours('https://quay.io'));
  writeFileSync(join(elsewhere, 'quay.toml'), copied);
  writeFileSync(join(elsewhere, 'ghcr.toml'), 'server = "https://ghcr.io"\n');
  const links = { 'quay.io': join(elsewhere, 'quay.toml'), 'dangling.io': join(elsewhere, 'not-yet.toml'), 'ghcr.io': join(elsewhere, 'ghcr.toml') };
  for (const [host, target] of Object.entries(links)) {
    mkdirSync(join(hosts, host), { recursive: true });
    symlinkSync(target, join(hosts, host, 'hosts.toml'));
  }
  const outcome = await writeHostsDir(hosts, [
    { host: 'a.io', text: ours('https://a.io') },
    ...Object.keys(links).map((host) => ({ host, text: ours(`https://other.example/${host}`) })),
  ]);
  t.same(outcome.current, ['a.io'], 'the others are written');
  t.same(outcome.written, ['a.io']);
  const said = outcome.conflicts.map(formatDiagnostic);
  t.equal(said.length, 3, 'each link is a conflict');
  for (const [host, target] of Object.entries(links)) {
    t.ok(lstatSync(join(hosts, host, 'hosts.toml')).isSymbolicLink(), `${host}: the link stays`);
    t.ok(
      said.some((s) => s.includes(`${host}/hosts.toml`) && s.includes(`a symbolic link to ${target}`)),
      `${host}: the conflict names the link's target`,
    );
  }
  t.equal(readFileSync(join(elsewhere, 'quay.toml'), 'utf8'), copied, 'its target is not written through');
  t.notOk(existsSync(join(elsewhere, 'not-yet.toml')), 'nor is a dangling one created');
});

t.test('a hosts.toml link in a host directory the policy does not cover (`_default/hosts.toml` -> ours) is left, never removed through', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-filealias-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files = [{ host: 'docker.io', text: ours('https://registry-1.docker.io') }];
  await writeHostsDir(dir, files);
  mkdirSync(join(dir, '_default'));
  symlinkSync('../docker.io/hosts.toml', join(dir, '_default', 'hosts.toml')); // every other registry through docker.io's mirrors
  const again = await writeHostsDir(dir, files);
  t.same(again.removed, [], 'nothing removed through the link');
  t.same(again.conflicts, []);
  t.ok(lstatSync(join(dir, '_default', 'hosts.toml')).isSymbolicLink(), 'the link stays, and with it _default/');
  t.equal(readFileSync(join(dir, '_default', 'hosts.toml'), 'utf8'), stampedText(files[0]?.text ?? ''), 'containerd reads ours through it');
  const dropped = await writeHostsDir(dir, []);
  t.same(dropped.removed, ['docker.io'], 'dropped: ours removed under its own name');
  t.ok(lstatSync(join(dir, '_default', 'hosts.toml')).isSymbolicLink(), 'the link is still the operator’s to remove');
});

t.test('a temp file a killed write left in a dropped host directory goes with it (a directory left would hide _default)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-staletmp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }]);
  mkdirSync(join(dir, 'ghcr.io'));
  // pid 2^22+1 is above any pid_max: no process runs with it.
  const stale = '.hosts.toml.4194305.0123abcd.tmp';
  writeFileSync(join(dir, 'quay.io', stale), 'half of a hosts.toml');
  writeFileSync(join(dir, 'ghcr.io', stale), 'half of a hosts.toml');
  const dropped = await writeHostsDir(dir, []);
  t.same(dropped.removed, ['quay.io']);
  t.notOk(existsSync(join(dir, 'quay.io')), 'the directory is gone');
  t.notOk(existsSync(join(dir, 'ghcr.io')), 'one holding only a temp file of ours too (the killed write was its first)');
});

t.test('a temp file a killed write left beside a hosts.toml still covered goes at the next render; a live writer’s and another file’s stay', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-staletmp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }]);
  const stale = '.hosts.toml.4194305.0123abcd.tmp'; // pid 2^22+1 is above any pid_max: no process runs with it
  const live = `.hosts.toml.${process.ppid}.0123abcd.tmp`; // a writer still running (tap's runner)
  const other = '.ca.crt.4194305.0123abcd.tmp'; // not a temp of our hosts.toml
  for (const name of [stale, live, other]) writeFileSync(join(dir, 'quay.io', name), 'half a file');
  const same = await writeHostsDir(dir, [{ host: 'quay.io', text: ours('https://quay.io') }]);
  t.same(same.written, [], 'nothing to write: the policy is unchanged');
  t.same(readdirSync(join(dir, 'quay.io')).sort(), [other, live, 'hosts.toml'].sort(), 'the dead writer’s temp is gone, even with nothing written');
});

t.test(
  'a first write that fails (a full disk) leaves no empty host directory behind (containerd would take it and skip _default)',
  { skip: process.getuid?.() !== 0 && 'needs root: unshare -m and mount a small tmpfs' },
  async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'mpd-hosts-full-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const policy = join(work, 'policy.d');
    const hostsDir = join(work, 'certs.d');
    mkdirSync(policy);
    mkdirSync(hostsDir);
    writeFileSync(join(policy, '10-quay.toml'), '[[mirror-set]]\nsource = "quay.io"\nmirrors = ["mirror.lan:5000"]\n');
    // A real ENOSPC: a tmpfs of two inodes (its root and the host directory) over the hosts dir, in a mount namespace of its own.
    const mountFull = 'mount -t tmpfs -o nr_inodes=2,mode=0755 mpd-test-hosts "$0" && "$@"; echo "left: $(ls -A "$0")"';
    const render = [process.execPath, BIN, 'render', '--policy-dir', policy, '--base', '/dev/null', '--output', join(work, 'registries.conf')];
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', mountFull, hostsDir, ...render, '--containerd-hosts-dir', hostsDir], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    t.match(r.stderr, /quay\.io\/hosts\.toml: .*cannot write: .*ENOSPC/, 'the write failed for want of space, and said so');
    t.match(r.stdout, /^left: $/m, 'and the host directory it made is gone again');
  },
);

t.test(
  'ours that cannot be removed (its directory immutable) is a conflict, not taken for not ours: its mirrors would stay in use',
  { skip: immutableSupported() ? false : 'chattr +i does not work here' },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mpd-hosts-stuck-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    await writeHostsDir(dir, [
      { host: 'old.io', text: ours('https://old.io') },
      { host: 'gone.io', text: ours('https://gone.io') },
    ]);
    const outcome = await whileImmutable(join(dir, 'old.io'), () => writeHostsDir(dir, []));
    t.same(outcome.removed, ['gone.io'], 'the others are still removed');
    t.match(outcome.conflicts.map(formatDiagnostic), [/old\.io\/hosts\.toml: cannot remove: .*(EPERM|not permitted)/]);
    t.ok(existsSync(join(dir, 'old.io', 'hosts.toml')), 'it is still there');
    const later = await writeHostsDir(dir, []);
    t.same([later.removed, later.conflicts], [['old.io'], []], 'removed at the next try once it can be');
  },
);

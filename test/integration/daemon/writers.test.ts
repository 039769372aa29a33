/**
 * The policy directory as the tools operators use write it, against the real daemon, trust
 * checks on (no --allow-unsafe-fragments: the test runs as root, so its files are root's):
 * a Kubernetes ConfigMap/Secret volume (kubelet's AtomicWriter, reproduced here call by call).
 * The rescan is an hour away: what is seen is seen through the watcher.
 */
import t from 'tap';
import { performance } from 'node:perf_hooks';
import {
  chmodSync,
  chownSync,
  closeSync,
  fchmodSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { EMPTY_SETTLE_MS } from '../../../src/daemon/render-scheduler.js';
import {
  fragment,
  recordingConfig,
  runArgs,
  sleep,
  snapshots,
  startDaemon,
  workspace,
  type DaemonProcess,
  type Teardown,
  type Workspace,
} from '../../helpers/daemon.js';

/** The standard flags, trust checks on, the rescan out of the way. */
function strictArgs(ws: Workspace): string[] {
  return [...runArgs(ws).filter((a) => a !== '--allow-unsafe-fragments'), '--rescan-interval-ms', '3600000'];
}

function startStrict(t: Teardown, ws: Workspace, config?: string): Promise<DaemonProcess> {
  const argv = strictArgs(ws);
  if (config !== undefined) argv.splice(argv.indexOf('--config') + 1, 1, config);
  return startDaemon(t, ws, { argv });
}

/** `n` mirror sets, each `quay.io/nsI` mirrored at `m-TAG.example/nsI`: a policy whose every line counts. */
function manySets(n: number, tag: string): string {
  return Array.from({ length: n }, (_, i) => fragment(`quay.io/ns${i}`, [`m-${tag}.example/ns${i}`])).join('');
}

/**
 * kubelet's AtomicWriter.Write (pkg/volume/util/atomic_writer.go, 1.24 and later), in its
 * order: a new `..<UTC time>.<random>` directory (MkdirTemp, chmod 0755) holding the payload
 * (files 0644, defaultMode), a `..data_tmp` link to it renamed over `..data`, then a
 * `KEY -> ..data/KEY` link for each key not linked yet, the links of keys gone removed, and the
 * previous timestamped directory removed.
 */
function atomicWrite(dir: string, payload: Readonly<Record<string, string>>, owner?: number): void {
  const ts = mkdtempSync(join(dir, '..2026_12_06_05_00_00.'));
  chmodSync(ts, 0o755);
  for (const [key, text] of Object.entries(payload)) {
    writeFileSync(join(ts, key), text, { mode: 0o644 });
    chmodSync(join(ts, key), 0o644);
    if (owner !== undefined) chownSync(join(ts, key), owner, owner);
  }
  let old: string | undefined;
  try {
    old = readlinkSync(join(dir, '..data'));
  } catch {
    old = undefined;
  }
  symlinkSync(basename(ts), join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  const visible = readdirSync(dir).filter((n) => !n.startsWith('..'));
  for (const key of Object.keys(payload)) if (!visible.includes(key)) symlinkSync(join('..data', key), join(dir, key));
  for (const name of visible) if (!(name in payload)) rmSync(join(dir, name));
  if (old !== undefined) rmSync(join(dir, old), { recursive: true });
}

t.test('a Kubernetes ConfigMap volume (kubelet AtomicWriter): the new content renders without a rescan', async (t) => {
  const ws = workspace(t);
  atomicWrite(ws.policy, { '10-a.toml': fragment('quay.io/a', ['mirror-a1.example/a']) });
  const d = await startStrict(t, ws);
  const first = await d.waitForOutput((o) => o.includes('mirror-a1.example/a'), 'the first render, through ..data');
  t.match(first, /# fragments: 10-a\.toml\n/, 'the dot-named entries are no fragments');
  t.equal((await d.status()).state, 'healthy', 'links into a root-owned dot directory inside the policy directory are trusted');

  // An update: only ..data changes (a dot name); the fragment's own link stays as it is.
  atomicWrite(ws.policy, { '10-a.toml': fragment('quay.io/a', ['mirror-a2.example/a']) });
  const out = await d.waitForOutput((o) => o.includes('mirror-a2.example/a'), 'the update, seen by the watcher');
  t.notMatch(out, /mirror-a1\.example/, 'the old content is gone');

  // A projected volume: one key removed, one added.
  atomicWrite(ws.policy, { '20-b.toml': fragment('quay.io/b', ['mirror-b.example/b']) });
  const swapped = await d.waitForOutput((o) => o.includes('mirror-b.example/b') && !o.includes('mirror-a2.example'), 'a key removed, another added');
  t.match(swapped, /# fragments: 20-b\.toml\n/);
  const s = await d.waitForStatus((x) => x.state === 'healthy', 'healthy after the updates');
  t.same(
    s.fragments.map((f) => [f.file, f.state]),
    [['20-b.toml', 'valid']],
  );
  t.equal(await d.stop(), 0);
});

t.test('a Kubernetes volume whose data an unprivileged user owns is refused', async (t) => {
  const ws = workspace(t);
  atomicWrite(ws.policy, { '10-a.toml': fragment('quay.io/a', ['mirror-a1.example/a']) }, 65534);
  const d = await startStrict(t, ws);
  const s = await d.waitForStatus((x) => x.fragments.some((f) => f.file === '10-a.toml' && f.state !== 'valid'), 'the fragment refused');
  t.equal(s.state, 'degraded');
  t.match(d.log(), /10-a\.toml: refusing fragment: owned by uid 65534/);
  t.equal(await d.stop(), 0);
});

t.test('a fragment rewritten in place by a writer that pauses between its writes: its first half is never rendered', async (t) => {
  // The pause must stay within EMPTY_SETTLE_MS for the case to be made (past it, the daemon takes
  // what it reads, by design): a machine that stalled the test longer sets that attempt aside.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const ws = workspace(t);
    const file = join(ws.policy, '10-a.toml');
    writeFileSync(file, manySets(40, 'a'), { mode: 0o644 });
    const { config, seen } = recordingConfig(ws);
    const d = await startStrict(t, ws, config);
    await d.waitForOutput((o) => o.includes('m-a.example/ns39'), 'the first render');

    // As `ssh host cat x.toml > x.toml` or a download does: truncate, a first part (ending at a
    // line: valid TOML on its own, 20 sets of 40), a pause, the rest.
    const next = manySets(40, 'b');
    const cut = next.indexOf('[[mirror-set]]\nsource = "quay.io/ns20"');
    const fd = openSync(file, 'w');
    const began = performance.now();
    writeSync(fd, next.slice(0, cut));
    await sleep(60);
    fchmodSync(fd, 0o644); // one more event while it is half written: the first part read a second time
    await sleep(60);
    writeSync(fd, next.slice(cut));
    const gap = performance.now() - began;
    closeSync(fd);
    await d.waitForOutput((o) => o.includes('m-b.example/ns39'), 'the whole new content');
    if (gap >= EMPTY_SETTLE_MS) {
      t.comment(`attempt ${attempt}: the pause lasted ${Math.round(gap)} ms, past the settle time; again`);
      t.equal(await d.stop(), 0);
      continue;
    }
    await sleep(EMPTY_SETTLE_MS * 2);
    const renders = snapshots(seen);
    const halves = renders.filter((r) => !r.includes('m-a.example/ns39') && !r.includes('m-b.example/ns39'));
    t.same(halves, [], `every render has all 40 sets, never the first half alone (pause ${Math.round(gap)} ms)${halves.length > 0 ? d.log() : ''}`);
    t.notOk(/ERROR/.test(d.log()), 'no error logged');
    t.equal(await d.stop(), 0);
    return;
  }
  t.fail('every attempt stalled past the settle time');
});

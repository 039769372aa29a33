/**
 * readPolicyDirNames (the daemon's read of only the names the watcher reported, issue #15): over
 * random sequences of changes to a policy directory, a read of the names each change touched,
 * starting from the read before, finds exactly what a whole read from nothing finds: the same
 * fragments and texts, refusals, ignored files and identity (which the daemon's rescan compares).
 */
import t from 'tap';
import fc from 'fast-check';
import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPolicyDir, readPolicyDirNames, type FragmentReadCache, type PolicyDirContents } from '../../../src/fragments/policy-dir.js';
import { SweepCache } from '../../../src/core/sweep-cache.js';
import { formatDiagnostic } from '../../../src/core/diagnostic.js';

const NAMES = ['10-a.toml', '20-b.yaml', '30-c.toml', '40-d.yml', 'README'] as const;
const TEXTS = ['[[mirror-set]]\nsource = "docker.io"\nmirrors = ["a.example/hub"]\n', 'x = 1\n', '', 'y', '\xff invalid UTF-8 follows: \udcff'];

type Op =
  | { kind: 'write'; name: number; text: number }
  | { kind: 'remove'; name: number }
  | { kind: 'rename'; from: number; to: number }
  | { kind: 'symlink'; name: number; to: number }
  | { kind: 'hardlink'; name: number; to: number }
  | { kind: 'mkdir'; name: number }
  | { kind: 'chmod'; name: number; unsafe: boolean }
  | { kind: 'leftover' };

const name = fc.integer({ min: 0, max: NAMES.length - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), name, text: fc.integer({ min: 0, max: TEXTS.length - 1 }) }),
  fc.record({ kind: fc.constant('remove' as const), name }),
  fc.record({ kind: fc.constant('rename' as const), from: name, to: name }),
  fc.record({ kind: fc.constant('symlink' as const), name, to: name }),
  fc.record({ kind: fc.constant('hardlink' as const), name, to: name }),
  fc.record({ kind: fc.constant('mkdir' as const), name }),
  fc.record({ kind: fc.constant('chmod' as const), name, unsafe: fc.boolean() }),
  fc.constant({ kind: 'leftover' as const }),
);

/** Applies `op` to `d` (a step may fail half done, e.g. a link to a name just removed); returns the names it touched, as fs.watch reports them. */
function apply(d: string, op: Op): string[] {
  const touched = 'from' in op ? [op.from, op.to] : 'name' in op ? [op.name] : [];
  const names = op.kind === 'leftover' ? ['.10-a.toml.swp'] : touched.map((i) => NAMES[i] as string);
  // A write or chmod through a link acts on its target, which inotify names (the links here point within the directory).
  if (op.kind === 'write' || op.kind === 'chmod') {
    for (let n = names[0] as string, hops = 0; hops < 8 && lstatSync(join(d, n), { throwIfNoEntry: false })?.isSymbolicLink(); hops++) {
      n = readlinkSync(join(d, n));
      names.push(n);
    }
  }
  step(d, op);
  return names;
}

function step(d: string, op: Op): void {
  const at = (i: number): string => join(d, NAMES[i] as string);
  const clear = (i: number): void => rmSync(at(i), { recursive: true, force: true });
  try {
    switch (op.kind) {
      case 'write': {
        if (!TEXTS[op.text]?.includes('\udcff')) writeFileSync(at(op.name), TEXTS[op.text] as string);
        else writeFileSync(at(op.name), Buffer.from([0xff, 0xfe, 0x41]));
        chmodSync(at(op.name), 0o644);
        return;
      }
      case 'remove':
        clear(op.name);
        return;
      case 'rename':
        renameSync(at(op.from), at(op.to));
        return;
      case 'symlink':
        clear(op.name);
        symlinkSync(NAMES[op.to] as string, at(op.name));
        return;
      case 'hardlink':
        clear(op.name);
        linkSync(at(op.to), at(op.name)); // the other name's link count moves too, with no event for that name
        return;
      case 'mkdir':
        clear(op.name);
        mkdirSync(at(op.name));
        return;
      case 'chmod':
        chmodSync(at(op.name), op.unsafe ? 0o666 : 0o644);
        return;
      case 'leftover':
        writeFileSync(join(d, '.10-a.toml.swp'), 'x');
        return;
    }
  } catch {
    // e.g. renaming a name that is not there: nothing happened
  }
}

function show(c: PolicyDirContents): string {
  return JSON.stringify({
    // Files and texts: `settling` says how a text compares with the cache's (the whole read here has none).
    fragments: c.fragments.map((f) => ({ file: f.file, text: f.text })),
    ignored: c.ignored,
    diagnostics: c.diagnostics.map(formatDiagnostic),
    exists: c.exists,
    identity: c.identity,
  });
}

t.test('property: reading only the names a change touched finds what a whole read finds', async (t) => {
  let compared = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 10 }), async (ops) => {
      const d = mkdtempSync(join(tmpdir(), 'mpd-names-'));
      chmodSync(d, 0o755);
      try {
        writeFileSync(join(d, '10-a.toml'), TEXTS[0] as string);
        const cache: FragmentReadCache = new SweepCache();
        let last = await readPolicyDir(d, { cache });
        for (const op of ops) {
          const touched = apply(d, op);
          const partial = await readPolicyDirNames(d, touched, last, { cache });
          const whole = await readPolicyDir(d);
          if (show(partial) !== show(whole)) throw new Error(`after ${JSON.stringify(op)}:\n${show(partial)}\n---\n${show(whole)}`);
          compared++;
          last = partial;
        }
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    }),
    { numRuns: 80, seed: 20261204 },
  );
  t.ok(compared >= 80, `${compared} reads compared`);
});

t.test('a read of names falls back to a whole read when the one before was not whole and clean', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'mpd-names-'));
  chmodSync(d, 0o755);
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  writeFileSync(join(d, '10-a.toml'), 'a');
  const missing = await readPolicyDir(join(d, 'nope'));
  t.equal(missing.state, undefined, 'a missing directory leaves nothing to start from');
  const first = await readPolicyDir(d);
  t.ok(first.state, 'a clean whole read does');
  // Unreported: a read of names does not see it (the daemon's rescan and events without a name read the whole directory).
  writeFileSync(join(d, '20-b.toml'), 'b');
  t.same(
    (await readPolicyDirNames(d, [], first)).fragments.map((f) => f.file),
    ['10-a.toml'],
    'a name not reported is not looked at',
  );
  t.same(
    (await readPolicyDirNames(d, ['20-b.toml'], first)).fragments.map((f) => f.file),
    ['10-a.toml', '20-b.toml'],
    'a reported one is',
  );
  chmodSync(d, 0o777);
  const unsafe = await readPolicyDirNames(d, [], first);
  t.ok(unsafe.dirProblem, 'a directory made writable by others: the whole read, which refuses it, whatever was reported');
  chmodSync(d, 0o755);
  t.same(
    (await readPolicyDirNames(d, ['20-b.toml'], first, { maxFragments: 1 })).diagnostics.map((x) => x.file),
    ['20-b.toml'],
    'another cap: the whole read, which refuses past it in byte order',
  );
});

/**
 * The identity of a render's inputs (src/daemon/inputs-fingerprint.ts) on real files: equal
 * while nothing changes; different after a write, a chmod, a new or removed fragment, a
 * rename-over, a change of the base or a registries.conf.d drop-in; the output's identity apart.
 */
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileIdentity, inputsFingerprint } from '../../src/daemon/inputs-fingerprint.js';

t.test('equal while nothing changes, different after each kind of change', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-fingerprint-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const policyDir = join(dir, 'policy.d');
  const output = join(dir, 'out', 'registries.conf');
  const base = join(dir, 'base.conf');
  mkdirSync(policyDir);
  mkdirSync(join(dir, 'out', 'registries.conf.d'), { recursive: true });
  writeFileSync(join(policyDir, '10-a.toml'), 'a');
  writeFileSync(output, 'out');
  writeFileSync(base, 'base');
  const targets = { policyDir, output, base };
  let last = inputsFingerprint(targets);
  t.equal(inputsFingerprint(targets), last, 'nothing changed: equal');

  const changes: Array<[string, () => void]> = [
    ['a fragment rewritten, same size', () => writeFileSync(join(policyDir, '10-a.toml'), 'b')],
    ['a fragment chmod-ed', () => chmodSync(join(policyDir, '10-a.toml'), 0o666)],
    ['a new fragment', () => writeFileSync(join(policyDir, '20-b.toml'), 'b')],
    [
      'a fragment renamed over',
      () => {
        writeFileSync(join(policyDir, '.tmp'), 'c');
        renameSync(join(policyDir, '.tmp'), join(policyDir, '20-b.toml'));
      },
    ],
    ['a fragment removed', () => rmSync(join(policyDir, '20-b.toml'))],
    ['the base changed', () => writeFileSync(base, 'new base')],
    ['a drop-in added', () => writeFileSync(join(dir, 'out', 'registries.conf.d', '50-x.conf'), '')],
    ['the policy dir removed', () => rmSync(policyDir, { recursive: true })],
  ];
  const outputBefore = fileIdentity(output);
  t.equal(fileIdentity(output), outputBefore, 'the output: equal while unchanged');
  await new Promise((r) => setTimeout(r, 20));
  writeFileSync(output, 'edited by hand');
  t.not(fileIdentity(output), outputBefore, 'the output edited: its identity differs');
  t.equal(fileIdentity(join(dir, 'nothing-here')), '-', 'a missing file');
  for (const [what, change] of changes) {
    // File times come from the kernel's coarse clock (a tick, 1-4 ms): a change in the same tick as the last look could keep them.
    await new Promise((r) => setTimeout(r, 20));
    change();
    const now = inputsFingerprint(targets);
    t.not(now, last, what);
    t.equal(inputsFingerprint(targets), now, `${what}: then stable`);
    last = now;
  }
});

t.test("with the local mirror on, registries.d's files count, but our drop-in there and the directory's own times do not", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-fingerprint-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const output = join(dir, 'registries.conf');
  const registriesD = join(dir, 'registries.d');
  mkdirSync(registriesD);
  const targets = { output, registriesD: { ours: 'ours.yaml' } };
  let last = inputsFingerprint(targets);
  const tick = (): Promise<unknown> => new Promise((r) => setTimeout(r, 20));
  await tick();
  writeFileSync(join(registriesD, 'ours.yaml'), 'ours');
  t.equal(inputsFingerprint(targets), last, 'our own drop-in written: equal (the rescan need not render for it)');
  const plain = inputsFingerprint({ output });
  await tick();
  writeFileSync(join(registriesD, 'theirs.yaml'), 'docker: {}\n');
  t.not(inputsFingerprint(targets), last, "the operator's file added");
  t.equal(inputsFingerprint({ output }), plain, 'without the local mirror registries.d is not looked at');
  last = inputsFingerprint(targets);
  await tick();
  writeFileSync(join(registriesD, 'theirs.yaml'), 'docker: []\n');
  t.not(inputsFingerprint(targets), last, 'and changed');
  last = inputsFingerprint(targets);
  await tick();
  rmSync(join(registriesD, 'theirs.yaml'));
  t.not(inputsFingerprint(targets), last, 'and removed');
});

/**
 * A storm: 1 000 fragment writes within about one second (250 fragments, each written four
 * times, most by atomic rename, some in place, a few deleted at the end), with the daemon's
 * default debounce. The daemon must coalesce them into a few renders (counted by `status`),
 * and its final output must be byte for byte the strict render of the final set.
 */
import t from 'tap';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { fragment, replaceFile, sleep, startDaemon, workspace } from '../../helpers/daemon.js';

const FILES = 250;
const VERSIONS = 4;
const WRITES = FILES * VERSIONS;
const BATCHES = 20; // one batch every 50 ms: the writes are spread over about one second
const DEBOUNCE_MS = 100;

t.test(`${WRITES} fragment writes in about one second: a few renders, the final file is the render of the final set`, async (t) => {
  const ws = workspace(t);
  const base = join(ws.dir, 'base.conf'); // explicit, so the strict render below does not take the host's file as its base
  writeFileSync(base, 'unqualified-search-registries = ["registry.example"]\n');
  const d = await startDaemon(t, ws, { debounceMs: DEBOUNCE_MS, args: ['--base', base] });
  await d.waitForOutput((o) => o.includes('# fragments: (none)'), 'the first (empty) render');
  const before = (await d.status()).renders;

  const writes: Array<() => void> = [];
  for (let v = 0; v < VERSIONS; v++) {
    for (let i = 0; i < FILES; i++) {
      const n = String(i).padStart(3, '0');
      const path = join(ws.policy, `${n}-storm.toml`);
      const text = fragment(`storm.example/ns${n}`, [`m${v}-${n}.example/ns${n}`]);
      // A quarter in place (the daemon may read those half-written; it must still end right).
      writes.push(i % 4 === 3 ? () => writeFileSync(path, text) : () => replaceFile(path, text));
    }
  }
  const started = performance.now();
  const perBatch = Math.ceil(WRITES / BATCHES);
  for (let b = 0; b < BATCHES; b++) {
    for (const w of writes.slice(b * perBatch, (b + 1) * perBatch)) w();
    await sleep(Math.max(0, started + (b + 1) * (1000 / BATCHES) - performance.now()));
  }
  // The final set: the last version of every file but the last ten, which are deleted.
  for (let i = FILES - 10; i < FILES; i++) rmSync(join(ws.policy, `${String(i).padStart(3, '0')}-storm.toml`));
  const stormMs = performance.now() - started;
  t.comment(`${WRITES} writes and 10 deletes in ${Math.round(stormMs)} ms`);

  const expected = await runCli(['render', '--policy-dir', ws.policy, '--stdout', '--allow-unsafe-fragments', '--base', base]);
  t.equal(expected.code, 0, expected.stderr);
  t.match(expected.stdout, /m3-239\.example\/ns239/);
  t.notMatch(expected.stdout, /ns240/);
  await d.waitForOutput((o) => o === expected.stdout, 'the output to equal the strict render of the final set', 30_000);
  const s = await d.waitForStatus((x) => x.fragments.length === FILES - 10, `${FILES - 10} fragments in status`);
  t.equal(s.state, 'healthy');
  t.ok(
    s.fragments.every((f) => f.state === 'valid'),
    'every fragment valid: no half-written read left a trace',
  );
  // Coalescing: renders start at least a debounce window apart, so from the storm's start to this
  // status at most one per window (11 or so on a quiet machine, storm and settle looks included; a
  // busy machine stretches the storm and the looks after it, and the bound with them). Without
  // it, 1 000 writes would be hundreds of renders.
  const renders = s.renders - before;
  const windows = Math.floor((performance.now() - started) / DEBOUNCE_MS) + 1;
  t.comment(`renders for the storm: ${renders} (at most ${windows} windows of ${DEBOUNCE_MS} ms since it began)`);
  t.ok(renders >= 1 && renders <= windows, `a few renders for ${WRITES} writes: ${renders}, at most one per debounce window`);
  t.equal(await d.stop(), 0);
});

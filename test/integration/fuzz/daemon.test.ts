/**
 * The REAL daemon fed fuzz fragments (bench/fuzz.ts): 60 random TOML and YAML fragments,
 * dropped into its policy directory in batches beside one valid fragment. After every batch
 * the daemon is still running, answers `status` with every fragment listed (each invalid one
 * with an error naming its file and line), and its output is one whole render of ours that parses, validates
 * and still holds the valid fragment. FUZZ_DAEMON_CASES raises the count.
 */
import t from 'tap';
import fc from 'fast-check';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { fuzzCase } from '../../../bench/fuzz.js';
import { classifyText } from '../../../src/output/managed-file.js';
import { parseRegistriesConf } from '../../../src/registries-conf/parse.js';
import { fragment, readOrUndefined, replaceFile, startDaemon, workspace } from '../../helpers/daemon.js';

const CASES = Math.max(60, Number(process.env['FUZZ_DAEMON_CASES'] ?? 60) || 60);
const BATCH = 10;
const seed = process.env['FUZZ_SEED'] !== undefined ? Number(process.env['FUZZ_SEED']) : Date.now() % 2_147_483_647;

t.test(`the daemon stays up and keeps a valid output while fed ${CASES} fuzz fragments`, async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '00-anchor.toml'), fragment('anchor.example.com', ['mirror.anchor.example.net/a']));
  const d = await startDaemon(t, ws, { debounceMs: 20 });
  await d.waitForOutput((o) => o.includes('mirror.anchor.example.net/a'), 'the first render');
  const cases = fc.sample(fuzzCase, { numRuns: CASES, seed });
  t.comment(`seed ${seed} (FUZZ_SEED repeats it)`);
  let invalidSeen = 0;
  for (let b = 0; b * BATCH < cases.length; b++) {
    const names: string[] = [];
    cases.slice(b * BATCH, (b + 1) * BATCH).forEach((c, i) => {
      const name = `${String(b * BATCH + i + 10).padStart(3, '0')}-fuzz.${c.file.endsWith('.toml') ? 'toml' : 'yaml'}`;
      replaceFile(join(ws.policy, name), c.text);
      names.push(name);
    });
    const s = await d.waitForStatus((x) => names.every((n) => x.fragments.some((f) => f.file === n)), `batch ${b}: every fuzz fragment in status`, 20_000);
    t.notOk(d.hasExited(), `batch ${b}: the daemon is running`);
    for (const f of s.fragments.filter((x) => names.includes(x.file) && x.state !== 'valid')) {
      invalidSeen++;
      const unlocated = f.errors.filter((e) => !/^[^:]+:\d+(:\d+)?: /.test(e) || !e.includes(f.file));
      if (f.errors.length === 0 || unlocated.length > 0) t.fail(`${f.file}: an error without its file and line: ${JSON.stringify(f.errors)}`);
    }
    const out = readOrUndefined(ws.output) ?? '';
    t.equal(classifyText(out), 'ours', `batch ${b}: the output is one whole render of ours`);
    t.doesNotThrow(() => parseToml(out), `batch ${b}: the output parses with smol-toml`);
    t.same(
      parseRegistriesConf(out, 'registries.conf').diagnostics.filter((x) => x.severity === 'error'),
      [],
      `batch ${b}: the output validates`,
    );
    t.match(out, /mirror\.anchor\.example\.net\/a/, `batch ${b}: the valid fragment is still in effect`);
    for (const n of names) rmSync(join(ws.policy, n)); // next batch on a clean slate, so one conflict does not hold the rest
  }
  t.ok(invalidSeen > 0, `invalid fuzz fragments were seen and located: ${invalidSeen}`);
  await d.waitForStatus((x) => x.fragments.length === 1 && x.state === 'healthy', 'healthy again once the fuzz fragments are gone');
  t.equal(await d.stop(), 0, 'a clean stop after all of it');
});

/**
 * forCoverage (untracked.ts) with a real node child: what NODE_OPTIONS the child sees. Without
 * coverage (`--disable-coverage`, CI's Node 20 run) the child must run without tap's processinfo
 * hooks, even when `env` is a copy of process.env, which carries them; a NODE_OPTIONS the test
 * gives is kept either way. With coverage, the child stays tracked.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { forCoverage } from './untracked.js';

const COVERAGE_OFF = process.env['_TAPJS_PROCESSINFO_COVERAGE_'] === '0';
const PRINT = ['-e', 'process.stdout.write(process.env.NODE_OPTIONS ?? "")'];

function childNodeOptions(env: NodeJS.ProcessEnv): string {
  const r = spawnSync(...forCoverage(process.execPath, PRINT, env), { env, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`the child failed: ${r.stderr}`);
  return r.stdout;
}

t.test('an env copied from process.env: tap hooks the child only while coverage is collected', async (t) => {
  const seen = childNodeOptions({ ...process.env });
  if (COVERAGE_OFF) t.notMatch(seen, /processinfo/, `no processinfo --import: ${JSON.stringify(seen)}`);
  else t.match(seen, /processinfo/, 'tracked: processinfo --import');
});

t.test("a NODE_OPTIONS the test gives is the child's", async (t) => {
  const seen = childNodeOptions({ ...process.env, NODE_OPTIONS: '--max-old-space-size=64' });
  t.match(seen, /--max-old-space-size=64/);
  if (COVERAGE_OFF) t.notMatch(seen, /processinfo/, 'and nothing of tap beside it');
});

/**
 * The floor of the daemon's change latency (issue #15): a bare fs.watch script that, on any
 * event in the policy directory, re-reads and re-renders everything with the same pure
 * pipeline and writes the output as atomically as the daemon does (temp file, fsync, rename).
 * No trust checks, no last-good copies, no status, no debounce: what the least a watcher must
 * do costs. `node dist/bench/floor-watcher.js POLICY_DIR OUTPUT`; prints "ready" after its
 * first write.
 */
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, watch, writeSync } from 'node:fs';
import { join } from 'node:path';
import { buildRegistriesConf, type SourceText } from '../src/pipeline/strict.js';

const [policy, output] = process.argv.slice(2) as [string, string];

function renderAll(): void {
  const fragments: SourceText[] = [];
  for (const file of readdirSync(policy).sort()) {
    if (file.startsWith('.')) continue;
    fragments.push({ file, text: readFileSync(join(policy, file), 'utf8') });
  }
  const text = buildRegistriesConf({ fragments }).text;
  if (text === undefined) return;
  const tmp = `${output}.floor-tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  writeSync(fd, text);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, output);
}

let pending = false;
watch(policy, () => {
  if (pending) return;
  pending = true; // one render for the events of one turn
  setImmediate(() => {
    pending = false;
    renderAll();
  });
});
renderAll();
process.stdout.write('ready\n');

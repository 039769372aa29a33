import t from 'tap';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unifiedDiff } from '../../../src/cli/unified-diff.js';

/** Applies a diff with the real patch(1) and returns the patched text. */
function applyWithPatch(oldText: string, diff: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-diff-'));
  const file = join(dir, 'f');
  writeFileSync(file, oldText);
  const r = spawnSync('patch', ['--silent', '--force', '--no-backup-if-mismatch', file], { input: diff, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`patch failed: ${r.stdout}${r.stderr}\n${diff}`);
  return readFileSync(file, 'utf8');
}

t.test('equal texts: no diff', async (t) => {
  t.equal(unifiedDiff('a\nb\n', 'a\nb\n', 'x', 'y'), '');
});

t.test('one changed line with three lines of context, as diff -u writes it', async (t) => {
  const before = 'l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\n';
  const after = 'l1\nl2\nl3\nl4\nL5\nl6\nl7\nl8\n';
  t.equal(
    unifiedDiff(before, after, 'a/registries.conf', 'b/registries.conf'),
    '--- a/registries.conf\n+++ b/registries.conf\n@@ -2,7 +2,7 @@\n l2\n l3\n l4\n-l5\n+L5\n l6\n l7\n l8\n',
  );
  t.equal(unifiedDiff('', 'new\n', 'a', 'b'), '--- a\n+++ b\n@@ -0,0 +1 @@\n+new\n', 'from nothing');
  t.equal(unifiedDiff('x', 'x\n', 'a', 'b'), '--- a\n+++ b\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+x\n', 'a missing final newline counts');
});

t.test('what patch(1) makes of the diff is the new text (random line edits)', async (t) => {
  const line = fc.constantFrom('[[registry]]', 'location = "a"', 'location = "b"', '', '# c', 'insecure = true', 'x');
  const text = fc.tuple(fc.array(line, { maxLength: 30 }), fc.boolean()).map(([ls, nl]) => (ls.length === 0 ? '' : ls.join('\n') + (nl ? '\n' : '')));
  let runs = 0;
  fc.assert(
    fc.property(text, text, (a, b) => {
      runs++;
      const d = unifiedDiff(a, b, 'old', 'new');
      if (a === b) return d === '';
      return applyWithPatch(a, d) === b;
    }),
    { numRuns: 60 },
  );
  t.equal(runs, 60);
});

t.test('a changed middle too large for the table is replaced whole, still a correct patch', async (t) => {
  const a = `${Array.from({ length: 2100 }, (_, i) => `a${i}`).join('\n')}\n`;
  const b = `${Array.from({ length: 2100 }, (_, i) => (i % 2 ? `a${i}` : `b${i}`)).join('\n')}\n`;
  const d = unifiedDiff(`head\n${a}tail\n`, `head\n${b}tail\n`, 'old', 'new');
  t.equal(applyWithPatch(`head\n${a}tail\n`, d), `head\n${b}tail\n`);
});

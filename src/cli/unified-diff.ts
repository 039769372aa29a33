/**
 * A unified diff (as `diff -u` writes it, which `patch` applies) between two texts, for
 * `render --diff`. Pure. A line LCS after trimming the common head and tail: the files
 * here are small, and where the changed middle is too large for the quadratic table it is
 * shown as removed and added whole (still a correct patch, only not the shortest).
 * (jsdiff is in node_modules only as a test tool's dependency; it would not ship.)
 */

type Op = { readonly kind: ' ' | '-' | '+'; readonly text: string };

/** The changed middle's LCS table holds at most this many cells (16 MB of Uint32). */
const MAX_TABLE_CELLS = 4_000_000;
const CONTEXT = 3;
const NO_NEWLINE = '\\ No newline at end of file';

interface Lines {
  readonly lines: string[];
  /** The text ends without a newline: its last line is marked as `diff -u` marks it. */
  readonly unterminated: boolean;
}

function splitLines(text: string): Lines {
  if (text === '') return { lines: [], unterminated: false };
  const lines = text.split('\n');
  const unterminated = lines.at(-1) !== '';
  if (!unterminated) lines.pop();
  return { lines, unterminated };
}

/** The edit script turning `a` into `b`, in order: kept, removed and added lines. */
function editScript(a: readonly string[], b: readonly string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const kept = (lines: readonly string[]): Op[] => lines.map((text) => ({ kind: ' ', text }));
  return [...kept(a.slice(0, head)), ...middleScript(midA, midB), ...kept(a.slice(a.length - tail))];
}

function middleScript(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  if ((n + 1) * (m + 1) > MAX_TABLE_CELLS) {
    return [...a.map((text): Op => ({ kind: '-', text })), ...b.map((text): Op => ({ kind: '+', text }))];
  }
  // lcs[i * (m + 1) + j]: length of the LCS of a[i..] and b[j..].
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = a[i] === b[j] ? (lcs[(i + 1) * w + j + 1] as number) + 1 : Math.max(lcs[(i + 1) * w + j] as number, lcs[i * w + j + 1] as number);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ kind: ' ', text: a[i++] as string });
      j++;
    } else if (j < m && (i === n || (lcs[i * w + j + 1] as number) >= (lcs[(i + 1) * w + j] as number))) {
      ops.push({ kind: '+', text: b[j++] as string });
    } else {
      ops.push({ kind: '-', text: a[i++] as string });
    }
  }
  // diff -u lists a change's removed lines before its added ones.
  return removalsFirst(ops);
}

function removalsFirst(ops: readonly Op[]): Op[] {
  const out: Op[] = [];
  for (let k = 0; k < ops.length;) {
    if ((ops[k] as Op).kind === ' ') {
      out.push(ops[k++] as Op);
      continue;
    }
    const run: Op[] = [];
    while (k < ops.length && (ops[k] as Op).kind !== ' ') run.push(ops[k++] as Op);
    out.push(...run.filter((o) => o.kind === '-'), ...run.filter((o) => o.kind === '+'));
  }
  return out;
}

/** `start,count` of a hunk side, as diff -u writes it (an empty side names the line before it). */
function range(start: number, count: number): string {
  const first = count === 0 ? start : start + 1;
  return count === 1 ? `${first}` : `${first},${count}`;
}

/**
 * The unified diff from `oldText` (named `oldName`) to `newText` (named `newName`);
 * the empty string when they are equal.
 */
export function unifiedDiff(oldText: string, newText: string, oldName: string, newName: string): string {
  if (oldText === newText) return '';
  const a = splitLines(oldText);
  const b = splitLines(newText);
  // A last line that differs only by its newline must count as changed.
  const key = (l: Lines, k: number): string => (l.unterminated && k === l.lines.length - 1 ? `${l.lines[k]}\n${NO_NEWLINE}` : (l.lines[k] as string));
  const ops = editScript(
    a.lines.map((_, k) => key(a, k)),
    b.lines.map((_, k) => key(b, k)),
  );
  const out = [`--- ${oldName}`, `+++ ${newName}`];
  let k = 0;
  // Line numbers (0-based) in a and b of ops[k].
  const posA: number[] = [];
  const posB: number[] = [];
  for (let x = 0, y = 0, i = 0; i < ops.length; i++) {
    posA.push(x);
    posB.push(y);
    if ((ops[i] as Op).kind !== '+') x++;
    if ((ops[i] as Op).kind !== '-') y++;
  }
  while (k < ops.length) {
    while (k < ops.length && (ops[k] as Op).kind === ' ') k++;
    if (k === ops.length) break;
    const start = Math.max(0, k - CONTEXT);
    let end = k;
    // Extend over changes closer together than twice the context: one hunk, as diff -u makes it.
    for (;;) {
      while (end < ops.length && (ops[end] as Op).kind !== ' ') end++;
      let next = end;
      while (next < ops.length && (ops[next] as Op).kind === ' ') next++;
      if (next < ops.length && next - end <= 2 * CONTEXT) end = next;
      else {
        end = Math.min(ops.length, end + CONTEXT);
        break;
      }
    }
    const hunk = ops.slice(start, end);
    const countA = hunk.filter((o) => o.kind !== '+').length;
    const countB = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${range(posA[start] as number, countA)} +${range(posB[start] as number, countB)} @@`);
    for (const o of hunk) out.push(`${o.kind}${o.text}`);
    k = end;
  }
  return `${out.join('\n')}\n`;
}

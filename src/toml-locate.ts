/**
 * Finds where a value sits in TOML source text. smol-toml reports positions for
 * syntax errors only; semantic errors (a bad mirror, a wrong type) still deserve
 * `FILE:LINE:COL`, so we find the table header and the key line by a light scan.
 * Best effort: dotted keys and inline tables fall back to the enclosing table.
 */

export interface Position {
  readonly line: number;
  readonly col: number;
}

export type { DataPath as TomlPath } from './diagnostic.js';
import type { DataPath as TomlPath } from './diagnostic.js';

interface Header {
  readonly line: number; // 0-based index
  readonly name: string; // "registry.mirror"
  readonly array: boolean;
}

const HEADER = /^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/;

function headers(lines: readonly string[]): Header[] {
  const out: Header[] = [];
  lines.forEach((text, line) => {
    const m = HEADER.exec(text);
    if (m) out.push({ line, name: normaliseKey(m[2] ?? ''), array: m[1] === '[[' });
  });
  return out;
}

/** `"registry" . mirror` → `registry.mirror`; quotes around single keys dropped. */
function normaliseKey(k: string): string {
  return k
    .split('.')
    .map((p) => p.trim().replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1'))
    .join('.');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function keyLine(lines: readonly string[], from: number, to: number, key: string): number | undefined {
  const re = new RegExp(`^\\s*(?:${escapeRegExp(key)}|"${escapeRegExp(key)}"|'${escapeRegExp(key)}')\\s*=`);
  for (let i = from; i < to; i++) if (re.test(lines[i] ?? '')) return i;
  return undefined;
}

/**
 * Locate `path` in `text`. Paths look like the parsed data: `['short-name-mode']`,
 * `['mirror-set', 2, 'mirrors', 1]`, `['registry', 0, 'mirror', 1, 'location']`,
 * `['aliases', 'name']`. `needle` (the offending string value) sharpens the column.
 */
export function locateToml(text: string, path: TomlPath, needle?: string): Position | undefined {
  const lines = text.split('\n');
  const hs = headers(lines);
  let from = 0;
  let to = lines.length;
  let keysEnd = hs[0]?.line ?? lines.length; // top-level keys stop at the first header
  let table = '';
  let i = 0;
  // Descend through the tables the path names; whatever is left is a key.
  while (i < path.length && typeof path[i] === 'string') {
    const full = table ? `${table}.${String(path[i])}` : String(path[i]);
    const inRange = hs.filter((h) => h.name === full && h.line >= from && h.line < to);
    if (inRange.length === 0) break;
    const next = path[i + 1];
    const h = typeof next === 'number' ? inRange[next] : inRange[0];
    i += typeof next === 'number' ? 2 : 1;
    if (!h) return undefined;
    table = full;
    from = h.line;
    // A table's section ends at the next header that is not one of its sub-tables;
    // its own keys end at the very next header.
    to = hs.find((x) => x.line > h.line && !x.name.startsWith(`${full}.`))?.line ?? to;
    keysEnd = Math.min(hs.find((x) => x.line > h.line)?.line ?? to, to);
  }
  const key = path[i];
  let at = from;
  if (typeof key === 'string') {
    const found = keyLine(lines, from, keysEnd, key);
    if (found !== undefined) at = found;
  }
  if (needle !== undefined) {
    for (let l = at; l < keysEnd; l++) {
      const lineText = lines[l] ?? '';
      for (const quoted of [JSON.stringify(needle), `'${needle}'`]) {
        const col = lineText.indexOf(quoted);
        if (col >= 0) return { line: l + 1, col: col + 1 };
      }
    }
  }
  const lineText = lines[at] ?? '';
  return { line: at + 1, col: Math.max(lineText.search(/\S/) + 1, 1) };
}

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

export type { DataPath as TomlPath } from '../core/diagnostic.js';
import type { DataPath as TomlPath } from '../core/diagnostic.js';

interface Header {
  readonly line: number; // 0-based index
  readonly name: string; // "registry.mirror"
  readonly index: number; // position in the list of all headers
}

const HEADER = /^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/;

/** `"registry" . mirror` → `registry.mirror`; quotes around single keys dropped. */
function normaliseKey(k: string): string {
  if (!/["'\s]/.test(k)) return k;
  return k
    .split('.')
    .map((p) => p.trim().replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1'))
    .join('.');
}

/** Lines and table headers of one text, indexed once so that each lookup is cheap (a 10 000-table file is located thousands of times). */
export class TomlIndex {
  private readonly lines: string[];
  private readonly all: Header[] = [];
  private readonly byName = new Map<string, Header[]>();

  constructor(text: string) {
    this.lines = text.split('\n');
    this.lines.forEach((lineText, line) => {
      if (!lineText.includes('[')) return;
      const m = HEADER.exec(lineText);
      if (!m) return;
      const h: Header = { line, name: normaliseKey(m[2] ?? ''), index: this.all.length };
      this.all.push(h);
      const list = this.byName.get(h.name);
      if (list) list.push(h);
      else this.byName.set(h.name, [h]);
    });
  }

  /** The headers named `name` with from <= line < to. */
  private named(name: string, from: number, to: number): Header[] {
    const list = this.byName.get(name) ?? [];
    if (from === 0 && to >= this.lines.length) return list;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((list[mid] as Header).line < from) lo = mid + 1;
      else hi = mid;
    }
    const out: Header[] = [];
    for (let i = lo; i < list.length && (list[i] as Header).line < to; i++) out.push(list[i] as Header);
    return out;
  }

  /** Lines by the key they start with, as written (`name`, `"name"`, `'name'`), built on the first lookup of a key. */
  private keys?: Map<string, number[]>;

  private keyLine(from: number, to: number, key: string): number | undefined {
    // Looked up as written, not through a RegExp built from the key (a hostile key of some
    // 32 000 characters makes "Regular expression too large", found by the fuzzer), and in an
    // index, not by scanning from `from`: 5 000 aliases were 12 500 000 line comparisons.
    this.keys ??= indexKeys(this.lines);
    let best: number | undefined;
    for (const spelling of [key, `"${key}"`, `'${key}'`]) {
      const lines = this.keys.get(spelling) ?? [];
      const line = lines[firstAtOrAfter(lines, from)];
      if (line !== undefined && line < to && (best === undefined || line < best)) best = line;
    }
    return best;
  }

  /** Lines on which each quoted string is written (a line once per string), built on the first lookup of a value. */
  private strings?: Map<string, number[]>;

  /**
   * The first line in [from, to) where `needle` is written as a "basic" or 'literal' string.
   * Looked up in an index, not by scanning from `from`: locating each of 90 000 entries of
   * one array scanned the lines above it each time (quadratic, minutes of CPU).
   */
  private stringAt(needle: string, from: number, to: number): Position | undefined {
    this.strings ??= indexStrings(this.lines);
    let best: Position | undefined;
    for (const quoted of [JSON.stringify(needle), `'${needle}'`]) {
      const lines = this.strings.get(quoted) ?? [];
      const line = lines[firstAtOrAfter(lines, from)];
      if (line === undefined || line >= to || (best && best.line <= line + 1)) continue;
      best = { line: line + 1, col: (this.lines[line] ?? '').indexOf(quoted) + 1 };
    }
    return best;
  }

  /**
   * Locate `path`. Paths look like the parsed data: `['short-name-mode']`,
   * `['mirror-set', 2, 'mirrors', 1]`, `['registry', 0, 'mirror', 1, 'location']`,
   * `['aliases', 'name']`. `needle` (the offending string value) sharpens the column.
   */
  locate(path: TomlPath, needle?: string): Position {
    let from = 0;
    let to = this.lines.length;
    let keysEnd = this.all[0]?.line ?? this.lines.length; // top-level keys stop at the first header
    let table = '';
    let i = 0;
    // Descend through the tables the path names; whatever is left is a key.
    while (i < path.length && typeof path[i] === 'string') {
      let full = table ? `${table}.${String(path[i])}` : String(path[i]);
      let inRange = this.named(full, from, to);
      // `[registries.insecure]` with no `[registries]` header: the path names the tables one key at a time.
      let last = i;
      while (inRange.length === 0 && typeof path[last + 1] === 'string') {
        last++;
        full = `${full}.${String(path[last])}`;
        inRange = this.named(full, from, to);
      }
      if (inRange.length === 0) break;
      i = last;
      const next = path[i + 1];
      const h = typeof next === 'number' ? inRange[next] : inRange[0];
      i += typeof next === 'number' ? 2 : 1;
      if (!h) break;
      table = full;
      from = h.line;
      // A table's section ends at the next header that is not one of its sub-tables;
      // its own keys end at the very next header.
      let end = to;
      for (let k = h.index + 1; k < this.all.length; k++) {
        const x = this.all[k] as Header;
        if (!x.name.startsWith(`${full}.`)) {
          end = Math.min(x.line, to);
          break;
        }
      }
      to = end;
      keysEnd = Math.min(this.all[h.index + 1]?.line ?? to, to);
    }
    const key = path[i];
    let at = from;
    if (typeof key === 'string') {
      const found = this.keyLine(from, keysEnd, key);
      if (found !== undefined) at = found;
    }
    if (needle !== undefined) {
      const found = this.stringAt(needle, at, keysEnd);
      if (found) return found;
    }
    const lineText = this.lines[at] ?? '';
    return { line: at + 1, col: Math.max(lineText.search(/\S/) + 1, 1) };
  }
}

/** "basic" (with escapes) and 'literal' strings of one line; anything else between quotes is not a value. */
const STRING_TOKEN = /"(?:[^"\\]|\\.)*"|'[^']*'/g;

function indexStrings(lines: readonly string[]): Map<string, number[]> {
  const at = new Map<string, number[]>();
  lines.forEach((lineText, line) => {
    if (!lineText.includes('"') && !lineText.includes("'")) return;
    for (const [token] of lineText.matchAll(STRING_TOKEN)) {
      const list = at.get(token);
      if (!list) at.set(token, [line]);
      else if (list[list.length - 1] !== line) list.push(line);
    }
  });
  return at;
}

/** A line's leading key as written: a "basic" or 'literal' string, or everything up to blanks or `=`; then `=`. */
const KEY_AT_START = /^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^\s=]+)\s*=/;

function indexKeys(lines: readonly string[]): Map<string, number[]> {
  const at = new Map<string, number[]>();
  lines.forEach((lineText, line) => {
    const key = KEY_AT_START.exec(lineText)?.[1];
    if (key === undefined) return;
    const list = at.get(key);
    if (list) list.push(line);
    else at.set(key, [line]);
  });
  return at;
}

/** Index of the first element >= `value` in an ascending list (its length if none). */
function firstAtOrAfter(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One-off lookup; build a TomlIndex to locate many paths in one text. */
export function locateToml(text: string, path: TomlPath, needle?: string): Position {
  return new TomlIndex(text).locate(path, needle);
}

/**
 * Finds where a value sits in TOML source text. smol-toml reports positions for syntax
 * errors only; semantic errors (a bad mirror, a wrong type) still deserve `FILE:LINE:COL`.
 * The text is parsed a second time, by toml-eslint-parser, whose syntax tree carries exact
 * positions for every key, value, dotted key, inline table and array of tables. That parser
 * is some ten times slower than smol-toml, so the tree is built on the first lookup only,
 * and locators hand out lazy locations (core/diagnostic.ts, lazyLocation): a text with no
 * diagnostic never pays for it. The parser itself is loaded then too (~8 ms of CPU and ~1 MB at
 * every start otherwise; issue #15): an ES module, loaded with require() because a lookup is
 * synchronous (Node.js >= 20.19 loads an ES module that way, without a warning).
 */
import { createRequire } from 'node:module';
import type { AST, parseTOML as ParseTOML } from 'toml-eslint-parser';

export interface Position {
  readonly line: number;
  readonly col: number;
}

export type { DataPath as TomlPath } from '../core/diagnostic.js';
import type { DataPath as TomlPath } from '../core/diagnostic.js';

/**
 * Where one path of the data is written, and which string values are written inside it (by
 * index into PathIndex's list, in document order: a key's value, an array element or a
 * table's own keys are one run of it).
 */
interface Entry {
  readonly at: Position;
  readonly from: number;
  readonly to: number;
}

const START: Position = { line: 1, col: 1 };

let parse: typeof ParseTOML | undefined;
/** toml-eslint-parser's parseTOML, loaded on first use. */
export function tomlSyntaxParser(): typeof ParseTOML {
  return (parse ??= (createRequire(import.meta.url)('toml-eslint-parser') as { parseTOML: typeof ParseTOML }).parseTOML);
}
function parseToml(text: string): AST.TOMLProgram {
  return tomlSyntaxParser()(text, { tomlVersion: '1.1' });
}

let textsParsed = 0;
/** How many texts the locators have parsed into a syntax tree (the tests check that valid input parses none). */
export function locatorParses(): number {
  return textsParsed;
}

/** A path as a map key: JSON keeps `0` (an index) apart from `"0"` (a key). */
const keyOf = (path: TomlPath): string => JSON.stringify(path);

const positionOf = (node: AST.TOMLNode): Position => ({ line: node.loc.start.line, col: node.loc.start.column + 1 });

const keyNames = (key: AST.TOMLKey): string[] => key.keys.map((k) => (k.type === 'TOMLBare' ? k.name : k.value));

/**
 * Every path of one document, at the first place it is written, and every string value with
 * its position. Only positions are kept, not the tree: locations live as long as the parsed
 * data, and the tree of a 1 MiB text takes some 90 MB.
 */
class PathIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly strings: string[] = [];
  private readonly stringAt: Position[] = [];
  readonly root: Entry;

  constructor(program: AST.TOMLProgram) {
    let topLevelEnd: number | undefined; // the top-level keys end at the first table
    for (const item of program.body[0].body) {
      if (item.type === 'TOMLKeyValue') {
        this.keyValue([], item);
        continue;
      }
      topLevelEnd ??= this.strings.length;
      const from = this.strings.length;
      for (const kv of item.body) this.keyValue(item.resolvedKey, kv);
      // `[[registry.mirror]]` is ['registry', 1, 'mirror', 0]: its implicit parents start here unless written earlier.
      this.record(item.resolvedKey, item.resolvedKey.length, { at: positionOf(item), from, to: this.strings.length });
    }
    this.root = { at: START, from: 0, to: topLevelEnd ?? this.strings.length };
  }

  get(path: TomlPath): Entry | undefined {
    return this.entries.get(keyOf(path));
  }

  /** The first string equal to `needle` written inside `entry`. */
  stringIn(entry: Entry, needle: string): Position | undefined {
    for (let i = entry.from; i < entry.to; i++) if (this.strings[i] === needle) return this.stringAt[i];
    return undefined;
  }

  /** `entry` for `path` and for its parents of the last `levels` levels, wherever not written earlier. */
  private record(path: TomlPath, levels: number, entry: Entry): void {
    for (let n = path.length - levels + 1; n <= path.length; n++) {
      const key = keyOf(path.slice(0, n));
      if (!this.entries.has(key)) this.entries.set(key, entry);
    }
  }

  /** `a.b.c = 1` in table `t`: t.a and t.a.b are written here too. */
  private keyValue(table: TomlPath, kv: AST.TOMLKeyValue): void {
    const names = keyNames(kv.key);
    const path = [...table, ...names];
    const from = this.strings.length;
    this.content(path, kv.value);
    this.record(path, names.length, { at: positionOf(kv), from, to: this.strings.length });
  }

  private content(path: TomlPath, node: AST.TOMLContentNode): void {
    if (node.type === 'TOMLValue') {
      if (node.kind === 'string') {
        this.strings.push(node.value);
        this.stringAt.push(positionOf(node));
      }
    } else if (node.type === 'TOMLArray') {
      node.elements.forEach((element, i) => {
        const from = this.strings.length;
        this.content([...path, i], element);
        this.record([...path, i], 1, { at: positionOf(element), from, to: this.strings.length });
      });
    } else {
      for (const kv of node.body) this.keyValue(path, kv);
    }
  }
}

/** One text, its syntax tree built on the first lookup and kept for the next (a 10 000-table file is located thousands of times). */
export class TomlIndex {
  private paths?: PathIndex | null; // null: the tree could not be built

  constructor(private readonly text: string) {}

  /**
   * Locate `path`. Paths look like the parsed data: `['short-name-mode']`,
   * `['mirror-set', 2, 'mirrors', 1]`, `['registry', 0, 'mirror', 1, 'location']`,
   * `['aliases', 'name']`. A path not written in the text (a missing key) is located at the
   * nearest of its parents that is. `needle` (the offending string value) sharpens the
   * position to that string when it is written inside what the path names.
   */
  locate(path: TomlPath, needle?: string): Position {
    const paths = this.tree();
    if (!paths) return this.roughly(path, needle);
    let entry = paths.root;
    for (let n = path.length; n > 0; n--) {
      const found = paths.get(path.slice(0, n));
      if (found) {
        entry = found;
        break;
      }
    }
    return (needle !== undefined ? paths.stringIn(entry, needle) : undefined) ?? entry.at;
  }

  private tree(): PathIndex | null {
    if (this.paths !== undefined) return this.paths;
    textsParsed++;
    try {
      // 1.1 accepts all of 1.0 and more: the text has passed smol-toml already, this parse only finds places.
      this.paths = new PathIndex(parseToml(this.text.replace(/^\uFEFF/, '')));
    } catch {
      // The two parsers disagree, or the tree is too deep for the stack: a diagnostic still needs a line.
      this.paths = null;
    }
    return this.paths;
  }

  /** Without a tree: the first line holding the offending value or the path's last key, good enough to name a line. */
  private roughly(path: TomlPath, needle?: string): Position {
    const key = [...path].reverse().find((p): p is string => typeof p === 'string');
    const at = [needle, key].map((probe) => (probe ? this.text.indexOf(probe) : -1)).find((i) => i >= 0) ?? -1;
    return at < 0 ? START : { line: this.text.slice(0, at).split('\n').length, col: 1 };
  }
}

/** One-off lookup; build a TomlIndex to locate many paths in one text. */
export function locateToml(text: string, path: TomlPath, needle?: string): Position {
  return new TomlIndex(text).locate(path, needle);
}

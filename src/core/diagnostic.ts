/**
 * Errors and warnings as values with a location, until the edge prints them as
 * `FILE:LINE:COL: message` (the form editors and CI logs link to).
 */

export interface Location {
  /**
   * File name as the user knows it: a fragment's base name (the daemon's status), or a path
   * given on the command line; the CLI names fragments DIR/NAME at its edge (cli/load.ts).
   */
  readonly file: string;
  readonly line?: number;
  readonly col?: number;
}

export type Severity = 'error' | 'warning';

export interface Diagnostic extends Location {
  readonly severity: Severity;
  readonly message: string;
  /** Other places the problem involves (the other side of a conflict). */
  readonly related?: readonly Location[];
}

export function error(at: Location, message: string): Diagnostic {
  return { ...at, severity: 'error', message };
}

export function warning(at: Location, message: string): Diagnostic {
  return { ...at, severity: 'warning', message };
}

/** `file:line:col` with the parts that are known. */
export function formatLocation(at: Location): string {
  if (at.line === undefined) return at.file;
  return `${at.file}:${at.line}:${at.col ?? 1}`;
}

/** Control characters in a message (from hostile values or file names) are shown escaped: one diagnostic, one line. */
function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function formatDiagnostic(d: Diagnostic): string {
  const prefix = d.severity === 'warning' ? 'warning: ' : '';
  return oneLine(`${formatLocation(d)}: ${prefix}${d.message}`);
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}

/** Thrown only at edges that cannot return a value (CLI argument handling). */
export class UsageError extends Error {}

/** A path into parsed data: `['registry', 0, 'mirror', 1, 'location']`. */
export type DataPath = ReadonlyArray<string | number>;

type Position = { readonly line: number; readonly col: number };

/**
 * A location whose line and column are found on their first read. Parsers locate every value
 * they keep (origins), but only a diagnostic or a status reads the line: finding it may be the
 * costly part (toml/locate.ts parses the text again), so a valid input never does.
 *
 * `line` and `col` are own, enumerable accessors, as an object literal's getters would be (a
 * spread or JSON.stringify reads them), but every instance shares the same two functions and
 * keeps its state in private fields: a literal with getters made three closures, a context and
 * two accessor pairs per location, some 0.5 KB, and a render keeps one per mirror of every
 * fragment (10 000 TOML fragments held ~30 MB of them).
 */
class LazyLocation implements Location {
  declare readonly line: number;
  declare readonly col: number;
  #find: (() => Position) | undefined; // let go once used: it holds the whole text
  #found: Position | undefined;

  static readonly #lineCol: PropertyDescriptorMap = {
    line: {
      get(this: LazyLocation): number {
        return this.#at().line;
      },
      enumerable: true,
    },
    col: {
      get(this: LazyLocation): number {
        return this.#at().col;
      },
      enumerable: true,
    },
  };

  constructor(
    readonly file: string,
    find: () => Position,
  ) {
    this.#find = find;
    Object.defineProperties(this, LazyLocation.#lineCol);
  }

  #at(): Position {
    if (!this.#found) {
      this.#found = (this.#find as () => Position)();
      this.#find = undefined;
    }
    return this.#found;
  }
}

export function lazyLocation(file: string, find: () => Position): Location {
  return new LazyLocation(file, find);
}

/** Maps a path in a document (and the offending value, to sharpen the column) to a source location. */
export type Locator = (path: DataPath, needle?: string) => Location;

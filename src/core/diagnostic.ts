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

/**
 * A location whose line and column are found on their first read. Parsers locate every value
 * they keep (origins), but only a diagnostic or a status reads the line: finding it may be the
 * costly part (toml/locate.ts parses the text again), so a valid input never does.
 */
export function lazyLocation(file: string, find: () => { readonly line: number; readonly col: number }): Location {
  let finder: typeof find | undefined = find; // let go once used: it holds the whole text
  let found: { readonly line: number; readonly col: number } | undefined;
  const at = (): { readonly line: number; readonly col: number } => {
    if (!found) {
      found = (finder as typeof find)();
      finder = undefined;
    }
    return found;
  };
  return {
    file,
    get line() {
      return at().line;
    },
    get col() {
      return at().col;
    },
  };
}

/** Maps a path in a document (and the offending value, to sharpen the column) to a source location. */
export type Locator = (path: DataPath, needle?: string) => Location;

/**
 * Errors and warnings as values with a location, until the edge prints them as
 * `FILE:LINE:COL: message` (the form editors and CI logs link to).
 */
import { oneLine } from './one-line.js';

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
  return { ...at, severity: 'error', message: maskPasswords(message) };
}

export function warning(at: Location, message: string): Diagnostic {
  return { ...at, severity: 'warning', message: maskPasswords(message) };
}

/**
 * `user:password@` at the start of a quoted value or after `scheme://`, but not a tag before a
 * digest (`name:tag@sha256:…`, which a reference may hold).
 */
const PASSWORD = /(^|["'\s(=]|:\/\/)([^\s"'/@:]+):([^\s"'/@]+)@(?![a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,})/g;

/**
 * A value a fragment got wrong is quoted in its diagnostic, and a mirror written as a URL with
 * credentials (`https://user:pass@host`) is such a value: the password is masked, since
 * diagnostics go to the journal, `status` and CI logs, read by more people than the file.
 */
export function maskPasswords(text: string): string {
  return text.includes('@') ? text.replace(PASSWORD, '$1$2:***@') : text;
}

/** An Authorization or Proxy-Authorization header's value (its scheme kept), quoted or not, in JSON (`\"`) or not. */
const AUTHORIZATION = /((?:proxy-)?authorization(?:\\?")?\s*[:=]\s*(?:\\?")?)((?:Bearer|Basic|Negotiate|Digest)\s+)?(?:[^\s"\\]|\\[^"])+/gi;
/** A bearer token or basic credentials outside a header: the schemes as HTTP writes them, a long value. */
const TOKEN = /\b(Bearer|Basic) [A-Za-z0-9._~+/-]{12,}=*/g;
/**
 * Query parameters that carry secrets (token realms, presigned storage URLs). Here and in
 * AUTHORIZATION a value ends at a quote, but not at one JSON escaped (`\"` ends it, `\\` is a
 * character of it): the mask runs on the serialised record, and taking the backslash of a
 * closing `\"` left a bare quote, a record no longer JSON.
 */
const SECRET_PARAM =
  /([?&](?:access_token|refresh_token|token|password|secret|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature)=)(?:[^&\s"#\\]|\\[^"])+/gi;

/**
 * The logger's last guard (core/log.ts): passwords in URLs, Authorization headers' values,
 * bearer tokens and secret query parameters masked in any text, whatever a call site passed.
 */
export function maskCredentials(text: string): string {
  return maskPasswords(text).replace(AUTHORIZATION, '$1$2***').replace(TOKEN, '$1 ***').replace(SECRET_PARAM, '$1***');
}

/** `file:line:col` with the parts that are known. */
export function formatLocation(at: Location): string {
  if (at.line === undefined) return at.file;
  return `${at.file}:${at.line}:${at.col ?? 1}`;
}

/** Control characters in a message (from hostile values or file names) are shown escaped: one diagnostic, one line. */
export function formatDiagnostic(d: Diagnostic): string {
  const prefix = d.severity === 'warning' ? 'warning: ' : '';
  return oneLine(`${formatLocation(d)}: ${prefix}${d.message}`);
}

/** Without a severity label: for a log line whose level says it already (`WARN: file:line:col: message`). */
export function unlabelledDiagnostic(d: Diagnostic): string {
  return oneLine(`${formatLocation(d)}: ${d.message}`);
}

/**
 * With the error labelled too, as compilers print them (`file:line:col: error: ...`): for a
 * stream where errors and warnings come mixed (the commands' stderr). Where the context
 * already says it is an error (a log line at level error, a refused config), formatDiagnostic.
 */
export function labelledDiagnostic(d: Diagnostic): string {
  return d.severity === 'error' ? oneLine(`${formatLocation(d)}: error: ${d.message}`) : formatDiagnostic(d);
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
 * A plain object, as a literal with getters was: `line` and `col` are own, enumerable accessors
 * (a spread or JSON.stringify reads them), but every location shares the same two functions and
 * its finder sits under a symbol that is not enumerable (no spread, key list or comparison sees
 * it). The literal made three closures, a context and two accessor pairs per location, some
 * 0.5 KB, and a render keeps one per mirror of every fragment (10 000 TOML fragments: ~30 MB).
 */
const FOUND = Symbol('found');

interface LazyState {
  /** The finder until the first read (it holds the whole text), then what it found. */
  [FOUND]: (() => Position) | Position;
}

function found(at: LazyState): Position {
  const state = at[FOUND];
  if (typeof state !== 'function') return state;
  const position = state();
  at[FOUND] = position;
  return position;
}

const LINE_AND_COL: PropertyDescriptorMap = {
  line: {
    get(this: LazyState): number {
      return found(this).line;
    },
    enumerable: true,
  },
  col: {
    get(this: LazyState): number {
      return found(this).col;
    },
    enumerable: true,
  },
};

export function lazyLocation(file: string, find: () => Position): Location {
  const at = { file };
  Object.defineProperty(at, FOUND, { value: find, writable: true });
  return Object.defineProperties(at, LINE_AND_COL);
}

/** Maps a path in a document (and the offending value, to sharpen the column) to a source location. */
export type Locator = (path: DataPath, needle?: string) => Location;

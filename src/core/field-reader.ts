/**
 * Typed access to parsed TOML/YAML data with located errors: every wrong type or
 * unknown key becomes a Diagnostic naming the file, line and column, so parsers can
 * read a document in one pass and report everything wrong with it at once.
 */
import { error, warning, type DataPath as TomlPath, type Diagnostic, type Location, type Locator, type Severity } from './diagnostic.js';

export type Table = Record<string, unknown>;

export function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** What a value is, in the words of the file formats. */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a date';
  if (typeof v === 'object') return 'a table';
  if (typeof v === 'number' || typeof v === 'bigint') return 'a number';
  if (typeof v === 'boolean') return 'a boolean';
  if (typeof v === 'string') return 'a string';
  return typeof v;
}

/** Edit distance (insertions, deletions, substitutions), stopping early past `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    if (Math.min(...row) > limit) return limit + 1;
    prev = row;
  }
  return prev[b.length] ?? limit + 1;
}

/** Lowercase and singular ("registries" → "registry", "mirrors" → "mirror"): a plural slip is no typo. */
function normalName(s: string): string {
  return s.toLowerCase().replace(/ies$/, 'y').replace(/s$/, '');
}

/** The known name `key` most likely misspells (case and plural aside, at most two edits, and fewer than half its length), for a did-you-mean. */
export function closestName(key: string, known: readonly string[]): string | undefined {
  if (key.length > 100) return undefined; // a hostile key: no quadratic work for a hint
  let best: { name: string; d: number } | undefined;
  for (const name of known) {
    const limit = Math.min(2, Math.floor((name.length - 1) / 2));
    const d = Math.min(editDistance(key.toLowerCase(), name.toLowerCase(), limit), editDistance(normalName(key), normalName(name), limit));
    if (d <= limit && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

/** For a key found inside a table that is a top-level key: TOML puts every key after a header into that table. */
export function misplacedTopLevelKey(key: string, topLevel: readonly string[]): string {
  return topLevel.includes(key)
    ? `; "${key}" is a top-level key, but TOML reads every key after a [table] header as part of that table: move it above the first table`
    : '';
}

/** `; did you mean "x"?` or nothing. */
export function didYouMean(key: string, known: readonly string[]): string {
  const name = closestName(key, known);
  return name === undefined ? '' : `; did you mean "${name}"?`;
}

export class FieldReader {
  /**
   * @param scalarHint what to add when a string was wanted and a scalar of another type found:
   * a format's word on how it came to be one (YAML: an unquoted `yes` is a boolean to kubectl).
   */
  constructor(
    private readonly locate: Locator,
    readonly diagnostics: Diagnostic[] = [],
    private readonly scalarHint: (v: unknown) => string = () => '',
  ) {}

  private wrong(path: TomlPath, key: string, expected: string, v: unknown, hint = ''): undefined {
    this.diagnostics.push(error(this.locate(path), `"${key}" must be ${expected}, not ${describe(v)}${hint}`));
    return undefined;
  }

  locatePath(path: TomlPath, needle?: string): Location {
    return this.locate(path, needle);
  }

  error(path: TomlPath, message: string, needle?: string): void {
    this.diagnostics.push(error(this.locate(path, needle), message));
  }

  warn(path: TomlPath, message: string, needle?: string): void {
    this.diagnostics.push(warning(this.locate(path, needle), message));
  }

  string(obj: Table, key: string, path: TomlPath): string | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    return typeof v === 'string' ? v : this.wrong([...path, key], key, 'a string', v, this.scalarHint(v));
  }

  boolean(obj: Table, key: string, path: TomlPath): boolean | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    return typeof v === 'boolean' ? v : this.wrong([...path, key], key, 'a boolean (true or false, unquoted)', v);
  }

  stringArray(obj: Table, key: string, path: TomlPath): string[] | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return this.wrong([...path, key], key, 'an array of strings', v);
    // A copy of the exact size: a fragment's lists live until the merge, and one built by push keeps room for 17.
    if (v.every((item) => typeof item === 'string')) return v.slice();
    const out: string[] = [];
    v.forEach((item, i) => {
      if (typeof item === 'string') out.push(item);
      else
        this.diagnostics.push(
          error(this.locate([...path, key, i]), `"${key}" must hold only strings; item ${i + 1} is ${describe(item)}${this.scalarHint(item)}`),
        );
    });
    return out;
  }

  table(obj: Table, key: string, path: TomlPath): Table | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    return isTable(v) ? v : this.wrong([...path, key], key, 'a table', v);
  }

  tables(obj: Table, key: string, path: TomlPath): Table[] {
    const v = obj[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) return this.wrong([...path, key], key, 'an array of tables', v) ?? [];
    return v.filter((item, i) => {
      if (isTable(item)) return true;
      this.diagnostics.push(error(this.locate([...path, key, i]), `"${key}" must hold only tables; item ${i + 1} is ${describe(item)}`));
      return false;
    }) as Table[];
  }

  /** Reports keys outside `known`: an error in our own formats (a typo must not pass silently), a warning where upstream ignores them. */
  unknownKeys(obj: Table, known: readonly string[], path: TomlPath, severity: Severity, where: string, hint?: (key: string) => string): void {
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      const message = `unknown key "${key}" in ${where}${hint ? hint(key) : ''}${severity === 'warning' ? ' (ignored, as containers/image does)' : `; known keys: ${known.join(', ')}`}`;
      this.diagnostics.push(severity === 'error' ? error(this.locate([...path, key]), message) : warning(this.locate([...path, key]), message));
    }
  }
}

/**
 * Keys as BurntSushi/toml's struct decoding matches them, which is what containers/image reads
 * registries.conf with: a TOML key goes to the field whose name equals it, else to one whose name
 * it equals under Go's strings.EqualFold (unifyStruct). So `Insecure = true` or `[[Registry]]`
 * set the fields `insecure` and `registry`, and are not unknown keys. Map-typed values (aliases)
 * keep their keys as written. Two spellings of one field in a table both decode into it, in Go's
 * random map order: either value may win.
 */
import { isTable, type Table } from '../core/field-reader.js';
import type { DataPath } from '../core/diagnostic.js';

/** The struct a table decodes into: its fields' TOML names (lowercase ASCII), each with the struct its value holds (or holds an array of), or null. */
export interface StructSchema {
  readonly [field: string]: StructSchema | null;
}

/** A key decoded into a field spelled otherwise. */
export interface RespelledKey {
  /** The key's path as written. */
  readonly path: DataPath;
  readonly field: string;
}

/** Two keys of one table that decode into the same field. */
export interface SameFieldKeys {
  /** The second key's path as written. */
  readonly path: DataPath;
  /** The key kept (the field's own spelling when it is one of them, else the first). */
  readonly kept: string;
  /** The other key. */
  readonly other: string;
  /** Their values differ: containers/image's reading is then a coin toss. */
  readonly differ: boolean;
}

export interface StructKeys {
  /** The data with every key that names a field spelled as the field. */
  readonly data: Table;
  readonly respelled: readonly RespelledKey[];
  readonly sameField: readonly SameFieldKeys[];
  /** A path of `data` as it is written in the text (for locating it). */
  writtenPath(path: DataPath): DataPath;
}

/** Go's EqualFold against a lowercase ASCII name: the only non-ASCII runes whose fold orbit holds an ASCII letter are U+212A (k) and U+017F (s). */
function folded(key: string): string {
  return key.replace(/[A-Z\u212a\u017f]/g, (c) => (c === '\u212a' ? 'k' : c === '\u017f' ? 's' : c.toLowerCase()));
}

function fieldOf(key: string, schema: StructSchema): string | undefined {
  if (Object.hasOwn(schema, key)) return key;
  const f = folded(key);
  return Object.hasOwn(schema, f) ? f : undefined;
}

/** Sets an own property, also one named "__proto__" (which an assignment would take for the prototype). */
function put(table: Table, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(table, key, { value, enumerable: true, writable: true, configurable: true });
  else table[key] = value;
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

class Folder {
  readonly respelled: RespelledKey[] = [];
  readonly sameField: SameFieldKeys[] = [];
  /** For each folded table, the key each field was read from. */
  readonly spelling = new WeakMap<Table, Map<string, string>>();

  value(v: unknown, schema: StructSchema, path: DataPath): unknown {
    if (Array.isArray(v)) return (v as unknown[]).map((item, i): unknown => (isTable(item) ? this.table(item, schema, [...path, i]) : item));
    return isTable(v) ? this.table(v, schema, path) : v;
  }

  table(t: Table, schema: StructSchema, path: DataPath): Table {
    const out: Table = {};
    const from = new Map<string, string>();
    for (const [key, v] of Object.entries(t)) {
      const field = fieldOf(key, schema);
      if (field === undefined) {
        put(out, key, v); // unknown: left for the reader to report
        continue;
      }
      const sub = schema[field];
      const value = sub ? this.value(v, sub, [...path, key]) : v;
      const prior = from.get(field);
      if (prior !== undefined) {
        const kept = key === field ? key : prior;
        this.sameField.push({ path: [...path, key], kept, other: kept === key ? prior : key, differ: !sameJson(t[prior], v) });
        if (kept === prior) continue;
      } else if (key !== field) this.respelled.push({ path: [...path, key], field });
      put(out, field, value);
      from.set(field, key);
    }
    this.spelling.set(out, from);
    return out;
  }
}

/** `data` with its keys read as BurntSushi/toml reads them into the structs of `schema`. */
export function structKeys(data: Table, schema: StructSchema): StructKeys {
  const folder = new Folder();
  const out = folder.table(data, schema, []);
  return {
    data: out,
    respelled: folder.respelled,
    sameField: folder.sameField,
    writtenPath(path) {
      const written: Array<string | number> = [];
      let node: unknown = out;
      for (const seg of path) {
        const table = typeof seg === 'string' && isTable(node) ? node : undefined;
        written.push(table ? (folder.spelling.get(table)?.get(seg as string) ?? seg) : seg);
        node = table ? table[seg as string] : Array.isArray(node) && typeof seg === 'number' ? node[seg] : undefined;
      }
      return written;
    },
  };
}

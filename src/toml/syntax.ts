/**
 * The few pieces of TOML 1.0 syntax we emit ourselves, so that the layout of
 * registries.conf is ours (top-level keys first, one table per prefix) while every
 * string is escaped completely: a value can never open a table or add a key.
 */

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** Printable ASCII but '"' and '\\': nothing in it to escape (every registry name a render writes). */
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A TOML basic string. Every control character is escaped, not just the first (iarna-toml#59). */
export function tomlString(s: string): string {
  if (PLAIN_ASCII.test(s)) return `"${s}"`; // what the loop below would build, character by character
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '"':
        out += '\\"';
        break;
      case '\\':
        out += '\\\\';
        break;
      case '\b':
        out += '\\b';
        break;
      case '\t':
        out += '\\t';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\f':
        out += '\\f';
        break;
      case '\r':
        out += '\\r';
        break;
      default:
        // U+FFFD too: BurntSushi/toml before 1.4 (containers/image up to 5.31, skopeo 1.9.3) takes
        // it for a decoding error, "invalid UTF-8 byte", wherever it stands, a comment included.
        if (c < 0x20 || c === 0x7f || c === 0xfffd) out += `\\u${c.toString(16).padStart(4, '0').toUpperCase()}`;
        else if (c >= 0xd800 && c <= 0xdfff) throw new Error('lone UTF-16 surrogate cannot be written as TOML');
        else out += ch;
    }
  }
  return `${out}"`;
}

export function tomlKey(k: string): string {
  return BARE_KEY.test(k) ? k : tomlString(k);
}

export function tomlStringArray(values: readonly string[]): string {
  return `[${values.map(tomlString).join(', ')}]`;
}

export function tomlValue(v: string | boolean | readonly string[]): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return tomlString(v);
  return tomlStringArray(v);
}

/** `key = value` lines for the defined entries, in the given order. */
export function tomlAssignments(entries: ReadonlyArray<readonly [string, string | boolean | readonly string[] | undefined]>): string[] {
  return entries
    .filter((e): e is readonly [string, string | boolean | readonly string[]] => e[1] !== undefined)
    .map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v)}`);
}

/**
 * TOML 1.1 syntax in a text TOML 1.0 refuses. smol-toml reads TOML 1.1 (`\e` and `\xHH` escapes,
 * newlines and a trailing comma in inline tables, non-ASCII bare keys); containers/image's decoder,
 * BurntSushi/toml before 1.6 (skopeo 1.9.3 has 1.2.0, containers/image 5.36 has 1.5.0), reads TOML
 * 1.0 only and refuses the whole file. toml-eslint-parser, told TOML 1.0, finds where. It is asked
 * only about a text that could hold such syntax, so that the usual file loads no second parser.
 */
import type { Position } from './locate.js';
import { tomlSyntaxParser } from './locate.js';

/**
 * A backslash escape of TOML 1.1, an inline table, a non-ASCII character or a time whose seconds
 * may be left out (`10:30` not followed by `:`): the only places TOML 1.1 syntax can be. A
 * `host12:5000` in a string matches too; that costs the second parser only.
 */
const MAYBE_NEXT = /\\[ex]|\{|[^\x00-\x7f]|\d\d:\d\d(?!:)/;

export interface NextSyntax extends Position {
  readonly message: string;
}

/** The last text parsed and its answer: the daemon parses the same base at every render, and this parser takes milliseconds. */
let last: { readonly text: string; readonly found: NextSyntax | undefined } | undefined;

/** Where `text` (which smol-toml accepted) is not TOML 1.0; undefined when it is. */
export function tomlNextSyntax(text: string): NextSyntax | undefined {
  if (!MAYBE_NEXT.test(text)) return undefined;
  if (last?.text !== text) last = { text, found: parsedAsToml10(text) };
  return last.found;
}

function parsedAsToml10(text: string): NextSyntax | undefined {
  try {
    tomlSyntaxParser()(text.replace(/^\uFEFF/, ''), { tomlVersion: '1.0' });
    return undefined;
  } catch (e) {
    const { lineNumber, column, message } = e as { lineNumber?: number; column?: number; message?: string };
    return { line: lineNumber ?? 1, col: (column ?? 0) + 1, message: message ?? 'not TOML 1.0' };
  }
}

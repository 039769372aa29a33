/**
 * Which files in a policy directory are fragments, and parsing one by its name.
 * Everything else is ignored (and said so at debug level): editor and package-manager
 * leftovers must never become policy.
 */
import type { ParsedFragment } from './policy.js';
import { parseOpenShiftFragment } from './openshift.js';
import { parseTomlFragment } from './toml.js';
import type { Location } from '../core/diagnostic.js';
import { invalidUtf8Line } from '../registries-conf/parse.js';

export type FragmentFormat = 'toml' | 'yaml';

export type NameClass = { readonly format: FragmentFormat } | { readonly ignored: string };

const LEFTOVERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\./, 'hidden file'],
  [/~$/, 'editor backup'],
  [/\.(swp|swo|swx)$/, 'editor swap file'],
  [/\.tmp$/, 'temporary file'],
  [/\.dpkg-[a-z]+$/, 'dpkg leftover'],
  // ucf keeps configuration files that are not conffiles, with its own suffixes (ucf(1)).
  [/\.ucf-(new|old|dist)$/, 'ucf leftover'],
  [/\.(rpmnew|rpmsave|rpmorig)$/, 'rpm leftover'],
  [/^4913$/, "vim's write test file"],
  // `sed -i` writes its copy as sedXXXXXX beside the file, then renames it over the file.
  [/^sed[A-Za-z0-9]{6}$/, "sed -i's temporary file"],
  [/^#.*#$/, "emacs's auto-save file"],
  // The package installs one (it says the directory ignores it), and a policy kept in git has one.
  [/^readme(\.(md|txt|rst))?$/i, 'a README'],
];

/** The names a fragment may have, as the warnings about other files list them. */
export const FRAGMENT_NAMES = '*.toml, *.yaml, *.yml or *.json';

/** Why a name that is no leftover is still not a fragment: the policy directory warns about these. */
export const NOT_A_FRAGMENT = `not ${FRAGMENT_NAMES}`;

export function classifyName(name: string): NameClass {
  for (const [re, why] of LEFTOVERS) if (re.test(name)) return { ignored: why };
  if (name.endsWith('.toml')) return { format: 'toml' };
  // JSON (`oc get -o json`) is YAML to the parser, with the same checks and positions.
  if (name.endsWith('.yaml') || name.endsWith('.yml') || name.endsWith('.json')) return { format: 'yaml' };
  return { ignored: NOT_A_FRAGMENT };
}

export function parseFragment(file: string, format: FragmentFormat, text: string): ParsedFragment {
  return format === 'toml' ? parseTomlFragment(text, file) : parseOpenShiftFragment(text, file);
}

/** UTF-8 that refuses invalid bytes (decode throws a TypeError) and drops a leading BOM. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const UTF16: Readonly<Record<string, { readonly decoder: { decode(bytes: Uint8Array): string }; readonly mark: string }>> = {
  fffe: { decoder: new TextDecoder('utf-16le', { fatal: true, ignoreBOM: false }), mark: 'FF FE' },
  feff: { decoder: new TextDecoder('utf-16be', { fatal: true, ignoreBOM: false }), mark: 'FE FF' },
};

/** Where a fragment's decoding problem is: the file, at the line decodeFragment names, if any. */
export function decodeProblemAt(at: Location, decoded: { readonly line?: number }): Location {
  return decoded.line === undefined ? at : { ...at, line: decoded.line };
}

/**
 * A fragment's text, or why it has none. UTF-8, a leading byte order mark dropped (kubectl and
 * containers/image's TOML reader skip it). UTF-16 with its byte order mark, which Windows
 * PowerShell 5 writes for `oc get ... > file`, is read in YAML and JSON, as kubectl reads it
 * (its file reader decodes it), and refused in TOML, as containers/image refuses it.
 */
export function decodeFragment(bytes: Uint8Array, format: FragmentFormat): { text: string } | { problem: string; line?: number } {
  const utf16 = bytes.length >= 2 ? UTF16[`${bytes[0]?.toString(16)}${bytes[1]?.toString(16)}`] : undefined;
  if (utf16 === undefined) {
    try {
      return { text: STRICT_UTF8.decode(bytes) };
    } catch {
      const line = invalidUtf8Line(bytes);
      return line === undefined
        ? { problem: 'not valid UTF-8 text' }
        : { problem: 'not valid UTF-8 text (the first byte that is not is on this line); save it as UTF-8', line };
    }
  }
  if (format === 'toml')
    return { problem: `UTF-16 text (byte order mark ${utf16.mark}); a TOML fragment must be UTF-8, as containers/image requires: save it as UTF-8` };
  try {
    return { text: utf16.decoder.decode(bytes) };
  } catch {
    return { problem: 'not valid UTF-16 text (it starts with a UTF-16 byte order mark)' };
  }
}

/**
 * Which files in a policy directory are fragments, and parsing one by its name.
 * Everything else is ignored (and said so at debug level): editor and package-manager
 * leftovers must never become policy.
 */
import type { ParsedFragment } from './policy.js';
import { parseOpenShiftFragment } from './openshift.js';
import { parseTomlFragment } from './toml.js';

export type FragmentFormat = 'toml' | 'yaml';

export type NameClass = { readonly format: FragmentFormat } | { readonly ignored: string };

const LEFTOVERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\./, 'hidden file'],
  [/~$/, 'editor backup'],
  [/\.(swp|swo|swx)$/, 'editor swap file'],
  [/\.tmp$/, 'temporary file'],
  [/\.dpkg-[a-z]+$/, 'dpkg leftover'],
  [/\.(rpmnew|rpmsave|rpmorig)$/, 'rpm leftover'],
  [/^4913$/, "vim's write test file"],
  // `sed -i` writes its copy as sedXXXXXX beside the file, then renames it over the file.
  [/^sed[A-Za-z0-9]{6}$/, "sed -i's temporary file"],
  [/^#.*#$/, "emacs's auto-save file"],
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

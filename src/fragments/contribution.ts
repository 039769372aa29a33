/**
 * A fragment that parses but says nothing (an IDMS whose entries sit under a misspelled key,
 * a file of comments) is most likely a mistake: said once, as a warning, never an error
 * (an emptied file is also how a fragment is switched off).
 */
import { hasErrors, warning, type Diagnostic } from '../core/diagnostic.js';
import type { Fragment } from './policy.js';

/** Whether the fragment gives registries.conf anything (a companion-only or emptied file does not). */
export function contributes(f: Fragment): boolean {
  const c = f.conf;
  return (
    f.mirrorSets.length > 0 ||
    f.insecure.length > 0 ||
    f.blocked.length > 0 ||
    c.registries.length > 0 ||
    Object.keys(f.confOrigins).length > 0 ||
    c.unqualifiedSearchRegistries !== undefined
  );
}

/** The warning for a fragment that contributes nothing; none when it has errors (those say enough). */
export function contributesNothing(f: Fragment, diagnostics: readonly Diagnostic[]): Diagnostic[] {
  if (hasErrors(diagnostics) || contributes(f)) return [];
  return [
    warning(
      { file: f.file, line: 1, col: 1 },
      'this fragment contributes nothing to registries.conf (no mirror entries, insecure, blocked or search registries, no registries.conf keys)',
    ),
  ];
}

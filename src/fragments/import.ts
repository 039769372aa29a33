/**
 * `import`: an OpenShift fragment as the equivalent native TOML fragment, so an admin
 * can move from cluster objects to hand-kept files without retyping them.
 */
import type { Fragment } from './policy.js';
import { tomlAssignments, tomlString } from '../toml/syntax.js';

export function fragmentToToml(f: Fragment, from: string): string {
  const out: string[] = [`# Imported by mirror-policyd from ${tomlString(from)}.`];
  const top = tomlAssignments([
    ['insecure-registries', f.insecure.length > 0 ? f.insecure.map((s) => s.value) : undefined],
    ['blocked-registries', f.blocked.length > 0 ? f.blocked.map((s) => s.value) : undefined],
    ['unqualified-search-registries', f.conf.unqualifiedSearchRegistries],
  ]);
  if (top.length > 0) out.push('', ...top);
  for (const s of f.mirrorSets) {
    // The file name escaped as in the header: a comment ends at a newline, which a name may hold.
    out.push('', `# ${s.kind}, ${tomlString(from)}${s.origin.line ? ` line ${s.origin.line}` : ''}`, '[[mirror-set]]');
    out.push(
      ...tomlAssignments([
        ['source', s.source],
        ['mirrors', s.mirrors],
        ['pull-from-mirror', s.mode],
        ['source-policy', s.sourcePolicy],
      ]),
    );
  }
  return `${out.join('\n')}\n`;
}

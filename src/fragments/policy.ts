/**
 * What a policy fragment says, as plain data: mirror sets (OpenShift's ICSP/IDMS/ITMS
 * entries or our native `[[mirror-set]]`), insecure and blocked scopes (OpenShift's
 * cluster image config), and plain registries.conf content.
 */
import { error, type Diagnostic, type Location } from '../core/diagnostic.js';
import type { RegistriesConf } from '../registries-conf/model.js';
import { isValidMirrorLocation, isValidMirrorSource, isValidRegistriesConfScope } from '../reference/scope.js';

/** Which pulls a set's mirrors serve: containers/image's `pull-from-mirror`. */
export type MirrorMode = 'digest-only' | 'tag-only' | 'all';
/** OpenShift's mirrorSourcePolicy: AllowContactingSource (the default) or NeverContactSource. */
export type SourcePolicy = 'allow' | 'never';

export type SetKind = 'ImageContentSourcePolicy' | 'ImageDigestMirrorSet' | 'ImageTagMirrorSet' | 'mirror-set';

export interface MirrorSet {
  readonly source: string;
  readonly mirrors: readonly string[];
  readonly mode: MirrorMode;
  /** Undefined when not set: it then counts as allow. */
  readonly sourcePolicy?: SourcePolicy;
  readonly kind: SetKind;
  /** Where the source is written. */
  readonly origin: Location;
  /** Where each mirror is written, parallel to `mirrors`. */
  readonly mirrorOrigins?: readonly Location[];
}

export interface Located<T> {
  readonly value: T;
  readonly origin: Location;
}

export interface Fragment {
  /** Base name of the fragment file: what every message and the output header call it. */
  readonly file: string;
  readonly mirrorSets: readonly MirrorSet[];
  readonly insecure: ReadonlyArray<Located<string>>;
  readonly blocked: ReadonlyArray<Located<string>>;
  /** registries.conf content, absent keys undefined (drop-in semantics need "absent" vs "empty"). */
  readonly conf: RegistriesConf;
  /** Where each top-level registries.conf key was set, for conflict warnings. */
  readonly confOrigins: Readonly<Record<string, Location>>;
  /** OpenShift objects as `Kind "name"`, at their metadata.name: a cluster keeps one per kind and name. */
  readonly objects?: ReadonlyArray<Located<string>>;
}

export interface ParsedFragment {
  readonly fragment?: Fragment;
  readonly diagnostics: Diagnostic[];
}

/** A set with at least one mirror other than its source; OpenShift ignores the others entirely. */
export function hasRealMirror(set: Pick<MirrorSet, 'source' | 'mirrors'>): boolean {
  return set.mirrors.some((m) => m !== set.source);
}

/** MCO's per-set checks: source and mirror formats, and NeverContactSource with the source among its mirrors. */
export function validateMirrorSet(set: MirrorSet, at: (needle: string) => Location): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (!isValidMirrorSource(set.source))
    out.push(error(at(set.source), `invalid format for source "${set.source}": expected host[:port][/namespace...] or *.domain`));
  for (const m of set.mirrors) {
    if (!isValidMirrorLocation(m)) out.push(error(at(m), `invalid format for mirror "${m}" of source "${set.source}": expected host[:port][/namespace...]`));
  }
  if (set.sourcePolicy === 'never' && set.mirrors.includes(set.source)) {
    out.push(error(at(set.source), `cannot set mirrorSourcePolicy: NeverContactSource if the source "${set.source}" is one of the mirrors`));
  }
  return out;
}

export function validateScope(kind: 'insecure' | 'blocked', scope: string, at: Location): Diagnostic[] {
  return isValidRegistriesConfScope(scope)
    ? []
    : [error(at, `invalid entry for ${kind} registries "${scope}": expected host[:port][/namespace...] or *.domain`)];
}

/**
 * What one policy may expand to. A few lines can ask for a million mirrors: 5 000 namespaces
 * listed as insecure under a source with 200 mirrors each inherit the 200 (containers/image
 * uses only the longest matching table, so they must carry them): 1 000 200 mirrors, an
 * 89.5 MB registries.conf, 38 s of render and 1.5 GB, past the daemon's watchdog. So the merge
 * counts what its plan would build, and builds nothing when that is past a bound.
 *
 * The bounds are far above any real policy: oc-mirror, for a large operator catalog, writes
 * some 10 000 ImageDigestMirrorSet entries of one or two mirrors each, which renders 10 000
 * tables, 20 000 mirrors and 3.4 MB in under 2 s. A policy at every bound renders in about
 * 5 s of one core, well inside the daemon's 30 s watchdog (pinged every 15 s). Constants, in
 * mirror-policy.d(5), so that `check`, `render` and the daemon agree on what is valid.
 */
import { error, formatLocation, type Diagnostic, type Location } from '../core/diagnostic.js';
import type { Inheritance } from './merge.js';
import { registryScope, type RegistriesConf, type RegistryTable } from '../registries-conf/model.js';
import { renderedMirrorLength, renderedTableLength } from '../registries-conf/render.js';
import { byteOrderCompare } from '../core/byte-order.js';

export interface PolicyBounds {
  /** [[registry]] tables in the output: ten times the largest real policy, and room for a 90 000-entry insecure list. */
  readonly maxTables: number;
  /** Mirrors of one table: containers/image tries them one after another, so a thousand is already far past useful. */
  readonly maxMirrorsPerTable: number;
  /** Mirrors in the output, inherited ones included: five to ten times the largest real policy. */
  readonly maxMirrors: number;
  /** Size of the output's tables (five times the largest real policy): every podman, CRI-O and skopeo run parses the whole file. */
  readonly maxOutputBytes: number;
}

export const DEFAULT_BOUNDS: PolicyBounds = {
  maxTables: 100_000,
  maxMirrorsPerTable: 1_000,
  maxMirrors: 100_000,
  maxOutputBytes: 16 * 1024 * 1024,
};

/** A count and who contributes to it: a problem is reported at the file that contributes the most. */
class Tally {
  total = 0;
  private readonly byFile = new Map<string, { n: number; first: Location }>();

  add(at: Location, n: number): void {
    this.total += n;
    const entry = this.byFile.get(at.file);
    if (entry) entry.n += n;
    else this.byFile.set(at.file, { n, first: at });
  }

  of(file: string): number {
    return this.byFile.get(file)?.n ?? 0;
  }

  /** The file that contributes the most (on a tie the last in merge order, as with the cap on fragments), and where it first does. */
  largest(): { n: number; first: Location } {
    let best: { file: string; n: number; first: Location } | undefined;
    for (const [file, entry] of this.byFile) {
      if (!best || entry.n > best.n || (entry.n === best.n && byteOrderCompare(file, best.file) > 0)) best = { file, ...entry };
    }
    return best ?? { n: 0, first: { file: 'registries.conf' } };
  }
}

function tableOrigin(t: RegistryTable): Location {
  return t.origin ?? { file: 'registries.conf' };
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function megabytes(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * Why a fragment's share is so large when it is mostly inherited mirrors: the mirrored scope
 * whose mirrors its nested tables would copy most, and where those mirrors come from (the
 * other side, for the daemon's "the most recently changed gives way").
 */
function inheritedShare(file: string, plan: readonly Inheritance[], mirrors: Tally): { at: Location; text: string; related: Location[] } | undefined {
  const byFrom = new Map<RegistryTable, number>();
  let inherited = 0;
  for (const step of plan) {
    if (tableOrigin(step.table).file !== file) continue;
    byFrom.set(step.from, (byFrom.get(step.from) ?? 0) + 1);
    inherited += step.from.mirrors.length;
  }
  if (inherited * 2 < mirrors.of(file)) return undefined; // mostly its own mirrors: nothing to explain
  let top: [RegistryTable, number] | undefined;
  for (const entry of byFrom) if (!top || entry[0].mirrors.length * entry[1] > top[0].mirrors.length * top[1]) top = entry;
  if (!top) return undefined;
  const [from, nested] = top;
  const at = tableOrigin(plan.find((step) => step.from === from && tableOrigin(step.table).file === file)?.table ?? from);
  const mirrorsAt = from.mirrors[0]?.origin ?? tableOrigin(from);
  const related = [
    ...new Map(
      from.mirrors
        .map((m) => m.origin ?? tableOrigin(from))
        .filter((at) => at.file !== file)
        .map((at) => [at.file, at]),
    ).values(),
  ];
  return {
    at,
    text: `${plural(nested, 'scope')} here ${nested === 1 ? 'is' : 'are'} nested in "${registryScope(from)}" and would each inherit its ${plural(from.mirrors.length, 'mirror')} (listed at ${formatLocation(mirrorsAt)}), so that containers/image keeps using them there; list one scope around them instead, or fewer mirrors`,
    related,
  };
}

/** The length the plan adds to an inheriting table: its mirrored scope's mirrors, measured once however many tables inherit them. */
function inheritedLengths(): (step: Inheritance) => number {
  const fromLength = new Map<RegistryTable, number>();
  return ({ from, suffix }) => {
    let length = fromLength.get(from);
    if (length === undefined) fromLength.set(from, (length = from.mirrors.reduce((n, m) => n + renderedMirrorLength(m), 0)));
    return length + from.mirrors.length * suffix.length;
  };
}

/**
 * Whether the configuration and its plan are within every bound: the totals alone, without the
 * count per file that a message needs (checkBounds tallies those only past a bound: three maps
 * updated for each of 10 000 tables and 30 000 mirrors were a tenth of a daemon's render).
 */
function withinBounds(conf: RegistriesConf, plan: readonly Inheritance[], bounds: PolicyBounds): boolean {
  if (conf.registries.length > bounds.maxTables) return false;
  let mirrors = 0;
  let bytes = 0;
  for (const t of conf.registries) {
    if (t.mirrors.length > bounds.maxMirrorsPerTable) return false;
    bytes += renderedTableLength(t);
    mirrors += t.mirrors.length;
    for (const m of t.mirrors) bytes += renderedMirrorLength(m);
  }
  const inherited = inheritedLengths();
  for (const step of plan) {
    mirrors += step.from.mirrors.length;
    bytes += inherited(step);
  }
  return mirrors <= bounds.maxMirrors && bytes <= bounds.maxOutputBytes;
}

/** The first bound the merged configuration plus its inheritance plan would exceed, as located errors; none when within bounds. */
export function checkBounds(conf: RegistriesConf, plan: readonly Inheritance[], bounds: PolicyBounds = DEFAULT_BOUNDS): Diagnostic[] {
  if (withinBounds(conf, plan, bounds)) return [];
  const tables = new Tally();
  for (const t of conf.registries) tables.add(tableOrigin(t), 1);
  if (tables.total > bounds.maxTables) {
    const top = tables.largest();
    return [
      error(
        top.first,
        `the policy would render ${tables.total} [[registry]] tables, more than the limit of ${bounds.maxTables} (${top.n} of them from this file); see LIMITS in mirror-policy.d(5)`,
      ),
    ];
  }

  const mirrors = new Tally();
  const bytes = new Tally();
  for (const t of conf.registries) {
    bytes.add(tableOrigin(t), renderedTableLength(t));
    if (t.mirrors.length > bounds.maxMirrorsPerTable) {
      const own = new Tally();
      for (const m of t.mirrors) own.add(m.origin ?? tableOrigin(t), 1);
      const top = own.largest();
      return [
        error(
          top.first,
          `[[registry]] "${registryScope(t)}" would have ${t.mirrors.length} mirrors, more than the limit of ${bounds.maxMirrorsPerTable} per table (${top.n} of them from this file); see LIMITS in mirror-policy.d(5)`,
        ),
      ];
    }
    for (const m of t.mirrors) {
      const at = m.origin ?? tableOrigin(t);
      mirrors.add(at, 1);
      bytes.add(at, renderedMirrorLength(m));
    }
  }
  const inherited = inheritedLengths();
  for (const step of plan) {
    mirrors.add(tableOrigin(step.table), step.from.mirrors.length);
    bytes.add(tableOrigin(step.table), inherited(step));
  }

  const over = (tally: Tally, what: (n: number) => string, limit: string): Diagnostic[] => {
    const top = tally.largest();
    const share = inheritedShare(top.first.file, plan, mirrors);
    const why = share ? `: ${share.text}` : '';
    const e = error(
      share?.at ?? top.first,
      `the policy would render ${what(tally.total)}, more than the limit of ${limit} (${what(top.n)} from this file${why}); see LIMITS in mirror-policy.d(5)`,
    );
    return [share && share.related.length > 0 ? { ...e, related: share.related } : e];
  };
  if (mirrors.total > bounds.maxMirrors) return over(mirrors, (n) => plural(n, 'mirror'), String(bounds.maxMirrors));
  if (bytes.total > bounds.maxOutputBytes) return over(bytes, (n) => `about ${megabytes(n)} of registries.conf`, megabytes(bounds.maxOutputBytes));
  return [];
}

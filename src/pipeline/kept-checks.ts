/**
 * The checks of a render that depend on one name or on one table alone, kept across renders
 * (the daemon keeps one; issue #15): at 10 000 fragments, judging every location again,
 * rendering every table and parsing the whole output back took most of a render in which one
 * fragment changed. Each is a pure function of its key (a name; a table's content, tableKey),
 * so an answer kept is the answer a fresh check would give. Swept after each render
 * (SweepCache): what the render did not use is forgotten.
 */
import { SweepCache } from '../core/sweep-cache.js';
import { MergeMemo } from '../merge/merge.js';
import type { RegistriesConf, RegistryTable } from '../registries-conf/model.js';
import { renderTable } from '../registries-conf/render.js';
import { RewriteChecks } from '../registries-conf/validate.js';

/** RewriteChecks answering from, and adding to, the names (and the locations below which a sample name is checked) kept from the renders before. */
class KeptRewriteChecks extends RewriteChecks {
  constructor(
    private readonly kept: SweepCache<{ readonly problem?: string }>,
    private readonly keptBelow: SweepCache<{ readonly problem?: string }>,
  ) {
    super();
  }

  override problemBelow(location: string): string | undefined {
    return remembered(this.keptBelow, location, () => super.problemBelow(location));
  }

  override problem(name: string): string | undefined {
    return remembered(this.kept, name, () => super.problem(name));
  }
}

/** The answer kept for `key` (a problem or none), else `judge`'s, kept for the renders after. */
function remembered(cache: SweepCache<{ readonly problem?: string }>, key: string, judge: () => string | undefined): string | undefined {
  const hit = cache.get(key);
  if (hit !== undefined) return hit.problem;
  const problem = judge();
  cache.set(key, problem === undefined ? {} : { problem });
  return problem;
}

/** What is known of a table by its content (tableKey). */
export interface KeptTable {
  /** renderTable of it. */
  readonly section: string;
  /** Its rewrite checks (validateTableRewrites) found nothing to say, neither error nor warning. */
  rewritesClean: boolean;
  /** A section of a rendered file, as cut from it, that parsed back to exactly this table's data. */
  parsedBackAs?: string;
}

/**
 * Everything renderTable, the parse-back's expected data and validateTableRewrites read of a
 * table, unambiguously (strings length-prefixed); not its origin, which only locates messages,
 * and a check that has a message to give is never skipped.
 */
export function tableKey(t: RegistryTable): string {
  let k = `${str(t.prefix)}${str(t.location)}${t.insecure ? 'i' : '.'}${t.blocked ? 'b' : '.'}${t.mirrorByDigestOnly ? 'd' : '.'}`;
  for (const m of t.mirrors) k += `${str(m.location)}${m.insecure ? 'i' : '.'}${str(m.pullFromMirror)}`;
  return k;
}

function str(s: string | undefined): string {
  return s === undefined ? '-' : `${s.length}:${s}`;
}

export class KeptChecks {
  private readonly names = new SweepCache<{ readonly problem?: string }>();
  /** problemBelow's answers, by location. */
  private readonly below = new SweepCache<{ readonly problem?: string }>();
  private readonly tables = new SweepCache<KeptTable>();
  /** The merged mirror lists of the renders before. */
  readonly merge = new MergeMemo();

  /** The rewrite checks of one render. */
  rewriteChecks(): RewriteChecks {
    return new KeptRewriteChecks(this.names, this.below);
  }

  /** What is kept of each table of `conf` (rendered at first sight), by the table object. */
  tablesOf(conf: RegistriesConf): Map<RegistryTable, KeptTable> {
    const out = new Map<RegistryTable, KeptTable>();
    for (const t of conf.registries) {
      const key = tableKey(t);
      let kept = this.tables.get(key);
      if (kept === undefined) {
        kept = { section: renderTable(t), rewritesClean: false };
        this.tables.set(key, kept);
      }
      out.set(t, kept);
    }
    return out;
  }

  /** Names and tables kept (for tests: stays that of one render). */
  get size(): number {
    return this.names.size + this.below.size + this.tables.size;
  }

  /** Ends a render: what it did not use is forgotten. */
  sweep(): void {
    this.names.sweep();
    this.below.sweep();
    this.tables.sweep();
    this.merge.sweep();
  }

  clear(): void {
    this.names.clear();
    this.below.clear();
    this.tables.clear();
    this.merge.clear();
  }
}

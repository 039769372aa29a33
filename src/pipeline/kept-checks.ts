/**
 * The checks of a render that depend on one name or on one table alone, kept across renders
 * (the daemon keeps one; issue #15): at 10 000 fragments, judging every location again,
 * rendering every table and parsing the whole output back took most of a render in which one
 * fragment changed. Each is a pure function of its key (a name; a table's content, sameTableContent),
 * so an answer kept is the answer a fresh check would give. Swept after each render
 * (SweepCache): what the render did not use is forgotten.
 */
import { SweepCache } from '../core/sweep-cache.js';
import { MergeMemo } from '../merge/merge.js';
import { cloneTable, registryScope, sameTableContent, type RegistriesConf, type RegistryTable } from '../registries-conf/model.js';
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

/** What is known of a table by its content (sameTableContent). */
export interface KeptTable {
  /** renderTable of it. */
  readonly section: string;
  /** Its rewrite checks (validateTableRewrites) found nothing to say, neither error nor warning. */
  rewritesClean: boolean;
  /** A section of a rendered file, as cut from it, that parsed back to exactly this table's data. */
  parsedBackAs?: string;
}

export class KeptChecks {
  private readonly names = new SweepCache<{ readonly problem?: string }>();
  /** problemBelow's answers, by location. */
  private readonly below = new SweepCache<{ readonly problem?: string }>();
  /** By scope: the table's content when first seen (a copy) and what is known of it. */
  private readonly tables = new SweepCache<{ readonly content: RegistryTable; readonly kept: KeptTable }>();
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
      const scope = registryScope(t);
      const hit = this.tables.get(scope);
      if (hit !== undefined && sameTableContent(hit.content, t)) {
        out.set(t, hit.kept);
        continue;
      }
      // New or changed (or a second table of the same scope, an error validateConf reports): known afresh.
      const kept: KeptTable = { section: renderTable(t), rewritesClean: false };
      this.tables.set(scope, { content: cloneTable(t), kept });
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

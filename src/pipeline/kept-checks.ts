/**
 * The checks of a render that depend on one name or on one rendered table alone, kept across
 * renders (the daemon keeps one; issue #15): at 10 000 fragments, judging every location again
 * and parsing the whole output back took most of a render in which one fragment changed. Both
 * are pure functions of their key, so an answer kept is the answer a fresh check would give.
 * Swept after each render (SweepCache): what the render did not use is forgotten.
 */
import { parse as parseToml } from 'smol-toml';
import { SweepCache } from '../core/sweep-cache.js';
import { RewriteChecks } from '../registries-conf/validate.js';

/** RewriteChecks answering from, and adding to, the names kept from the renders before. */
class KeptRewriteChecks extends RewriteChecks {
  constructor(private readonly kept: SweepCache<{ readonly problem?: string }>) {
    super();
  }

  override problem(name: string): string | undefined {
    const hit = this.kept.get(name);
    if (hit !== undefined) return hit.problem;
    const problem = super.problem(name);
    this.kept.set(name, problem === undefined ? {} : { problem });
    return problem;
  }
}

export class KeptChecks {
  private readonly names = new SweepCache<{ readonly problem?: string }>();
  /** A table's rendered text → what smol-toml reads back from it, as JSON (plain data). */
  private readonly tables = new SweepCache<string>();

  /** The rewrite checks of one render. */
  rewriteChecks(): RewriteChecks {
    return new KeptRewriteChecks(this.names);
  }

  /** What `toml` (one rendered section) reads back as, as JSON; throws what the parser throws. */
  parsedBack(toml: string): string {
    const hit = this.tables.get(toml);
    if (hit !== undefined) return hit;
    const json = JSON.stringify(parseToml(toml));
    this.tables.set(toml, json);
    return json;
  }

  /** Names and tables kept (for tests: stays that of one render). */
  get size(): number {
    return this.names.size + this.tables.size;
  }

  /** Ends a render: what it did not use is forgotten. */
  sweep(): void {
    this.names.sweep();
    this.tables.sweep();
  }

  clear(): void {
    this.names.clear();
    this.tables.clear();
  }
}

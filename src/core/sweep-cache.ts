/**
 * A cache that forgets what a pass did not use: `get` and `set` mark a key as used, and
 * `sweep()` at the end of a pass drops every key the pass left alone (a fragment removed, a
 * content replaced). The daemon keeps one across renders (issue #15: a render re-read and
 * re-parsed every fragment); its size stays that of one pass. Pure.
 *
 * Each entry carries the number of the pass that last used it (not a set of used keys: at
 * 50 000 keys a pass, that set's growth cost more than the lookups it served).
 */
export class SweepCache<V> {
  private readonly entries = new Map<string, { value: V; pass: number }>();
  private pass = 0;

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    e.pass = this.pass;
    return e.value;
  }

  set(key: string, value: V): void {
    this.entries.set(key, { value, pass: this.pass });
  }

  /** Ends a pass: what it did not use is forgotten. */
  sweep(): void {
    for (const [key, e] of this.entries) if (e.pass !== this.pass) this.entries.delete(key);
    this.pass++;
  }

  clear(): void {
    this.entries.clear();
    this.pass++;
  }
}

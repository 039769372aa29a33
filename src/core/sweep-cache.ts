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
  private entries = new Map<string, { value: V; pass: number }>();
  private pass = 0;
  /** Entries this pass has used so far: how much a sweep will keep. */
  private used = 0;

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.pass !== this.pass) {
      e.pass = this.pass;
      this.used++;
    }
    return e.value;
  }

  set(key: string, value: V): void {
    const e = this.entries.get(key);
    if (e === undefined || e.pass !== this.pass) this.used++;
    this.entries.set(key, { value, pass: this.pass });
  }

  /**
   * Ends a pass: what it did not use is forgotten. When most entries go (a daemon's first change
   * after its start leaves the 40 000 names its start judged unused: deleting them one by one took
   * 20 ms), the few kept are copied to a new map instead.
   */
  sweep(): void {
    if (this.used === 0) this.entries = new Map();
    else if (this.used * 2 < this.entries.size) {
      const kept = new Map<string, { value: V; pass: number }>();
      for (const [key, e] of this.entries) if (e.pass === this.pass) kept.set(key, e);
      this.entries = kept;
    } else for (const [key, e] of this.entries) if (e.pass !== this.pass) this.entries.delete(key);
    this.pass++;
    this.used = 0;
  }

  clear(): void {
    this.entries = new Map();
    this.pass++;
    this.used = 0;
  }
}

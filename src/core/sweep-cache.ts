/**
 * A cache that forgets what a pass did not use: `get` and `set` mark a key as used, and
 * `sweep()` at the end of a pass drops every key the pass left alone (a fragment removed, a
 * content replaced). The daemon keeps one across renders (issue #15: a render re-read and
 * re-parsed every fragment); its size stays that of one pass. Pure.
 */
export class SweepCache<V> {
  private readonly entries = new Map<string, V>();
  private used = new Set<string>();

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) this.used.add(key);
    return v;
  }

  set(key: string, value: V): void {
    this.entries.set(key, value);
    this.used.add(key);
  }

  /** Ends a pass: what it did not use is forgotten. */
  sweep(): void {
    for (const key of this.entries.keys()) if (!this.used.has(key)) this.entries.delete(key);
    this.used = new Set();
  }

  clear(): void {
    this.entries.clear();
    this.used = new Set();
  }
}

/**
 * The Authorization values (bearer tokens, basic credentials) an endpoint client keeps, by
 * scope (`repository:NAME:pull`). The daemon's local mirror keeps one client per endpoint for
 * as long as it runs and asks it for every repository its clients name: without a bound, one
 * entry per repository ever pulled (or merely named by a local client) would stay for good. The
 * least recently used scope goes first; one that is gone costs a challenge and a token request.
 */

/** Far more repositories than one pull touches (one, and a cross-repository mount's source). */
export const MAX_TOKEN_SCOPES = 128;

export class TokenCache {
  private readonly values = new Map<string, string>();

  constructor(private readonly max = MAX_TOKEN_SCOPES) {}

  get size(): number {
    return this.values.size;
  }

  get(scope: string): string | undefined {
    const v = this.values.get(scope);
    if (v === undefined) return undefined;
    this.values.delete(scope); // used: to the back of the eviction order
    this.values.set(scope, v);
    return v;
  }

  set(scope: string, value: string): void {
    this.values.delete(scope);
    this.values.set(scope, value);
    if (this.values.size > this.max) this.values.delete(this.values.keys().next().value as string);
  }
}

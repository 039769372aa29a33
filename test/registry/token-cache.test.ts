/**
 * The Authorization values an endpoint client keeps, one per repository scope: a daemon's local
 * mirror asks one client for every repository its clients name, for months, so the cache is
 * bounded by its number of scopes, not by the repositories ever pulled; the scopes in use stay.
 */
import t from 'tap';
import { MAX_TOKEN_SCOPES, TokenCache } from '../../src/registry/token-cache.js';

const scope = (i: number): string => `repository:team/app${i}:pull`;

t.test('the number of scopes kept is the same after N distinct repositories as after 2N', async (t) => {
  const c = new TokenCache(8);
  for (let i = 0; i < 8; i++) c.set(scope(i), `Bearer t${i}`);
  const afterN = c.size;
  for (let i = 8; i < 16; i++) c.set(scope(i), `Bearer t${i}`);
  t.equal(afterN, 8);
  t.equal(c.size, afterN, 'no more after 2N than after N');
  t.equal(c.get(scope(15)), 'Bearer t15', 'the newest is kept');
  t.equal(c.get(scope(0)), undefined, 'the oldest went');
});

t.test('a scope in use is kept: the least recently used goes first', async (t) => {
  const c = new TokenCache(3);
  c.set(scope(1), 'a');
  c.set(scope(2), 'b');
  c.set(scope(3), 'c');
  t.equal(c.get(scope(1)), 'a'); // used: now the most recent
  c.set(scope(4), 'd');
  t.equal(c.get(scope(1)), 'a', 'the one just used stays');
  t.equal(c.get(scope(2)), undefined, 'the least recently used went');
  c.set(scope(3), 'c2'); // renewed, not added
  t.equal(c.size, 3);
  t.equal(c.get(scope(3)), 'c2');
});

t.test('the default bound is far above the scopes of one pull and still small', async (t) => {
  t.ok(MAX_TOKEN_SCOPES >= 16 && MAX_TOKEN_SCOPES <= 1024);
  const c = new TokenCache();
  for (let i = 0; i < 2 * MAX_TOKEN_SCOPES; i++) c.set(scope(i), 'x');
  t.equal(c.size, MAX_TOKEN_SCOPES);
});

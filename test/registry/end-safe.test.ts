/**
 * The socket guard of src/registry/end-safe.ts reaches into undici 7's internals (its kParser
 * symbol). If an upgrade moves it, the guard would quietly do nothing: this fails first.
 * (The body-framing rules are tested in pull-http10.test.ts beside the real HTTP/1.0 mirror.)
 */
import t from 'tap';
import { createRequire } from 'node:module';
import { socketGuardAvailable } from '../../src/registry/end-safe.js';

t.test('the installed undici still has the parser symbol the socket guard needs', async (t) => {
  const undiciVersion = (createRequire(import.meta.url)('undici/package.json') as { version: string }).version;
  t.ok(socketGuardAvailable, `undici ${undiciVersion}: kParser not found in undici/lib/core/symbols.js; re-check nodejs/undici#5360 and end-safe.ts`);
});

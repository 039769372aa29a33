import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { healthState, recordFailure, recordSuccess } from '../../src/health/health.js';
import { healthPath, readHealth, updateHealth } from '../../src/health/store.js';

const E = 'https://m1.example:5000';
const F = 'insecure://m2.example';

/** A record as the file holds it (fields left undefined are not written). */
const asWritten = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function cacheWith(text: string): string {
  const file = healthPath(mkdtempSync(join(tmpdir(), 'mpd-health-store-')));
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

t.test('a missing cache, one that is not JSON, or not ours in shape, reads as empty; an update replaces it', async (t) => {
  t.same(await readHealth(join(mkdtempSync(join(tmpdir(), 'mpd-health-store-')), 'health.json')), {});
  for (const text of ['{"version":1,"endpoints":{"https://m1', '', 'null', '[]', '{"version":2,"endpoints":{}}', '{"version":1,"endpoints":[]}']) {
    const file = cacheWith(text);
    t.same(await readHealth(file), {}, JSON.stringify(text));
    const down = recordFailure(undefined, E, 'refused', 'connection refused', 1000);
    t.same(await updateHealth(file, { [E]: down }), { [E]: down }, `${JSON.stringify(text)}: the update is kept`);
    t.same((JSON.parse(readFileSync(file, 'utf8')) as { endpoints: unknown }).endpoints, asWritten({ [E]: down }));
  }
});

t.test('a malformed record is not believed: it reads as unknown, and the next update for its endpoint replaces it', async (t) => {
  const good = asWritten(recordSuccess(undefined, F, 5));
  const malformed: unknown[] = [
    {}, // no updatedAt: no newer record would ever win the merge against it
    { endpoint: E, failures: 1, downUntil: Number.MAX_SAFE_INTEGER }, // down for ever, and sticky
    { endpoint: E, failures: 1, downUntil: '99999999999999', updatedAt: 1 },
    { endpoint: E, failures: 'x', updatedAt: 1 },
    { endpoint: E, failures: 1, updatedAt: 1, lastFailure: 'refused' }, // status would show "1 × undefined"
    { endpoint: E, failures: 0, updatedAt: 1, latencyMs: '12' },
    5,
    'down',
    null,
  ];
  for (const record of malformed) {
    const file = cacheWith(JSON.stringify({ version: 1, endpoints: { [E]: record, [F]: good } }));
    const read = await readHealth(file);
    t.equal(healthState(read[E], 10), 'unknown', `${JSON.stringify(record)} is not believed`);
    t.same(read[F], good, 'the well-formed record beside it is kept');
    const success = asWritten(recordSuccess(undefined, E, 2000, 7));
    const merged = await updateHealth(file, { [E]: success });
    t.same(merged[E], success, `${JSON.stringify(record)}: the update replaces it`);
    t.same((JSON.parse(readFileSync(file, 'utf8')) as { endpoints: Record<string, unknown> }).endpoints[E], success);
  }
});

t.test('a record written after now (the clock was stepped back since) is not believed: a success now replaces it', async (t) => {
  const now = Date.now();
  const day = 24 * 3600_000;
  // written while the clock was a day ahead: down "until tomorrow", and newer than anything written now
  const ahead = recordFailure(undefined, E, 'refused', 'connection refused', now + day);
  const file = cacheWith(JSON.stringify({ version: 1, endpoints: { [E]: ahead } }));
  t.equal(healthState((await readHealth(file))[E], now), 'unknown');
  const success = asWritten(recordSuccess(undefined, E, now, 3));
  t.same((await updateHealth(file, { [E]: success }))[E], success, 'the success is written');
  t.equal(healthState((await readHealth(file))[E], now), 'up');
  const slightlyAhead = asWritten(recordSuccess(undefined, F, now + 1000));
  t.same((await readHealth(cacheWith(JSON.stringify({ version: 1, endpoints: { [F]: slightlyAhead } }))))[F], slightlyAhead, 'a second ahead is kept');
});

t.test('an update drops the records of endpoints not heard of for a week: the cache does not keep every endpoint ever used', async (t) => {
  const now = Date.now();
  const day = 24 * 3600_000;
  const gone = asWritten(recordSuccess(undefined, 'https://old-mirror.example', now - 8 * day));
  const quiet = asWritten(recordFailure(undefined, F, 'refused', 'connection refused', now - 6 * day));
  const file = cacheWith(JSON.stringify({ version: 1, endpoints: { 'https://old-mirror.example': gone, [F]: quiet } }));
  t.same(Object.keys(await readHealth(file)).sort(), ['https://old-mirror.example', F].sort(), 'reading drops nothing');
  const success = asWritten(recordSuccess(undefined, E, now, 3));
  t.same(await updateHealth(file, { [E]: success }), { [F]: quiet, [E]: success }, 'the week-old record is gone, the six-day-old one kept');
  t.same((JSON.parse(readFileSync(file, 'utf8')) as { endpoints: unknown }).endpoints, { [F]: quiet, [E]: success }, 'and so is the file');
});

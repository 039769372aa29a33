import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mirrorEndpoints, probeAll, startProber } from '../../../src/health/prober.js';
import { endpointKey, healthState } from '../../../src/health/health.js';
import { readHealth } from '../../../src/health/store.js';
import { createLogger } from '../../../src/core/log.js';
import { registryFor } from '../../helpers/registry.js';
import { refusingHost, startSilentListener } from '../../helpers/fault-proxy.js';

t.test('the mirror endpoints of a rendered file, each once', async (t) => {
  t.same(
    mirrorEndpoints({
      registries: [
        { location: 'quay.io', mirrors: [{ location: 'm1.example:5000/a' }, { location: 'm2.example/b', insecure: true }] },
        { location: 'docker.io', mirrors: [{ location: 'm1.example:5000/c' }] },
      ],
    }),
    [
      { host: 'm1.example:5000', insecure: false },
      { host: 'm2.example', insecure: true },
    ],
  );
});

t.test('probes mark a live registry up and a refused or hung one down, in the shared cache', async (t) => {
  const live = await registryFor(t);
  const hung = await startSilentListener();
  t.teardown(() => hung.close());
  const dead = await refusingHost();
  const targets = [
    { host: live.host, insecure: true },
    { host: dead, insecure: false },
    { host: hung.host, insecure: false },
  ];
  // Deadlines a loaded machine's live registry surely meets (two round trips: https, then http); the hung one costs them once.
  const timeouts = { connectMs: 3000, headersMs: 5000, bodyIdleMs: 5000 };
  const r = await probeAll(targets, {}, { timeouts });
  t.equal(healthState(r[endpointKey(live.host, true)], Date.now()), 'up');
  t.equal(healthState(r[endpointKey(dead, false)], Date.now()), 'down');
  t.equal(r[endpointKey(dead, false)]?.lastFailure?.class, 'refused');
  t.equal(healthState(r[endpointKey(hung.host, false)], Date.now()), 'down');

  const file = join(mkdtempSync(join(tmpdir(), 'mpd-probe-')), 'health.json');
  const prober = startProber(() => targets, file, 50, createLogger({ level: 'silent' }), timeouts);
  t.teardown(() => prober.stop());
  const deadline = Date.now() + 30_000; // a round waits out the hung host (5 s)
  while (Date.now() < deadline && Object.keys(await readHealth(file)).length < 3) await new Promise((r) => setTimeout(r, 50));
  const stored = await readHealth(file);
  t.same(Object.keys(stored).sort(), targets.map((x) => endpointKey(x.host, x.insecure)).sort(), 'every endpoint in the file');
  t.equal(healthState(stored[endpointKey(dead, false)], Date.now()), 'down');
});

t.test('each round hands its results to the listener; a round that fails does not end the probing', async (t) => {
  const live = await registryFor(t);
  const dead = await refusingHost();
  const targets = [
    { host: live.host, insecure: true },
    { host: dead, insecure: false },
  ];
  const file = join(mkdtempSync(join(tmpdir(), 'mpd-probe-')), 'health.json');
  const rounds: Array<Record<string, number>> = [];
  const failedAt: Array<number | undefined> = []; // the refused one's last failure, as each round recorded it
  const prober = startProber(
    () => targets,
    file,
    100,
    createLogger({ level: 'silent' }),
    { connectMs: 5000, headersMs: 5000, bodyIdleMs: 5000 }, // a live and a refusing host: nothing waits them out
    (updates) => {
      rounds.push(Object.fromEntries(Object.entries(updates).map(([k, h]) => [k, h.failures])));
      failedAt.push(updates[endpointKey(dead, false)]?.lastFailure?.at);
      if (rounds.length === 1) throw new Error('listener failed once');
    },
  );
  t.teardown(() => prober.stop());
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && rounds.length < 3) await new Promise((r) => setTimeout(r, 50));
  t.ok(rounds.length >= 3, `probing went on after the failed round (${rounds.length} rounds)`);
  t.equal(rounds[0]?.[endpointKey(live.host, true)], 0, 'the live one succeeded');
  t.ok((rounds[2]?.[endpointKey(dead, false)] ?? 0) >= 1, 'the refused one failed in every round');
  // Within its down time its failures are one outage (recordFailure), but each round's is recorded.
  t.ok((failedAt[2] ?? 0) > (failedAt[0] ?? Infinity), "the third round's failure recorded after the first's");
});

t.test('a health cache that cannot be written: logged once, and a down mirror is still logged down once, not at every round', async (t) => {
  const dead = await refusingHost();
  const dir = mkdtempSync(join(tmpdir(), 'mpd-probe-'));
  writeFileSync(join(dir, 'not-a-dir'), '');
  const file = join(dir, 'not-a-dir', 'health.json'); // its parent is a file: every write fails
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  let rounds = 0;
  const prober = startProber(
    () => [{ host: dead, insecure: false }],
    file,
    20,
    log,
    { connectMs: 1000, headersMs: 1000, bodyIdleMs: 1000 },
    () => {
      rounds++;
    },
  );
  t.teardown(() => prober.stop());
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && rounds < 4) await new Promise((r) => setTimeout(r, 20));
  prober.stop();
  t.ok(rounds >= 4, 'several rounds');
  t.equal(lines.filter((l) => /^mirror .* is down/.test(l.msg)).length, 1, 'the mirror is down: once');
  t.equal(lines.filter((l) => /^health cache .* not updated/.test(l.msg)).length, 1, 'the cache write failure: once');
});

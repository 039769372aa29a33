import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mirrorEndpoints, probeAll, startProber } from '../../src/daemon/prober.js';
import { endpointKey, healthState } from '../../src/health.js';
import { readHealth } from '../../src/health-store.js';
import { createLogger } from '../../src/log.js';
import { registryFor } from '../helpers/registry.js';
import { refusingHost, startSilentListener } from '../helpers/fault-proxy.js';

t.test('the mirror endpoints of a rendered file, each once', async (t) => {
  t.same(
    mirrorEndpoints({
      registries: [
        { location: 'quay.io', mirrors: [{ location: 'm1.example:5000/a' }, { location: 'm2.example/b', insecure: true }] },
        { location: 'docker.io', mirrors: [{ location: 'm1.example:5000/c' }] },
      ],
    }),
    [{ host: 'm1.example:5000', insecure: false }, { host: 'm2.example', insecure: true }],
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
  const fast = { connectMs: 500, headersMs: 500, bodyIdleMs: 500 };
  const r = await probeAll(targets, {}, { timeouts: fast });
  t.equal(healthState(r[endpointKey(live.host, true)], Date.now()), 'up');
  t.equal(healthState(r[endpointKey(dead, false)], Date.now()), 'down');
  t.equal(r[endpointKey(dead, false)]?.lastFailure?.class, 'refused');
  t.equal(healthState(r[endpointKey(hung.host, false)], Date.now()), 'down');

  const file = join(mkdtempSync(join(tmpdir(), 'mpd-probe-')), 'health.json');
  const prober = startProber(() => targets, file, 50, createLogger({ level: 'silent' }), fast);
  t.teardown(() => prober.stop());
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && Object.keys(await readHealth(file)).length < 3) await new Promise((r) => setTimeout(r, 50));
  const stored = await readHealth(file);
  t.same(Object.keys(stored).sort(), targets.map((x) => endpointKey(x.host, x.insecure)).sort(), 'every endpoint in the file');
  t.equal(healthState(stored[endpointKey(dead, false)], Date.now()), 'down');
});

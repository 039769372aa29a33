/**
 * The local mirror in tests: a registries.conf (under a temp dir) that lists the endpoint
 * first and the given real mirrors after it, as the renderer does, the endpoint started on
 * it, and skopeo pointed at the same file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/core/log.js';
import { localMirrorLocation } from '../../src/local-mirror/mapping.js';
import { healthBook, type HealthBook } from '../../src/local-mirror/upstream.js';
import { startLocalMirror, type LocalMirror, type LocalMirrorOptions } from '../../src/local-mirror/server.js';
import { mergeRegistriesConfs } from '../../src/registries-conf/layer.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';
import { parseRegistriesConf } from '../../src/registries-conf/parse.js';
import { freePort } from './registry.js';
import { skopeo, type SkopeoResult } from './skopeo.js';

/** The logical repository every test pulls: nothing resolves it, only the mirrors serve it. */
export const SOURCE = 'source.invalid/app';

export interface LocalMirrorSetup {
  readonly address: string;
  readonly dir: string;
  readonly confFile: string;
  readonly conf: RegistriesConf;
  readonly health: HealthBook;
  /** the endpoint's repository for SOURCE */
  readonly repository: string;
  endpoint: LocalMirror | undefined;
  start(overrides?: Partial<LocalMirrorOptions>): Promise<LocalMirror>;
  /** `skopeo copy docker://SOURCE<suffix> dir:DEST` through the file */
  copy(suffix: string, dest: string): Promise<SkopeoResult>;
  inspect(suffix: string): Promise<SkopeoResult>;
}

/** SOURCE's table: `blocked` (only the mirrors may serve), every mirror's `pull-from-mirror`. */
export interface SourceTable {
  readonly blocked?: boolean;
  readonly pullFromMirror?: 'digest-only' | 'tag-only';
  /** One mirror's own pull-from-mirror, by location (over `pullFromMirror`). */
  readonly mirrorModes?: Readonly<Record<string, 'digest-only' | 'tag-only'>>;
}

export function confText(address: string, mirrors: readonly string[], table: SourceTable = {}): string {
  const modeOf = (location: string): string | undefined => table.mirrorModes?.[location] ?? table.pullFromMirror;
  const mode = (location: string): string => (modeOf(location) ? `pull-from-mirror = "${modeOf(location)}"\n` : '');
  const mirror = (location: string): string => `[[registry.mirror]]\nlocation = "${location}"\ninsecure = true\n${mode(location)}`;
  const blocked = table.blocked ? 'blocked = true\n' : '';
  return `unqualified-search-registries = []\n\n[[registry]]\nprefix = "${SOURCE}"\nlocation = "${SOURCE}"\n${blocked}${[localMirrorLocation(address, SOURCE), ...mirrors].map(mirror).join('')}`;
}

/** `mirrors`: locations (host/path) listed after the endpoint, in order. */
export async function localMirrorSetup(
  t: { teardown(fn: () => unknown): void },
  mirrors: readonly string[],
  base: Partial<LocalMirrorOptions> = {},
  table: SourceTable = {},
): Promise<LocalMirrorSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-local-mirror-'));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const text = confText(address, mirrors, table);
  const confFile = join(dir, 'registries.conf');
  writeFileSync(confFile, text);
  const parsed = parseRegistriesConf(text, confFile);
  if (!parsed.conf) throw new Error(`the test's registries.conf does not parse: ${parsed.diagnostics.map((d) => d.message).join('; ')}`);
  const conf = mergeRegistriesConfs(parsed.conf);
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const log = createLogger({ level: process.env.LOCAL_MIRROR_LOG ?? 'silent' });
  const health = await healthBook(undefined, log);
  const setup: LocalMirrorSetup = {
    address,
    dir,
    confFile,
    conf,
    health,
    repository: localMirrorLocation(address, SOURCE).slice(address.length + 1),
    endpoint: undefined,
    async start(overrides = {}) {
      setup.endpoint = await startLocalMirror({
        listen: { host: '127.0.0.1', port },
        conf,
        health,
        log,
        answerWithinMs: 10_000,
        timeouts: { connectMs: 1000, headersMs: 1500, bodyIdleMs: 3000 },
        ...base,
        ...overrides,
      });
      return setup.endpoint;
    },
    copy: (suffix, dest) =>
      skopeo(['--registries-conf', confFile, 'copy', '--retry-times', '0', '--policy', policy, `docker://${SOURCE}${suffix}`, `dir:${dest}`], {
        timeoutMs: 60_000,
      }),
    inspect: (suffix) =>
      skopeo(['--registries-conf', confFile, 'inspect', '--raw', '--retry-times', '0', `docker://${SOURCE}${suffix}`], { timeoutMs: 60_000 }),
  };
  t.teardown(() => setup.endpoint?.close(1000));
  return setup;
}

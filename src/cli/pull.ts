/**
 * `mirror-policyd pull REF --dest DIR`: the ordered sources of registries.conf (as
 * containers/image orders them), tried with the shared health cache, everything
 * verified, written as an OCI layout. Reports which source served the manifest and
 * each blob.
 */
import { promises as fs } from 'node:fs';
import { UsageError } from '../core/diagnostic.js';
import { DEFAULT_STATE_DIR } from '../core/defaults.js';
import { healthPath, readHealth, updateHealth } from '../health/store.js';
import { createLogger } from '../core/log.js';
import { DEFAULT_TIMEOUTS, type Timeouts } from '../registry/client.js';
import { hostPlatform, parsePlatform, pullImage, PullError, type BlobProgress, type PullReport } from '../registry/pull.js';
import { removePartialBlobs } from '../registry/oci-layout.js';
import { loadRegistriesConf, RegistriesLoadError } from '../registries-conf/load.js';
import { pullSources, ResolveError } from '../sources/sources.js';
import { COMMON_OPTIONS, logSettings, parse } from './args.js';
import { tunePullProcess } from './pull-process.js';
import type { CommandIO } from './commands.js';

const PULL_OPTIONS = {
  ...COMMON_OPTIONS,
  dest: { type: 'string' },
  'registries-conf': { type: 'string' },
  authfile: { type: 'string' },
  'cert-dir': { type: 'string' },
  platform: { type: 'string' },
  'state-dir': { type: 'string' },
  'connect-timeout-ms': { type: 'string' },
  'headers-timeout-ms': { type: 'string' },
  'body-timeout-ms': { type: 'string' },
  json: { type: 'boolean' },
} as const;

function ms(v: string | undefined, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 3_600_000) throw new UsageError(`--${flag} must be a whole number of milliseconds from 1 to 3600000`);
  return Number(v);
}

/** A digest as people compare them: the algorithm and the first 12 hex digits. */
export function shortDigest(digest: string): string {
  const i = digest.indexOf(':');
  return digest.slice(0, i + 13);
}

/** Bytes in binary units, one decimal from KiB on. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** One progress line of a blob: which, how far, from where. */
export function formatProgress(p: BlobProgress): string {
  const pct = p.total > 0 ? Math.floor((Math.min(p.done, p.total) / p.total) * 100) : 100;
  return `blob ${shortDigest(p.digest)} ${formatBytes(p.done)} / ${formatBytes(p.total)} (${pct}%) from ${p.source}`;
}

/**
 * Progress as whole lines (never a redrawn line, which the log lines on the same stderr
 * would break into): a blob's first bytes from a source, then at most one line every
 * `everyMs`, and its last bytes.
 */
export function progressLines(write: (s: string) => void, now: () => number = Date.now, everyMs = 2000): (p: BlobProgress) => void {
  const last = new Map<string, number>();
  return (p) => {
    const key = `${p.digest} ${p.source}`;
    const t = now();
    const prev = last.get(key);
    if (p.done < p.total && prev !== undefined && t - prev < everyMs) return;
    last.set(key, t);
    write(`${formatProgress(p)}\n`);
  };
}

function human(r: PullReport): string {
  const lines = [`${r.reference}`, `  digest:   ${r.digest}${r.verified ? ' (verified)' : ''}`, `  manifest: ${r.manifestFrom}`];
  for (const b of r.blobs) lines.push(`  blob ${shortDigest(b.digest)}… ${String(b.size).padStart(10)} B  ${b.from}`);
  for (const s of r.skipped) lines.push(`  skipped (down): ${s}`);
  for (const a of r.attempts) lines.push(`  failed: ${a.source}: ${a.error}`);
  return `${lines.join('\n')}\n`;
}

export async function pullCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(args, PULL_OPTIONS, 1);
  if (values.help) {
    io.stdout((await import('./usage.js')).usage('pull'));
    return 0;
  }
  const ref = positionals[0];
  if (ref === undefined) throw new UsageError('pull needs a REF (an image reference, as skopeo takes it)');
  if (values.dest === undefined) throw new UsageError('pull needs --dest DIR (the OCI layout to write)');
  const timeouts: Timeouts = {
    connectMs: ms(values['connect-timeout-ms'], 'connect-timeout-ms', DEFAULT_TIMEOUTS.connectMs),
    headersMs: ms(values['headers-timeout-ms'], 'headers-timeout-ms', DEFAULT_TIMEOUTS.headersMs),
    bodyIdleMs: ms(values['body-timeout-ms'], 'body-timeout-ms', DEFAULT_TIMEOUTS.bodyIdleMs),
  };
  let platform = hostPlatform();
  if (values.platform !== undefined) {
    try {
      platform = parsePlatform(values.platform);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const log = io.log ?? createLogger(logSettings(values));
  if (values.authfile !== undefined) {
    try {
      await fs.access(values.authfile);
    } catch {
      log.error(`--authfile ${values.authfile}: no such file`);
      return 1;
    }
  }
  let sources;
  let credentialHelpers: readonly string[] | undefined;
  try {
    const loaded = await loadRegistriesConf({ path: values['registries-conf'] });
    sources = pullSources(loaded.conf, ref);
    credentialHelpers = loaded.conf.credentialHelpers;
  } catch (e) {
    if (e instanceof RegistriesLoadError || e instanceof ResolveError) {
      // a configuration error names its file already; a refused reference is named here, as resolve names it
      log.error(e instanceof ResolveError ? `cannot pull "${ref}": ${e.message}` : e.message);
      return 1;
    }
    throw e;
  }
  const onBlobBytes = tunePullProcess(); // before the first connection
  const store = healthPath(values['state-dir'] ?? DEFAULT_STATE_DIR);
  const health = await readHealth(store);
  const save = async (updates: PullReport['health']): Promise<void> => {
    try {
      await updateHealth(store, updates);
    } catch (e) {
      log.warn(`health cache ${store} not updated: ${(e as Error).message}`);
    }
  };
  const stopped = (signal: NodeJS.Signals): void => {
    removePartialBlobs();
    process.kill(process.pid, signal); // this handler was the only one (once): the default action, the status a signal gives
  };
  for (const signal of STOP_SIGNALS) process.once(signal, stopped);
  try {
    const report = await pullImage(sources.sources, {
      dest: values.dest,
      platform,
      health,
      log,
      timeouts,
      // on a terminal only: a script or a log collector gets the report, not a stream of lines
      ...(process.stderr.isTTY ? { progress: progressLines((line) => void process.stderr.write(line)) } : {}),
      authFile: values.authfile,
      ...(credentialHelpers ? { credentialHelpers } : {}),
      certDir: values['cert-dir'],
      onBlobBytes,
    });
    await save(report.health);
    if (!report.verified)
      log.warn(`pulled by tag: ${report.digest} is the digest ${report.manifestFrom} gave; content from a mirror by tag cannot be verified against the source`);
    const shown = { ...report, reference: sources.reference };
    io.stdout(values.json ? `${JSON.stringify(shown, null, 2)}\n` : human(shown));
    return 0;
  } catch (e) {
    if (e instanceof PullError) {
      await save(e.health);
      log.error(`pull of ${sources.reference} failed: ${e.message}`);
      for (const a of e.attempts) log.error(`  ${a.source}: ${a.error}`);
      return 1;
    }
    throw e;
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, stopped);
  }
}

/** The signals that stop a pull (Ctrl-C, a terminal gone, systemd's or kill's stop): its unfinished blobs are removed first. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * `mirror-policyd resolve REF...`: the sources a pull of each REF tries, in order, exactly as
 * containers/image (skopeo, podman ≤5.8, CRI-O) would try them with the same registries.conf set
 * (read once for all of them). Exit 0 resolved, 1 when containers/image would refuse a reference
 * or the configuration, 2 on usage errors.
 */
import { formatDiagnostic, UsageError } from '../core/diagnostic.js';
import { createLogger } from '../core/log.js';
import { DEFAULT_STATE_DIR } from '../daemon/config.js';
import { endpointKey, healthState, type HealthMap, type HealthState } from '../health/health.js';
import { healthPath, readHealth } from '../health/store.js';
import { loadRegistriesConf, RegistriesLoadError, type LoadedRegistries } from '../registries-conf/load.js';
import { pullSources, ResolveError, type PullSources } from '../sources/sources.js';
import { COMMON_OPTIONS, logSettings, parse } from './args.js';
import type { CommandIO } from './commands.js';
import { usage } from './usage.js';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { containerdAttempts, type ContainerdAttempt } from '../containerd/attempts.js';
import { containerdHostDirNames } from '../containerd/hosts-toml.js';
import { unlessMissing } from '../output/if-exists.js';
import { parseNormalizedNamed } from '../reference/reference.js';

const RESOLVE_OPTIONS = {
  ...COMMON_OPTIONS,
  'registries-conf': { type: 'string' },
  'state-dir': { type: 'string' },
  json: { type: 'boolean' },
  runtime: { type: 'string' },
  'hosts-dir': { type: 'string' },
} as const;

const DEFAULT_CONTAINERD_HOSTS_DIR = '/etc/containerd/certs.d';

/** The directory containerd takes for a host: the first of its names that exists (containerdHostDirNames). */
async function containerdHostDir(hostsDir: string, host: string): Promise<string | undefined> {
  for (const name of containerdHostDirNames(host)) if (await unlessMissing(fs.stat(join(hostsDir, name)))) return name;
  return undefined;
}

/** What one REF resolves to: its report (JSON and text), or why it is refused (exit 1). */
type Resolution = { readonly json: object; readonly text: string } | { readonly reference: string; readonly error: string };

/** `resolve --runtime containerd`: what containerd tries for REF, from the hosts directory. */
async function resolveForContainerd(input: string, hostsDir: string): Promise<Resolution> {
  let ref;
  try {
    ref = parseNormalizedNamed(input);
  } catch (e) {
    return { reference: input, error: `cannot resolve "${input}": ${(e as Error).message}` };
  }
  const file = join(hostsDir, (await containerdHostDir(hostsDir, ref.domain)) ?? ref.domain, 'hosts.toml');
  const text = await unlessMissing(fs.readFile(file, 'utf8'));
  let attempts, content;
  try {
    attempts = containerdAttempts(ref.domain, ref.path, ref.digest !== undefined, text);
    // What a tag resolves to is then fetched by digest, manifests and blobs alike, from every
    // "pull" host in order: digest-only mirrors included (seen with containerd 1.6.20 and ctr).
    content = ref.digest !== undefined ? attempts : containerdAttempts(ref.domain, ref.path, true, text);
  } catch (e) {
    return { reference: input, error: `${file}: ${(e as Error).message}` };
  }
  const lines = [
    input,
    `  containerd: ${text === undefined ? `no ${file}: the registry itself` : file}`,
    ...(ref.digest !== undefined
      ? ['  by digest: hosts with "pull"', '', ...attemptLines(attempts)]
      : [
          '  by tag: hosts with "resolve" resolve the tag',
          '',
          ...attemptLines(attempts),
          '',
          '  then its manifests and blobs, by digest: hosts with "pull"',
          '',
          ...attemptLines(content),
        ]),
  ];
  return { json: { reference: input, hostsToml: text === undefined ? null : file, attempts, content }, text: `${lines.join('\n')}\n` };
}

function attemptLines(attempts: readonly ContainerdAttempt[]): string[] {
  return attempts.map(
    (a, i) =>
      `${i + 1}  ${a.role.padEnd(6)}  ${a.url}  [${a.capabilities.join(', ')}]${a.skipVerify ? '  skip_verify' : ''}${a.localMirror ? '  (the local mirror)' : ''}`,
  );
}

/** The health of a source's endpoint in the shared cache (unknown: never probed or pulled from). */
export type Health = HealthState;

export interface ResolvedSourceJson {
  readonly reference: string;
  readonly endpoint: string;
  readonly role: 'mirror' | 'primary';
  readonly insecure: boolean;
  readonly blocked: boolean;
  readonly health: Health;
}

export interface ResolvedJson {
  readonly reference: string;
  readonly sources: readonly ResolvedSourceJson[];
}

function healthOf(s: PullSources['sources'][number], health: HealthMap, now: number): Health {
  return healthState(health[endpointKey(s.endpoint.host, s.endpoint.insecure)], now);
}

export function resolvedJson(resolved: PullSources, health: HealthMap = {}, now = Date.now()): ResolvedJson {
  return {
    reference: resolved.reference,
    sources: resolved.sources.map((s) => ({
      reference: s.reference,
      endpoint: s.endpoint.host,
      role: s.role,
      insecure: s.endpoint.insecure,
      blocked: s.blocked,
      health: healthOf(s, health, now),
    })),
  };
}

/** A plain text table: one row per source, in the order they are tried. */
export function formatResolved(resolved: PullSources, files: readonly string[], health: HealthMap = {}, now = Date.now()): string {
  const { registry } = resolved;
  let blocked = '';
  if (registry.table.blocked) {
    const primary = resolved.sources.at(-1);
    blocked = primary?.blocked ? ' (blocked)' : ` (blocked; its location "${registry.table.location}" is not under it, so the primary is not refused)`;
  }
  const lines = [
    `${resolved.reference}`,
    registry.implicit ? '  no [[registry]] matches: pulled as it is' : `  [[registry]] prefix "${registry.prefix}"${blocked}`,
    `  configuration: ${files.length > 0 ? files.join(', ') : '(none)'}`,
    '',
  ];
  const rows = resolved.sources.map((s, i) => {
    const flags = [
      s.endpoint.insecure ? 'insecure' : '',
      s.blocked ? `blocked by "${s.blockedBy ?? ''}"` : '',
      s.unusable ? `unusable: ${s.endpoint.host === '' ? 'no registry host' : 'tag and digest'}` : '',
    ].filter((f) => f !== '');
    return [String(i + 1), s.role, s.reference, s.endpoint.host, flags.length > 0 ? flags.join(', ') : '-', healthOf(s, health, now)];
  });
  const header = ['#', 'ROLE', 'REFERENCE', 'ENDPOINT', 'FLAGS', 'HEALTH'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c] ?? 0))).join('  ');
  lines.push(line(header), ...rows.map(line));
  return `${lines.join('\n')}\n`;
}

/**
 * Prints each REF's report in the order given: text blocks a blank line apart; with --json one
 * REF's object as before, several REFs an array (a refused one as {"reference", "error"}, so
 * positions line up). The reasons for refusals go to stderr; any refusal makes the exit 1.
 */
function printResolutions(results: readonly Resolution[], json: boolean, io: CommandIO): number {
  for (const r of results) if ('error' in r) process.stderr.write(`mirror-policyd: ${r.error}\n`);
  if (json) {
    const [only] = results;
    if (results.length > 1) {
      const objects = results.map((r) => ('error' in r ? { reference: r.reference, error: r.error } : r.json));
      io.stdout(`${JSON.stringify(objects, null, 2)}\n`);
    } else if (only && !('error' in only)) io.stdout(`${JSON.stringify(only.json, null, 2)}\n`);
  } else {
    const texts = results.flatMap((r) => ('error' in r ? [] : [r.text]));
    if (texts.length > 0) io.stdout(texts.join('\n'));
  }
  return results.some((r) => 'error' in r) ? 1 : 0;
}

/** What containers/image tries for REF with this configuration (loaded once for every REF). */
function resolveForContainersImage(input: string, loaded: LoadedRegistries, health: HealthMap): Resolution {
  let resolved: PullSources;
  try {
    resolved = pullSources(loaded.conf, input);
  } catch (e) {
    if (!(e instanceof ResolveError)) throw e;
    return { reference: input, error: `cannot resolve "${input}": ${e.message}` };
  }
  return { json: resolvedJson(resolved, health), text: formatResolved(resolved, loaded.files, health) };
}

export async function resolveCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(args, RESOLVE_OPTIONS, Infinity);
  if (values.help) {
    io.stdout(usage('resolve'));
    return 0;
  }
  const log = io.log ?? createLogger(logSettings(values));
  if (positionals.length === 0) throw new UsageError('resolve needs an image reference (REF), e.g. docker.io/library/busybox:latest');
  if (values.runtime !== undefined && values.runtime !== 'containerd' && values.runtime !== 'containers-image')
    throw new UsageError(`--runtime must be containers-image (the default) or containerd, not ${JSON.stringify(values.runtime)}`);
  const json = values.json === true;
  if (values.runtime === 'containerd') {
    const hostsDir = values['hosts-dir'] ?? DEFAULT_CONTAINERD_HOSTS_DIR;
    const results: Resolution[] = [];
    for (const input of positionals) results.push(await resolveForContainerd(input, hostsDir));
    return printResolutions(results, json, io);
  }
  const path = values['registries-conf'];
  if (path === '') throw new UsageError('--registries-conf needs a file name');

  let loaded;
  try {
    loaded = await loadRegistriesConf({ path });
  } catch (e) {
    if (!(e instanceof RegistriesLoadError)) throw e;
    process.stderr.write(`mirror-policyd: ${e.message}\n`);
    for (const d of e.diagnostics.slice(1)) process.stderr.write(`${formatDiagnostic(d)}\n`);
    return 1;
  }
  for (const f of loaded.files) log.debug({ file: f }, `loaded registries configuration ${f}`);
  for (const w of loaded.warnings) log.debug(formatDiagnostic(w));
  const health = await readHealth(healthPath(values['state-dir'] ?? DEFAULT_STATE_DIR));
  return printResolutions(
    positionals.map((input) => resolveForContainersImage(input, loaded, health)),
    json,
    io,
  );
}

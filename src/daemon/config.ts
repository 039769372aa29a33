/**
 * The daemon's settings: an optional TOML config file (default
 * /etc/mirror-policyd/config.toml) with the same names as the flags; flags win.
 * Every setting is a row of run-options.ts; this file reads and checks them.
 * Pure: text and flag values in, a validated DaemonConfig or located errors out.
 */
import { DEFAULT_CONTROL_SOCKET } from '../control/protocol.js';
import { error, type Diagnostic } from '../core/diagnostic.js';
import { DEFAULT_CONFIG, DEFAULT_STATE_DIR } from '../core/defaults.js';
import { FieldReader, describe, didYouMean } from '../core/field-reader.js';
import type { HysteresisPolicy } from '../health/order.js';
import type { LogFormat } from '../core/log-levels.js';
import { parseTomlText, tomlLocator } from '../registries-conf/parse.js';
import { CONFIG_KEYS, FILE_SETTINGS, type ConfigField, type ConfigKey, type RunSetting, type SettingValue } from './run-options.js';

export { CONFIG_KEYS, DEFAULT_CONFIG, DEFAULT_STATE_DIR };
export { DEFAULT_CONTROL_SOCKET }; // one definition, in the control socket's protocol

export interface DaemonConfig {
  readonly policyDir: string;
  readonly output: string;
  /** An explicit base file; otherwise the host's adopted registries.conf in the state dir. */
  readonly base?: string;
  readonly stateDir: string;
  readonly controlSocket: string;
  /** Changes within this window after a render are coalesced into the next one. */
  readonly debounceMs: number;
  /** The safety-net rescan, in case an event was missed. */
  readonly rescanIntervalMs: number;
  /** Background `GET /v2/` probes of every mirror endpoint into the health cache; 0 turns them off. */
  readonly probeIntervalMs: number;
  /** Connect and response-headers deadline of each probe (a hung mirror must not stall the rounds). */
  readonly probeTimeoutMs: number;
  /** List a mirror whose probes fail after the healthy mirrors of its table (needs the probes). */
  readonly healthAwareOrder: boolean;
  /** When a mirror counts as demoted or restored, and how often the file may be rewritten for it. */
  readonly hysteresis: HysteresisPolicy;
  /** node_exporter textfile-collector file, rewritten atomically after each render and probe round. */
  readonly metricsFile?: string;
  /** containerd's hosts directory (issue #16), rendered from the same policy; absent when off. */
  readonly containerdHostsDir?: string;
  /** containerd's config file, read to warn when its CRI plugin does not read containerdHostsDir. */
  readonly containerdConfig: string;
  /** Commands (argv arrays, no shell) run after the output changed, e.g. to reload CRI-O. */
  readonly afterRender: ReadonlyArray<readonly string[]>;
  readonly afterRenderTimeoutMs: number;
  readonly allowUnsafeFragments: boolean;
  /** The cap on a fragment's size: oc-mirror's IDMS for a large catalog is over 1 MB. */
  readonly maxFragmentBytes: number;
  readonly logLevel: string;
  readonly logFormat: LogFormat;
  /** The local mirror's HOST:PORT (issue #14), as written in registries.conf; absent when off, the default. */
  readonly localMirror?: string;
  /** May the local mirror use the host's credentials (auth files) upstream? Off unless set. */
  readonly localMirrorCredentials: boolean;
  /** Accept a local-mirror address outside 127.0.0.0/8. */
  readonly localMirrorAllowNonLoopback: boolean;
}

export type ConfigValues = Partial<Record<ConfigKey, string | number | boolean | string[][]>>;

type Fail = (message: string) => void;

/**
 * `x` read as `value` says, or undefined after `fail`. A flag gives a string (`--debounce-ms 100`),
 * the file a TOML value: there a number in quotes is a string, as containers' own TOML readers
 * would have it, and is refused rather than read.
 */
function readValue(key: string, x: string | number | boolean | string[][], value: SettingValue, fromFlag: boolean, fail: Fail): unknown {
  switch (value.type) {
    case 'string':
      if (typeof x !== 'string' || x === '') return void fail(`"${key}" must be a non-empty string, not ${x === '' ? 'an empty string' : describe(x)}`);
      return x;
    case 'whole': {
      const digits = typeof x === 'string' && /^\d+$/.test(x);
      const n = digits && fromFlag ? Number(x) : x;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < value.min || n > value.max) {
        // String(x) for numbers: JSON.stringify would print inf and nan as "null".
        const fix = digits && !fromFlag ? ` (a TOML number has no quotes: ${key} = ${x})` : '';
        return void fail(
          `"${key}" must be a whole number from ${value.min} to ${value.max}, not ${typeof x === 'number' ? String(x) : JSON.stringify(x)}${fix}`,
        );
      }
      return n;
    }
    case 'boolean':
      if (typeof x !== 'boolean') return void fail(`"${key}" must be true or false`);
      return x;
    case 'choice': {
      const s = readValue(key, x, { type: 'string' }, fromFlag, fail);
      if (s === undefined) return undefined;
      if (!value.of.includes(s as string))
        return void fail(`"${key}" must be ${value.of.length === 2 ? value.of.join(' or ') : `one of ${value.of.join(', ')}`}`);
      return s;
    }
    case 'commands':
      if (!Array.isArray(x) || !x.every((c) => Array.isArray(c) && c.length > 0 && c.every((a) => typeof a === 'string'))) {
        return void fail(`"${key}" must be an array of commands, each an array of strings: [["/usr/bin/systemctl", "try-reload-or-restart", "crio.service"]]`);
      }
      return x;
  }
}

/** Sets `field` (`parent.child` for a nested one) of the config being built. */
function setField(config: Record<string, unknown>, field: ConfigField, v: unknown): void {
  const [name, child] = field.split('.') as [string, string | undefined];
  config[name] = child === undefined ? v : { ...(config[name] as object), [child]: v };
}

/**
 * The DaemonConfig of the settings' values, each setting's default where it has no value.
 * Every field is set by a row (the config tests compare whole configs), hence the cast.
 */
function configFrom(values: ReadonlyMap<RunSetting, unknown>): DaemonConfig {
  const config: Record<string, unknown> = {};
  for (const row of FILE_SETTINGS) {
    const v = values.has(row) ? values.get(row) : row.default;
    if (v !== undefined) setField(config, row.field, v);
  }
  return config as unknown as DaemonConfig;
}

export const DEFAULTS: DaemonConfig = configFrom(new Map());

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HOST_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;
const PORT = /^[1-9]\d{0,4}$/;

/**
 * `local-mirror = "HOST:PORT"`: the address the endpoint listens on, written as is into
 * registries.conf. Loopback only (127.0.0.0/8) unless allowed otherwise: anything that can reach
 * the port can read what the endpoint can pull. Returns the problem, or the parts.
 */
export function parseLocalMirrorAddress(s: string, allowNonLoopback: boolean): { host: string; port: number } | { problem: string } {
  if (s.startsWith('[')) {
    // Checked with skopeo 1.9.3: a mirror location "[::1]:PORT/…" fails every pull of its table ("rewriting reference: invalid reference format").
    return {
      problem: `"local-mirror" cannot be an IPv6 address ("${s}"): containers/image 5.23 (skopeo 1.9.3) refuses a mirror location in brackets and then fails every pull of the table; use 127.0.0.1:PORT`,
    };
  }
  const colon = s.lastIndexOf(':');
  const host = colon > 0 ? s.slice(0, colon) : '';
  const portText = colon > 0 ? s.slice(colon + 1) : '';
  const port = Number(portText);
  if (!PORT.test(portText) || port > 65535 || !(IPV4.test(host) || (HOST_NAME.test(host) && !/^[\d.]+$/.test(host)))) {
    return { problem: `"local-mirror" must be HOST:PORT with a port from 1 to 65535, e.g. "127.0.0.1:5050", not ${JSON.stringify(s)}` };
  }
  if (!allowNonLoopback && !(IPV4.test(host) && host.startsWith('127.'))) {
    return {
      problem: `"local-mirror" must be a loopback address (127.0.0.0/8, e.g. "127.0.0.1:5050"), not ${JSON.stringify(s)}: any process that can reach the port can read what the endpoint pulls; set "local-mirror-allow-non-loopback = true" to allow it`,
    };
  }
  return { host, port };
}

function validate(
  v: ConfigValues,
  flags: ConfigValues,
  at: (key: string) => (message: string) => Diagnostic,
): { config?: DaemonConfig; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const failAt =
    (key: string): Fail =>
    (message) =>
      void diagnostics.push(at(key)(message));
  const values = new Map<RunSetting, unknown>();
  for (const row of FILE_SETTINGS) {
    const x = v[row.name];
    if (x === undefined) continue;
    const value = readValue(row.name, x, row.value, row.name in flags, failAt(row.name));
    if (value === undefined) continue;
    const problem = typeof value === 'number' ? row.check?.(value) : undefined;
    if (problem !== undefined) failAt(row.name)(problem);
    values.set(row, value);
  }
  const config = configFrom(values);
  // Without probes nothing would ever be demoted: say so rather than silently do nothing.
  if (config.healthAwareOrder && config.probeIntervalMs === 0)
    failAt('health-aware-order')('"health-aware-order" needs the background probes: "probe-interval-ms" must not be 0');
  if (config.localMirror !== undefined) {
    const parsed = parseLocalMirrorAddress(config.localMirror, config.localMirrorAllowNonLoopback);
    if ('problem' in parsed) failAt('local-mirror')(parsed.problem);
  }
  return diagnostics.length > 0 ? { diagnostics } : { config, diagnostics };
}

/** Config file text (may be absent) + flag values (win) → config. */
export function resolveConfig(file: { path: string; text: string } | undefined, flags: ConfigValues): { config?: DaemonConfig; diagnostics: Diagnostic[] } {
  let fromFile: ConfigValues = {};
  const diagnostics: Diagnostic[] = [];
  let locate =
    (key: string): ((m: string) => Diagnostic) =>
    (m: string) =>
      error({ file: `--${key}` }, m);
  if (file) {
    const parsed = parseTomlText(file.text, file.path);
    if (!parsed.data) return { diagnostics: parsed.diagnostics };
    const loc = tomlLocator(file.text, file.path);
    const r = new FieldReader(loc);
    r.unknownKeys(parsed.data, CONFIG_KEYS, [], 'error', 'the config file', (k) => didYouMean(k, CONFIG_KEYS));
    diagnostics.push(...r.diagnostics);
    fromFile = parsed.data;
    locate = (key: string) => (m: string) => (key in flags ? error({ file: `--${key}` }, m) : error(loc([key]), m));
  }
  const merged = validate({ ...fromFile, ...flags }, flags, locate);
  return { config: diagnostics.length === 0 ? merged.config : undefined, diagnostics: [...diagnostics, ...merged.diagnostics] };
}

/**
 * Every setting of `run`, one row each: its name (the config-file key, and the flag `--NAME`),
 * where it may be given, how its value is read, its default, the DaemonConfig field it sets
 * and its help text. The flag parser (cli/daemon-commands), the validation of the config file
 * and flags (daemon/config) and `run --help` (cli/usage) are made from this table;
 * test/cli/docs.test.ts checks that mirror-policyd(8) and docs/ list exactly its settings.
 *
 * A new setting: a row here, its field in DaemonConfig, and its entries in mirror-policyd(8)
 * (CONFIGURATION), docs/configuration.md and docs/commands.md (the docs test names what is
 * missing). Pure.
 */
import { DEFAULT_CONTROL_SOCKET } from '../control/protocol.js';
import {
  DEFAULT_CONFIG,
  DEFAULT_CONTAINERD_CONFIG,
  DEFAULT_MAX_FRAGMENT_BYTES,
  DEFAULT_OUTPUT,
  DEFAULT_POLICY_DIR,
  DEFAULT_STATE_DIR,
  MAX_FRAGMENT_BYTES_SETTING,
} from '../core/defaults.js';
import { LOG_LEVELS } from '../core/log-levels.js';
import { DEFAULT_HYSTERESIS, type HysteresisPolicy } from '../health/order.js';
import type { DaemonConfig } from './config.js';

/** How a setting's value is read, from the file (TOML) or from its flag (a string). */
export type SettingValue =
  | { readonly type: 'string' } // non-empty
  | { readonly type: 'whole'; readonly min: number; readonly max: number } // a flag gives digits
  | { readonly type: 'boolean' } // a flag is true when given
  | { readonly type: 'choice'; readonly of: readonly string[] }
  | { readonly type: 'commands' }; // an array of argv arrays (file only)

/** A DaemonConfig field; a nested one as `parent.child`. */
export type ConfigField = Exclude<keyof DaemonConfig, 'hysteresis'> | `hysteresis.${keyof HysteresisPolicy}`;

export interface RunSetting {
  readonly name: string;
  /** 'run': a flag of `run`; 'common': a flag every command takes (cli/args COMMON_OPTIONS); 'none': file only. */
  readonly flag: 'run' | 'common' | 'none';
  /** Whether it is a key of the config file (`--config` itself is not). */
  readonly inFile: boolean;
  readonly value: SettingValue;
  /** Absent: unset unless given (DaemonConfig's field is optional). */
  readonly default?: string | number | boolean | readonly (readonly string[])[];
  /** Absent only for `--config`, which chooses the file rather than a setting. */
  readonly field?: ConfigField;
  /** A further rule on a valid value: the error message, or undefined. */
  readonly check?: (value: number) => string | undefined;
  /** The flag's argument in the help (DIR, FILE, N, PATH, LEVEL). */
  readonly arg?: string;
  /** The help text, one paragraph; `(default …)` is added from `default`, except for booleans and commands. */
  readonly help: string;
  /** Taken at start only (what the process was set up with): a change is refused at reload, a restart takes it. */
  readonly startOnly?: true;
}

export const RUN_SETTINGS = [
  {
    name: 'config',
    flag: 'run',
    inFile: false,
    value: { type: 'string' },
    default: DEFAULT_CONFIG,
    arg: 'FILE',
    help: 'TOML config file with the same keys as these flags, and those below; may be absent',
  },
  {
    name: 'policy-dir',
    flag: 'run',
    inFile: true,
    value: { type: 'string' },
    default: DEFAULT_POLICY_DIR,
    field: 'policyDir',
    arg: 'DIR',
    help: 'policy fragments',
  },
  { name: 'output', flag: 'run', inFile: true, value: { type: 'string' }, default: DEFAULT_OUTPUT, field: 'output', arg: 'FILE', help: 'the managed file' },
  {
    name: 'base',
    flag: 'run',
    inFile: true,
    value: { type: 'string' },
    field: 'base',
    arg: 'FILE',
    help: "the base; default: the host's file adopted into the state dir",
  },
  {
    name: 'state-dir',
    flag: 'run',
    inFile: true,
    value: { type: 'string' },
    default: DEFAULT_STATE_DIR,
    field: 'stateDir',
    startOnly: true,
    arg: 'DIR',
    help: 'last-good fragments, adopted base, drift copies, the health cache',
  },
  {
    name: 'control-socket',
    flag: 'run',
    inFile: true,
    value: { type: 'string' },
    default: DEFAULT_CONTROL_SOCKET,
    field: 'controlSocket',
    startOnly: true,
    arg: 'PATH',
    help: 'answers `status`',
  },
  {
    name: 'debounce-ms',
    flag: 'run',
    inFile: true,
    value: { type: 'whole', min: 0, max: 60_000 },
    default: 100,
    field: 'debounceMs',
    arg: 'N',
    help: 'coalesce changes within N ms after a render',
  },
  {
    name: 'rescan-interval-ms',
    flag: 'run',
    inFile: true,
    value: { type: 'whole', min: 100, max: 86_400_000 },
    default: 30_000,
    field: 'rescanIntervalMs',
    arg: 'N',
    help: 'safety-net rescan interval',
  },
  {
    name: 'probe-interval-ms',
    flag: 'run',
    inFile: true,
    value: { type: 'whole', min: 0, max: 86_400_000 },
    default: 10_000,
    field: 'probeIntervalMs',
    arg: 'N',
    check: (n: number) => (n > 0 && n < 100 ? '"probe-interval-ms" must be 0 (off) or at least 100' : undefined),
    help: 'GET /v2/ of every mirror endpoint every N ms, ±20 %, into the health cache; 0 = off',
  },
  {
    name: 'probe-timeout-ms',
    flag: 'run',
    inFile: true,
    value: { type: 'whole', min: 100, max: 60_000 },
    default: 3000,
    field: 'probeTimeoutMs',
    arg: 'N',
    help: 'connect and response deadline of a probe',
  },
  {
    name: 'health-aware-order',
    flag: 'run',
    inFile: true,
    value: { type: 'boolean' },
    default: false,
    field: 'healthAwareOrder',
    help: 'list a mirror whose probes fail after the healthy mirrors of its table (never removed); the configured order comes back when it recovers. Needs the probes',
  },
  {
    name: 'demote-after',
    flag: 'run',
    inFile: true,
    value: { type: 'whole', min: 1, max: 1000 },
    default: DEFAULT_HYSTERESIS.demoteAfter,
    field: 'hysteresis.demoteAfter',
    arg: 'N',
    help: 'consecutive failed probes before a mirror is demoted',
  },
  {
    name: 'restore-after',
    flag: 'run',
    inFile: true,
    value: { type: 'whole', min: 1, max: 1000 },
    default: DEFAULT_HYSTERESIS.restoreAfter,
    field: 'hysteresis.restoreAfter',
    arg: 'N',
    help: 'consecutive successful probes before it is restored',
  },
  {
    name: 'min-dwell-ms',
    flag: 'run',
    inFile: true,
    value: { type: 'whole', min: 0, max: 86_400_000 },
    default: DEFAULT_HYSTERESIS.minDwellMs,
    field: 'hysteresis.minDwellMs',
    arg: 'N',
    help: 'least time between two changes of one mirror',
  },
  {
    name: 'max-rewrites-per-minute',
    flag: 'run',
    inFile: true,
    value: { type: 'whole', min: 1, max: 600 },
    default: DEFAULT_HYSTERESIS.maxRewritesPerMinute,
    field: 'hysteresis.maxRewritesPerMinute',
    arg: 'N',
    help: 'cap on rewrites for mirror health',
  },
  {
    name: 'metrics-file',
    flag: 'run',
    inFile: true,
    value: { type: 'string' },
    field: 'metricsFile',
    arg: 'PATH',
    help: 'Prometheus textfile (node_exporter textfile collector, name it *.prom), rewritten atomically after each render and probe round',
  },
  {
    name: 'containerd-hosts-dir',
    flag: 'run',
    inFile: true,
    value: { type: 'string' },
    field: 'containerdHostsDir',
    arg: 'DIR',
    help: "also keep containerd's DIR/<host>/hosts.toml rendered from the same policy (e.g. /etc/containerd/certs.d; off unless set)",
  },
  {
    name: 'containerd-config',
    flag: 'run',
    inFile: true,
    value: { type: 'string' },
    default: DEFAULT_CONTAINERD_CONFIG,
    field: 'containerdConfig',
    arg: 'FILE',
    help: "containerd's config file, read (imports included) to warn when its CRI plugin's config_path does not name containerd-hosts-dir",
  },
  {
    name: 'after-render',
    flag: 'none',
    inFile: true,
    value: { type: 'commands' },
    default: [],
    field: 'afterRender',
    help: 'commands (argv arrays, no shell) run after a render changed the output (for the first render: after READY=1): [["/usr/bin/systemctl", "try-reload-or-restart", "crio"]]',
  },
  {
    name: 'after-render-timeout-ms',
    flag: 'none',
    inFile: true,
    value: { type: 'whole', min: 100, max: 600_000 },
    default: 30_000,
    field: 'afterRenderTimeoutMs',
    arg: 'N',
    help: 'how long each of those commands may run',
  },
  {
    name: 'allow-unsafe-fragments',
    flag: 'run',
    inFile: true,
    value: { type: 'boolean' },
    default: false,
    field: 'allowUnsafeFragments',
    help: 'as for render',
  },
  {
    name: 'max-fragment-bytes',
    flag: 'run',
    inFile: true,
    value: { type: 'whole', min: 1, max: MAX_FRAGMENT_BYTES_SETTING },
    default: DEFAULT_MAX_FRAGMENT_BYTES,
    field: 'maxFragmentBytes',
    arg: 'N',
    help: 'as for render',
  },
  {
    name: 'local-mirror',
    flag: 'run',
    inFile: true,
    value: { type: 'string' },
    field: 'localMirror',
    arg: 'HOST:PORT',
    help: 'serve pulls through the resolver on this loopback address and list it first in every table with mirrors from the policy; off unless set',
  },
  {
    name: 'local-mirror-credentials',
    flag: 'none',
    inFile: true,
    value: { type: 'boolean' },
    default: false,
    field: 'localMirrorCredentials',
    help: "may the local mirror use the host's credentials upstream (any local process reaching its port can then read what they allow)",
  },
  {
    name: 'local-mirror-allow-non-loopback',
    flag: 'none',
    inFile: true,
    value: { type: 'boolean' },
    default: false,
    field: 'localMirrorAllowNonLoopback',
    help: 'accept a local-mirror address outside 127.0.0.0/8',
  },
  {
    name: 'log-level',
    flag: 'common',
    inFile: true,
    value: { type: 'choice', of: LOG_LEVELS },
    default: 'info',
    field: 'logLevel',
    startOnly: true,
    arg: 'LEVEL',
    help: LOG_LEVELS.join(', '),
  },
  {
    name: 'log-format',
    flag: 'common',
    inFile: true,
    value: { type: 'choice', of: ['pretty', 'json'] },
    default: 'pretty',
    field: 'logFormat',
    startOnly: true,
    arg: 'FORMAT',
    help: 'pretty or json',
  },
] as const satisfies readonly RunSetting[];

type Row = (typeof RUN_SETTINGS)[number];

/** The config file's keys. */
export type ConfigKey = Extract<Row, { inFile: true }>['name'];
export const CONFIG_KEYS: readonly ConfigKey[] = RUN_SETTINGS.flatMap((r) => (r.inFile ? [r.name] : []));

/** The settings that are a key of the config file, with the field they set. */
export const FILE_SETTINGS: ReadonlyArray<RunSetting & { readonly name: ConfigKey; readonly field: ConfigField }> = RUN_SETTINGS.filter((r) => r.inFile);

/** The flags of `run` (beyond the common ones), as node:util parseArgs takes them. */
export type RunFlagOptions = {
  readonly [R in Extract<Row, { flag: 'run' }> as R['name']]: { readonly type: R['value']['type'] extends 'boolean' ? 'boolean' : 'string' };
};
export const RUN_FLAG_OPTIONS = Object.fromEntries(
  RUN_SETTINGS.flatMap((r) => (r.flag === 'run' ? [[r.name, { type: r.value.type === 'boolean' ? 'boolean' : 'string' }]] : [])),
) as RunFlagOptions;

/** The config keys a flag may set (those of `run` and the common ones). */
export const FLAG_CONFIG_KEYS: ReadonlyArray<Extract<Row, { inFile: true; flag: 'run' | 'common' }>['name']> = RUN_SETTINGS.flatMap((r) =>
  r.inFile && r.flag !== 'none' ? [r.name] : [],
);

/** A setting whose change a reload refuses (RunSetting.startOnly), with its value at start and the one asked for (as JSON). */
export interface StartOnlyChange {
  readonly name: string;
  readonly was: string;
  readonly asked: string;
}

/** The start-only settings `next` changes from `current`, and `next` with them kept as they are. */
export function keepStartOnly(current: DaemonConfig, next: DaemonConfig): { config: DaemonConfig; refused: StartOnlyChange[] } {
  const refused: StartOnlyChange[] = [];
  const config: Record<string, unknown> = { ...next };
  for (const r of RUN_SETTINGS) {
    if (!('startOnly' in r) || !r.startOnly) continue;
    const field = r.field as keyof DaemonConfig;
    if (next[field] === current[field]) continue;
    refused.push({ name: r.name, was: JSON.stringify(current[field]), asked: JSON.stringify(next[field]) });
    config[field] = current[field];
  }
  return { config: config as unknown as DaemonConfig, refused };
}

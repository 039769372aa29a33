/**
 * The daemon's settings: an optional TOML config file (default
 * /etc/mirror-policyd/config.toml) with the same names as the flags; flags win.
 * Pure: text and flag values in, a validated DaemonConfig or located errors out.
 */
import { DEFAULT_CONTROL_SOCKET } from '../control/protocol.js';
import { error, type Diagnostic } from '../core/diagnostic.js';
import { DEFAULT_OUTPUT, DEFAULT_POLICY_DIR } from '../core/defaults.js';
import { FieldReader, describe } from '../core/field-reader.js';
import { DEFAULT_HYSTERESIS, type HysteresisPolicy } from '../health/order.js';
import { LOG_LEVELS, type LogFormat } from '../core/log-levels.js';
import { parseTomlText, tomlLocator } from '../registries-conf/parse.js';

export const DEFAULT_CONFIG = '/etc/mirror-policyd/config.toml';
export const DEFAULT_STATE_DIR = '/var/lib/mirror-policyd';
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
  /** Commands (argv arrays, no shell) run after the output changed, e.g. to reload CRI-O. */
  readonly afterRender: ReadonlyArray<readonly string[]>;
  readonly afterRenderTimeoutMs: number;
  readonly allowUnsafeFragments: boolean;
  readonly logLevel: string;
  readonly logFormat: LogFormat;
}

export const DEFAULTS: DaemonConfig = {
  policyDir: DEFAULT_POLICY_DIR,
  output: DEFAULT_OUTPUT,
  stateDir: DEFAULT_STATE_DIR,
  controlSocket: DEFAULT_CONTROL_SOCKET,
  debounceMs: 100,
  rescanIntervalMs: 30_000,
  probeIntervalMs: 10_000,
  probeTimeoutMs: 3000,
  healthAwareOrder: false,
  hysteresis: DEFAULT_HYSTERESIS,
  afterRender: [],
  afterRenderTimeoutMs: 30_000,
  allowUnsafeFragments: false,
  logLevel: 'info',
  logFormat: 'pretty',
};

/** Config-file keys, also the flag names (the flags use them with `--`). */
export const CONFIG_KEYS = [
  'policy-dir', 'output', 'base', 'state-dir', 'control-socket', 'debounce-ms', 'rescan-interval-ms', 'probe-interval-ms',
  'probe-timeout-ms', 'health-aware-order', 'demote-after', 'restore-after', 'min-dwell-ms', 'max-rewrites-per-minute', 'metrics-file',
  'after-render', 'after-render-timeout-ms', 'allow-unsafe-fragments', 'log-level', 'log-format',
] as const;

export type ConfigValues = Partial<Record<(typeof CONFIG_KEYS)[number], string | number | boolean | string[][]>>;

function validate(v: ConfigValues, at: (key: string) => (message: string) => Diagnostic): { config?: DaemonConfig; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const fail = (key: string, message: string): void => void diagnostics.push(at(key)(message));
  const str = (key: (typeof CONFIG_KEYS)[number]): string | undefined => {
    const x = v[key];
    if (x === undefined) return undefined;
    if (typeof x !== 'string' || x === '') return void fail(key, `"${key}" must be a non-empty string, not ${x === '' ? 'an empty string' : describe(x)}`);
    return x;
  };
  const int = (key: (typeof CONFIG_KEYS)[number], min: number, max: number): number | undefined => {
    const x = v[key];
    if (x === undefined) return undefined;
    const n = typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : x;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      // String(x) for numbers: JSON.stringify would print inf and nan as "null".
      return void fail(key, `"${key}" must be a whole number from ${min} to ${max}, not ${typeof x === 'number' ? String(x) : JSON.stringify(x)}`);
    }
    return n;
  };
  const afterRender = v['after-render'];
  if (afterRender !== undefined && (!Array.isArray(afterRender) || !afterRender.every((c) => Array.isArray(c) && c.length > 0 && c.every((a) => typeof a === 'string')))) {
    fail('after-render', '"after-render" must be an array of commands, each an array of strings: [["/usr/bin/systemctl", "reload", "crio.service"]]');
  }
  const level = str('log-level');
  if (level !== undefined && !LOG_LEVELS.includes(level)) fail('log-level', `"log-level" must be one of ${LOG_LEVELS.join(', ')}`);
  const format = str('log-format');
  if (format !== undefined && format !== 'pretty' && format !== 'json') fail('log-format', '"log-format" must be pretty or json');
  const bool = (key: (typeof CONFIG_KEYS)[number]): boolean | undefined => {
    const x = v[key];
    if (x === undefined) return undefined;
    if (typeof x !== 'boolean') return void fail(key, `"${key}" must be true or false`);
    return x;
  };
  const unsafe = bool('allow-unsafe-fragments');
  const base = str('base');
  const metricsFile = str('metrics-file');
  const probeIntervalMs = (() => {
    const n = int('probe-interval-ms', 0, 86_400_000);
    if (n !== undefined && n > 0 && n < 100) fail('probe-interval-ms', '"probe-interval-ms" must be 0 (off) or at least 100');
    return n ?? DEFAULTS.probeIntervalMs;
  })();
  const healthAwareOrder = bool('health-aware-order') ?? DEFAULTS.healthAwareOrder;
  // Without probes nothing would ever be demoted: say so rather than silently do nothing.
  if (healthAwareOrder && probeIntervalMs === 0) fail('health-aware-order', '"health-aware-order" needs the background probes: "probe-interval-ms" must not be 0');
  const hysteresis: HysteresisPolicy = {
    demoteAfter: int('demote-after', 1, 1000) ?? DEFAULTS.hysteresis.demoteAfter,
    restoreAfter: int('restore-after', 1, 1000) ?? DEFAULTS.hysteresis.restoreAfter,
    minDwellMs: int('min-dwell-ms', 0, 86_400_000) ?? DEFAULTS.hysteresis.minDwellMs,
    maxRewritesPerMinute: int('max-rewrites-per-minute', 1, 600) ?? DEFAULTS.hysteresis.maxRewritesPerMinute,
  };
  const config: DaemonConfig = {
    policyDir: str('policy-dir') ?? DEFAULTS.policyDir,
    output: str('output') ?? DEFAULTS.output,
    base,
    stateDir: str('state-dir') ?? DEFAULTS.stateDir,
    controlSocket: str('control-socket') ?? DEFAULTS.controlSocket,
    debounceMs: int('debounce-ms', 0, 60_000) ?? DEFAULTS.debounceMs,
    rescanIntervalMs: int('rescan-interval-ms', 100, 86_400_000) ?? DEFAULTS.rescanIntervalMs,
    probeIntervalMs,
    probeTimeoutMs: int('probe-timeout-ms', 100, 60_000) ?? DEFAULTS.probeTimeoutMs,
    healthAwareOrder,
    hysteresis,
    metricsFile,
    afterRender: Array.isArray(afterRender) ? afterRender : DEFAULTS.afterRender,
    afterRenderTimeoutMs: int('after-render-timeout-ms', 100, 600_000) ?? DEFAULTS.afterRenderTimeoutMs,
    allowUnsafeFragments: unsafe ?? DEFAULTS.allowUnsafeFragments,
    logLevel: level ?? DEFAULTS.logLevel,
    logFormat: (format as LogFormat | undefined) ?? DEFAULTS.logFormat,
  };
  return diagnostics.length > 0 ? { diagnostics } : { config, diagnostics };
}

/** Config file text (may be absent) + flag values (win) → config. */
export function resolveConfig(file: { path: string; text: string } | undefined, flags: ConfigValues): { config?: DaemonConfig; diagnostics: Diagnostic[] } {
  let fromFile: ConfigValues = {};
  const diagnostics: Diagnostic[] = [];
  let locate = (key: string): ((m: string) => Diagnostic) => (m: string) => error({ file: `--${key}` }, m);
  if (file) {
    const parsed = parseTomlText(file.text, file.path);
    if (!parsed.data) return { diagnostics: parsed.diagnostics };
    const loc = tomlLocator(file.text, file.path);
    const r = new FieldReader(loc);
    r.unknownKeys(parsed.data, CONFIG_KEYS, [], 'error', 'the config file');
    diagnostics.push(...r.diagnostics);
    fromFile = parsed.data;
    locate = (key: string) => (m: string) => (key in flags ? error({ file: `--${key}` }, m) : error(loc([key]), m));
  }
  const merged = validate({ ...fromFile, ...flags }, locate);
  return { config: diagnostics.length === 0 ? merged.config : undefined, diagnostics: [...diagnostics, ...merged.diagnostics] };
}

/**
 * Logging with pino. `pretty` is for people at a terminal and in the journal;
 * `json` is for log shippers. Credentials never reach a log call: callers pass
 * references and paths, never auth material.
 */
import { pino, type Logger, type Level } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'pretty' | 'json';
export type { Logger };

export const LOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface LogOptions {
  readonly level?: string;
  readonly format?: LogFormat;
  /** File descriptor to write to: 2 (stderr) for the CLI, 1 for the daemon. */
  readonly fd?: number;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = (opts.level ?? 'info') as Level;
  const fd = opts.fd ?? 2;
  if (opts.format === 'json') return pino({ level, base: undefined }, pino.destination({ fd, sync: true }));
  const stream = pretty({
    destination: fd,
    sync: true,
    colorize: false,
    translateTime: false,
    ignore: 'pid,hostname,time',
    hideObject: true, // people read the message; the fields are there in json format
  });
  return pino({ level, base: undefined }, stream);
}

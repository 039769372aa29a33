/**
 * Logging with pino. `pretty` (`LEVEL: message`, core/pretty-line.ts) is for people at a
 * terminal and in the journal; `json` is for log shippers. Credentials never reach a log call: callers pass
 * references and paths, never auth material; and every record goes through maskCredentials
 * (core/diagnostic.ts) all the same, for what a call site passes from outside (a command's
 * stderr, an error's message).
 *
 * When the daemon writes to stdout (fd 1) and stdout is the journal
 * (JOURNAL_STREAM, see src/systemd/journal.ts), every line gets its syslog
 * priority as a `<N>` prefix, in both formats, so `journalctl -p err` filters.
 */
import { pino, type Logger, type Level } from 'pino';
import { isJournalStream, JournalStream } from '../systemd/journal.js';
import type { LogFormat } from './log-levels.js';
import { maskCredentials } from './diagnostic.js';
import { prettyLine } from './pretty-line.js';

export type { Logger };
export { LOG_LEVELS, type LogFormat } from './log-levels.js';

export interface LogOptions {
  readonly level?: string;
  readonly format?: LogFormat;
  /** File descriptor to write to: 2 (stderr) for the CLI, 1 for the daemon. */
  readonly fd?: number;
  /**
   * Prefix each line with its syslog priority `<N>` for journald. Default:
   * when `fd` is 1 and stdout is the journal stream (JOURNAL_STREAM matches).
   */
  readonly journal?: boolean;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = (opts.level ?? 'info') as Level;
  const fd = opts.fd ?? 2;
  const journal = opts.journal ?? (fd === 1 && isJournalStream(process.env, 1));
  const sink = pino.destination({ fd, sync: true });
  // Every record, message and fields, through the credential mask before it is formatted.
  const format = opts.format === 'json' ? maskCredentials : (line: string) => prettyLine(maskCredentials(line));
  if (journal) return pino({ level, base: undefined }, new JournalStream(sink, format));
  return pino({ level, base: undefined }, { write: (line: string) => void sink.write(format(line)) });
}

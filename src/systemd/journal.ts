/**
 * Log lines for the systemd journal.
 *
 * When a service's stdout is connected to journald, systemd sets
 * `JOURNAL_STREAM=DEV:INO` to the device and inode of that stream. A line
 * written there that starts with `<N>` (a syslog priority, 0..7) is stored
 * with that priority and the prefix is removed, so `journalctl -p err` can
 * filter. See systemd.exec(5), "JOURNAL_STREAM", and sd-daemon(3).
 *
 * The check compares JOURNAL_STREAM with fstat() of the fd we write to:
 * a child that inherited the variable but writes to a pipe or file does not
 * match and writes plain lines.
 */
import { fstatSync } from 'node:fs';

/** pino's numeric levels → syslog priority (trace/debug 7, info 6, warn 4, error 3, fatal 2). */
export function syslogPriority(pinoLevel: number): number {
  if (pinoLevel >= 60) return 2; // fatal → LOG_CRIT
  if (pinoLevel >= 50) return 3; // error → LOG_ERR
  if (pinoLevel >= 40) return 4; // warn → LOG_WARNING
  if (pinoLevel >= 30) return 6; // info → LOG_INFO
  return 7; // debug, trace → LOG_DEBUG
}

/**
 * True when `fd` (stdout by default) is the journal stream systemd connected:
 * JOURNAL_STREAM is "DEV:INO" (decimal) and equals fstat(fd)'s dev and ino.
 * Inodes are compared as bigints: they can exceed 2^53.
 */
export function isJournalStream(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const m = /^(\d+):(\d+)$/.exec(env['JOURNAL_STREAM']?.trim() ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1] as string) && st.ino === BigInt(m[2] as string);
  } catch {
    return false; // fd closed or not stat-able: not the journal
  }
}

/** Prefixes every line of `text` (one log record, maybe several lines) with `<priority>`. */
export function prefixLines(text: string, priority: number): string {
  const p = `<${priority}>`;
  const endsWithNewline = text.endsWith('\n');
  const body = endsWithNewline ? text.slice(0, -1) : text;
  const out = body
    .split('\n')
    .map((line) => p + line)
    .join('\n');
  return endsWithNewline ? out + '\n' : out;
}

/** The sink JournalStream writes the finished, prefixed text to (a sync SonicBoom in practice). */
export interface TextSink {
  write(text: string): unknown;
  flush?(cb?: (err?: Error) => unknown): void;
  flushSync?(): void;
}

const PINO_METADATA = Symbol.for('pino.metadata');

/**
 * A pino destination that prefixes each record's lines with its syslog
 * priority. It asks pino for the record's metadata (the `pino.metadata`
 * symbol, as pino.multistream does), so pino sets `lastLevel` right before
 * each synchronous `write`: no JSON parsing is needed to learn the level.
 * `format`, when given, turns the JSON line into what is written (pretty
 * output); the prefix goes on each of its lines.
 */
export class JournalStream {
  readonly [PINO_METADATA] = true;
  /** Set by pino before each write. */
  lastLevel = 30;

  constructor(
    private readonly sink: TextSink,
    private readonly format?: (jsonLine: string) => string,
  ) {}

  write(line: string): void {
    const text = this.format ? this.format(line) : line;
    if (text === '') return;
    this.sink.write(prefixLines(text, syslogPriority(this.lastLevel)));
  }

  flush(cb?: (err?: Error) => unknown): void {
    if (this.sink.flush) this.sink.flush(cb);
    else cb?.();
  }

  flushSync(): void {
    this.sink.flushSync?.();
  }
}

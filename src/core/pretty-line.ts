/**
 * The `pretty` log format: one pino JSON record → `LEVEL: message`. What pino-pretty printed
 * with the options we gave it (no time, no colours, no pid or host, the object's fields
 * hidden: they are in the json format), without its ~40 modules at every start (issue #15).
 * One record is always one line, its control characters escaped (core/one-line.ts): a message
 * carries text from outside (a fragment's content, a registry's error body), and a newline in it
 * would let that text forge a second record in the journal. Pure.
 */
import { oneLine } from './one-line.js';

/** pino's level numbers → pino-pretty's labels; any other number is a custom level. */
const LABELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function label(level: unknown): string {
  if (typeof level === 'string') return level.toUpperCase();
  return (typeof level === 'number' ? LABELS[level] : undefined) ?? 'USERLVL';
}

/** One record (a JSON line, with or without its newline) as one readable line ending in a newline. */
export function prettyLine(jsonLine: string): string {
  let record: unknown;
  try {
    record = JSON.parse(jsonLine);
  } catch {
    record = undefined;
  }
  if (typeof record !== 'object' || record === null) return `${oneLine(jsonLine.replace(/\n$/, ''))}\n`;
  const { level, msg } = record as { level?: unknown; msg?: unknown };
  if (msg === undefined) return `${label(level)}:\n`;
  const text = typeof msg === 'string' ? msg : JSON.stringify(msg); // pino's printf gives strings; a number in `msg` is rare
  return `${label(level)}: ${oneLine(text)}\n`;
}

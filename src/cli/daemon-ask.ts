/**
 * What the commands that ask the running daemon (`status`, `reload`) share: a deadline from a
 * flag, and why the daemon could not be asked, in the operator's words. Loads nothing of the
 * daemon's own modules.
 */
import { UsageError } from '../core/diagnostic.js';

/**
 * Why the daemon could not be asked, in one line (no stack: these are the operator's
 * situation, not our bug). Undefined for an error without a system error code (our bug:
 * a crash with its stack).
 */
export function cannotAskReason(e: unknown, socket: string, command = 'status'): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') return `permission denied on the control socket ${socket} (it is root's, mode 0600): run ${command} as root`;
  if (code === 'ETIMEDOUT') return `${(e as Error).message}; the daemon may be hung or overloaded: see journalctl -u mirror-policyd`;
  if (code === 'EPROTO' || code === 'ECONNRESET' || code === 'EPIPE') return `${(e as Error).message}: is this mirror-policyd's control socket?`;
  if (code === 'ENOTSOCK') return `${socket} is not a socket: is --control-socket right?`;
  if (typeof code === 'string') return `cannot ask the daemon at ${socket}: ${(e as Error).message}`;
  return undefined;
}

/** A whole number of milliseconds from 1 to an hour, from a flag. */
export function positiveMs(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 3_600_000) throw new UsageError(`${flag} must be a whole number of milliseconds from 1 to 3600000, not "${value}"`);
  return n;
}

/**
 * What the commands that ask the running daemon (`status`, `reload`) share: a deadline from a
 * flag, and why the daemon could not be asked, in the operator's words. Loads nothing of the
 * daemon's own modules.
 */
import { readFile } from 'node:fs/promises';
import { DEFAULT_CONTROL_SOCKET } from '../control/protocol.js';
import { formatDiagnostic, UsageError } from '../core/diagnostic.js';
import { DEFAULT_CONFIG } from '../core/defaults.js';
import { parseTomlText } from '../registries-conf/parse.js';

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
  if (code === 'EOWNER') return (e as Error).message; // someone else's socket: the message says whose
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

/** The control socket to ask, and the config file that named it (for the messages), if one did. */
export interface ControlSocket {
  readonly path: string;
  readonly namedIn?: string;
}

/**
 * The control socket `status` and `reload` ask: `--control-socket`, else the `control-socket` of
 * the config file the daemon reads (`--config`, else the default file), else the default, so that
 * a socket set in the file needs no flag (nor an ExecReload= drop-in). Only that key is read: a
 * mistake elsewhere in the file is the daemon's to report (a reload answers with it), not a reason
 * to ask another socket. A file that cannot be read or parsed is said on `warn`, and the default asked.
 */
export async function controlSocketFor(
  values: { readonly config?: string; readonly 'control-socket'?: string },
  warn: (line: string) => void,
): Promise<ControlSocket> {
  if (values['control-socket'] !== undefined) return { path: values['control-socket'] };
  const configPath = values.config ?? DEFAULT_CONFIG;
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (e) {
    const absentDefault = (e as NodeJS.ErrnoException).code === 'ENOENT' && values.config === undefined;
    if (!absentDefault) warn(`${configPath}: cannot read config file (${(e as Error).message}); asking the default control socket ${DEFAULT_CONTROL_SOCKET}`);
    return { path: DEFAULT_CONTROL_SOCKET };
  }
  const parsed = parseTomlText(text, configPath);
  if (!parsed.data) {
    warn(`${parsed.diagnostics.map(formatDiagnostic).join('; ')}; asking the default control socket ${DEFAULT_CONTROL_SOCKET}`);
    return { path: DEFAULT_CONTROL_SOCKET };
  }
  const named = parsed.data['control-socket'];
  return typeof named === 'string' && named !== '' ? { path: named, namedIn: configPath } : { path: DEFAULT_CONTROL_SOCKET };
}

/** Where a socket that did not answer came from, for the message: the config file may name one the running daemon does not have yet. */
export function socketOrigin(socket: ControlSocket): string {
  return socket.namedIn === undefined ? '' : `: it is the control-socket set in ${socket.namedIn}, and a changed one takes effect at the daemon's restart`;
}

/**
 * Which process holds something (the state dir's record, a lock). A pid alone does not say:
 * after a crash or a power loss the pid written down may belong to another process by now
 * (`sleep`, a shell, init). So holders write down their identity, the pid with the boot it
 * ran in and the kernel's start time of that process, which together name one process for
 * good. A record without them (written by an older version) is judged by its pid's command
 * line instead.
 */
import { readFileSync, statSync } from 'node:fs';

export interface ProcessIdentity {
  readonly pid: number;
  /** /proc/sys/kernel/random/boot_id of the boot the process ran in. */
  readonly bootId?: string;
  /** Field 22 of /proc/PID/stat: when the process started, in clock ticks after boot. */
  readonly startTicks?: number;
}

export function ownUid(): number {
  return process.getuid?.() ?? 0;
}

/** pid 0, -1 and 1 (the process group, every process, init) and non-integers are never a holder. */
export function validPid(pid: unknown): pid is number {
  return typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 1;
}

/** Whether a process runs: signal 0 checks without sending anything (EPERM: it runs, as another user). */
export function pidAlive(pid: number): boolean {
  if (!validPid(pid)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // no /proc, hidepid, or the process is gone
  }
}

let ownBootId: string | undefined;

function currentBootId(): string | undefined {
  ownBootId ??= readProc('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
  return ownBootId;
}

/** The start time of `pid` in clock ticks after boot (undefined: unknown). */
function startTicks(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // "PID (COMM) STATE ..."; COMM may hold spaces and parentheses, so count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[22 - 3]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

/** The command line of `pid` (undefined: unknown). */
export function commandLine(pid: number): string[] | undefined {
  const raw = readProc(`/proc/${pid}/cmdline`);
  if (raw === undefined || raw === '') return undefined;
  return raw.replace(/\0$/, '').split('\0');
}

/** This process, as it writes itself down in a record or a lock. */
export function ownIdentity(): ProcessIdentity {
  const bootId = currentBootId();
  const ticks = startTicks(process.pid);
  return { pid: process.pid, bootId, startTicks: ticks };
}

export type Holder = { readonly running: true } | { readonly running: false; readonly why: string };

/**
 * Why the live process `pid` cannot be a holder of ours by its user, or undefined. What it
 * holds is in a directory only root and our user can write, so it runs as one of them. Under
 * systemd's ProtectProc=invisible (or hidepid) the processes of other users are not in /proc
 * at all: for a daemon running as root, an invisible live pid is another user's.
 */
function foreignUser(pid: number): string | undefined {
  let uid: number;
  try {
    uid = statSync(`/proc/${pid}`).uid;
  } catch {
    const procWorks = readProc('/proc/self/stat') !== undefined;
    return procWorks && ownUid() === 0 ? "the pid is now another user's process (hidden from us)" : undefined;
  }
  return uid !== ownUid() && uid !== 0 ? `the pid is now a process of uid ${uid}` : undefined;
}

function describeCommand(argv: readonly string[]): string {
  const text = argv.join(' ');
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Whether the process `id` names still runs. With its boot and start time written down
 * that is exact; without them, the pid's command line must satisfy `looksLike` (when given).
 * A live pid of a user that could not have written the record is gone (foreignUser). When
 * nothing can be read (no /proc), a live pid counts as running: a holder is never declared
 * gone without proof.
 */
export function holderRunning(id: ProcessIdentity, looksLike?: (argv: readonly string[]) => boolean): Holder {
  if (!validPid(id.pid)) return { running: false, why: `${JSON.stringify(id.pid)} is not a process id` };
  if (!pidAlive(id.pid)) return { running: false, why: 'not running' };
  const foreign = foreignUser(id.pid);
  if (foreign !== undefined) return { running: false, why: foreign };
  const boot = currentBootId();
  if (id.bootId !== undefined && boot !== undefined && id.bootId !== boot) return { running: false, why: 'written before the last boot' };
  const now = startTicks(id.pid);
  if (id.startTicks !== undefined && now !== undefined) {
    if (id.startTicks === now) return { running: true };
    const argv = commandLine(id.pid);
    return { running: false, why: `the pid is now another process${argv ? `: ${describeCommand(argv)}` : ''}` };
  }
  if (looksLike && id.startTicks === undefined) {
    const argv = commandLine(id.pid);
    if (argv !== undefined && !looksLike(argv)) return { running: false, why: `the pid is now another process: ${describeCommand(argv)}` };
  }
  return { running: true };
}

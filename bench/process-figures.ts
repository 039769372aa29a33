/**
 * Whole-process figures for the benches' floors (issue #15): wall time and peak RSS of a
 * command, and the RSS of a process left idle. Peak RSS is the kernel's high-water mark
 * (VmHWM in /proc/PID/status), read every few ms until the process exits: it only grows,
 * so the last reading is the peak up to a few ms before the end. CPU time (user + system, all
 * threads) is read the same way from /proc/PID/stat: what the process had used a few ms before
 * its end, in clock ticks (10 ms here). Linux only.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ProcessRun {
  readonly ms: number;
  readonly peakRssMB: number;
  /** User + system CPU time (ms) up to the last reading; NaN when none was taken. */
  readonly cpuMs: number;
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on Linux, whatever the kernel's HZ). */
const USER_HZ = 100;

/** User + system CPU time (ms) of a process from /proc/PID/stat, or undefined once it is gone. */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is the first, utime the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}

/** kB of a /proc/PID/status field (VmHWM, VmRSS), or undefined once the process is gone. */
export function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `argv` to its end (stdout and stderr discarded); rejects when it fails. */
export function runMeasured(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 600_000, cwd?: string): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0] as string, argv.slice(1), { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
    let peakKb = 0;
    let cpuMs = NaN;
    const poll = setInterval(() => {
      const kb = child.pid === undefined ? undefined : statusKb(child.pid, 'VmHWM');
      if (kb !== undefined) peakKb = Math.max(peakKb, kb);
      const cpu = child.pid === undefined ? undefined : cpuMsOf(child.pid);
      if (cpu !== undefined) cpuMs = cpu;
    }, 5);
    const limit = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const ms = performance.now() - t0;
      clearInterval(poll);
      clearTimeout(limit);
      if (code !== 0) reject(new Error(`${argv.join(' ')}: exit ${code ?? signal}: ${err}`));
      else resolve({ ms, peakRssMB: peakKb / 1024, cpuMs });
    });
  });
}

/** The RSS (MB) of `argv` after it has run `settleMs` (a program that waits forever), then kills it. */
export async function idleRssMB(argv: readonly string[], settleMs = 1500, cwd?: string): Promise<number> {
  const child = spawn(argv[0] as string, argv.slice(1), { cwd, stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, settleMs));
    const kb = child.pid === undefined ? undefined : statusKb(child.pid, 'VmRSS');
    if (kb === undefined) throw new Error(`${argv.join(' ')} exited before ${settleMs} ms`);
    return kb / 1024;
  } finally {
    child.kill('SIGKILL');
  }
}

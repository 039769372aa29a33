/**
 * Commands run after the output changed (e.g. `systemctl reload crio.service`: CRI-O
 * caches registries.conf until SIGHUP). argv arrays, no shell, a timeout, result logged.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../core/log.js';
import { oneLine } from '../core/one-line.js';

export interface CommandResult {
  readonly argv: readonly string[];
  readonly ok: boolean;
  readonly code: number | null;
  readonly ms: number;
  readonly error?: string;
}

const MAX_OUTPUT = 64 * 1024;

/**
 * Why a command failed, as the line's end: its exit status and the first line it wrote to stderr
 * (the json format has the rest), or how it was stopped, or why it could not start.
 */
function failure(e: NodeJS.ErrnoException & { killed?: boolean; signal?: string | null }, code: number | null, stderr: string, timeoutMs: number): string {
  if (e.killed) return `killed after ${timeoutMs} ms`;
  const said = stderr.split('\n').find((l) => l.trim() !== '');
  const how = code !== null ? `exit ${code}` : e.signal ? `killed by ${e.signal}` : undefined;
  if (how === undefined) return e.message.split('\n')[0] ?? String(e); // it did not start: ENOENT, EACCES
  return said === undefined ? how : `${how}: ${oneLine(said.trim().slice(0, 300))}`;
}

export function runAfterRender(commands: ReadonlyArray<readonly string[]>, timeoutMs: number, log: Logger): Promise<CommandResult[]> {
  return Promise.all(
    commands.map(
      (argv) =>
        new Promise<CommandResult>((resolve) => {
          const started = performance.now();
          const [cmd, ...args] = argv as [string, ...string[]];
          execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: MAX_OUTPUT, shell: false }, (err, stdout, stderr) => {
            const ms = Math.round(performance.now() - started);
            const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
            const code = e ? (typeof e.code === 'number' ? e.code : null) : 0;
            const result: CommandResult = e ? { argv, ok: false, code, ms, error: failure(e, code, stderr, timeoutMs) } : { argv, ok: true, code: 0, ms };
            const line = argv.join(' ');
            if (result.ok) log.info({ command: argv, ms }, `after-render: ${line}: ok, ${ms} ms`);
            else log.error({ command: argv, ms, code, stderr: stderr.slice(0, 2000) }, `after-render: ${line}: failed: ${result.error}`);
            if (stdout.trim()) log.debug({ command: argv }, `after-render: ${line}: ${stdout.trim().slice(0, 2000)}`);
            resolve(result);
          });
        }),
    ),
  );
}

/**
 * The command line: dispatch to a subcommand, map outcomes to exit codes
 * (0 done, 1 failed, 2 usage error).
 */
import { UsageError } from '../core/diagnostic.js';
import { VERSION } from '../core/version.js';
import { checkCommand, importCommand, renderCommand, type CommandIO } from './commands.js';
import { restoreCommand, runCommand, statusCommand } from './daemon-commands.js';
import { resolveCommand } from './resolve.js';
import { pullCommand } from './pull.js';
import { usage } from './usage.js';

const COMMANDS: Record<string, (args: readonly string[], io: CommandIO) => Promise<number>> = {
  check: checkCommand,
  render: renderCommand,
  import: importCommand,
  run: runCommand,
  status: statusCommand,
  restore: restoreCommand,
  resolve: resolveCommand,
  pull: pullCommand,
};

export async function main(argv: readonly string[], io: CommandIO = { stdout: (s) => process.stdout.write(s) }): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    io.stdout(usage(rest[0]));
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === 'version') {
    // Which runtime runs us matters on hosts with several (distro Node, a bundled one).
    io.stdout(`mirror-policyd ${VERSION} (node ${process.versions.node}, ABI ${process.versions.modules}, ${process.execPath})\n`);
    return 0;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  try {
    if (!run) throw new UsageError(`unknown command "${command}"`);
    return await run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`mirror-policyd: ${e.message}\nTry 'mirror-policyd ${run ? `${command} ` : ''}--help'.\n`);
      return 2;
    }
    // `run` has its own start-up error path (the daemon logs why it cannot start).
    const reason = command === 'run' ? undefined : systemErrorReason(e);
    if (reason !== undefined) {
      process.stderr.write(`mirror-policyd ${command}: ${reason}\n`);
      return 1;
    }
    throw e;
  }
}

/**
 * A failed system call (permission denied, read-only or full file system...) is the
 * operator's situation, not our bug: one line saying what failed, not a stack trace.
 * Undefined for anything else, which stays an internal error with its stack.
 */
export function systemErrorReason(e: unknown): string | undefined {
  const err = e as NodeJS.ErrnoException | undefined;
  if (!(err instanceof Error) || typeof err.code !== 'string' || typeof err.syscall !== 'string') return undefined;
  const hint =
    err.code === 'EACCES' || err.code === 'EPERM'
      ? ' (run as root?)'
      : err.code === 'EROFS'
        ? ' (a read-only file system; under the packaged unit see ReadWritePaths=)'
        : '';
  return `${err.message}${hint}`;
}

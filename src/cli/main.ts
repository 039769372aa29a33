/**
 * The command line: dispatch to a subcommand, map outcomes to exit codes
 * (0 done, 1 failed, 2 usage error).
 */
import { UsageError } from '../core/diagnostic.js';
import { closestName } from '../core/field-reader.js';
import { VERSION } from '../core/version.js';
import type { CommandIO } from './commands.js';
import { tuneOneShotProcess } from './one-shot-process.js';
import { tuneDaemonProcess } from './daemon-process.js';

type Command = (args: readonly string[], io: CommandIO) => Promise<number>;

/**
 * Each command's module is loaded when that command runs: the daemon's start (READY=1) must not
 * wait for what only `pull` or `resolve` need (undici alone is about 70 ms here; issue #15).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  // Tuned before their modules load: the young generation grows as they do (see one-shot-process).
  check: async () => (tuneOneShotProcess(), await import('./commands.js')).checkCommand,
  render: async () => (tuneOneShotProcess(), await import('./commands.js')).renderCommand,
  import: async () => (await import('./commands.js')).importCommand,
  // Before undici is loaded (the probes, the local mirror): its parser stays at baseline code.
  run: async () => (tuneDaemonProcess(), await import('./daemon-commands.js')).runCommand,
  status: async () => (await import('./daemon-commands.js')).statusCommand,
  // Its own module: the unit's ExecReload= runs it, and it needs none of the daemon's.
  reload: async () => (await import('./reload.js')).reloadCommand,
  restore: async () => (await import('./daemon-commands.js')).restoreCommand,
  resolve: async () => (await import('./resolve.js')).resolveCommand,
  pull: async () => (tuneOneShotProcess(), await import('./pull.js')).pullCommand,
};

export async function main(argv: readonly string[], io: CommandIO = { stdout: (s) => process.stdout.write(s) }): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    const topic = rest[0];
    if (topic !== undefined && !Object.hasOwn(COMMANDS, topic)) return usageError(unknownCommand(topic));
    // the usage text names every setting (daemon/run-options): loaded only to print it
    io.stdout((await import('./usage.js')).usage(topic));
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === 'version') {
    // Which runtime runs us matters on hosts with several (distro Node, a bundled one).
    io.stdout(`mirror-policyd ${VERSION} (node ${process.versions.node}, ABI ${process.versions.modules}, ${process.execPath})\n`);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  try {
    if (!load) throw new UsageError(unknownCommand(command));
    return await (
      await load()
    )(rest, io);
  } catch (e) {
    if (e instanceof UsageError) return usageError(e.message, load ? command : undefined);
    // `run` has its own start-up error path (the daemon logs why it cannot start).
    const reason = command === 'run' ? undefined : systemErrorReason(e);
    if (reason !== undefined) {
      process.stderr.write(`mirror-policyd ${command}: ${reason}\n`);
      return 1;
    }
    throw e;
  }
}

/** Says what is wrong and where the help is; a usage error's exit code. */
function usageError(message: string, command?: string): number {
  process.stderr.write(`mirror-policyd: ${message}\nTry 'mirror-policyd ${command !== undefined ? `${command} ` : ''}--help'.\n`);
  return 2;
}

/** No such command: the one most likely meant, or that flags come after the command. */
function unknownCommand(word: string): string {
  if (word.startsWith('-')) return `"${word}" is not a command: the command comes first (mirror-policyd COMMAND [FLAGS])`;
  const guess = closestName(word, Object.keys(COMMANDS));
  return `unknown command "${word}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`;
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

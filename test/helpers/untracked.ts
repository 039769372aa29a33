/**
 * Commands run as users run them: outside the test runner's loader hooks. tap's processinfo
 * hooks child_process (both spawn and spawnSync) and puts its `--import` back into the
 * NODE_OPTIONS of every child, whatever environment the spawn is given, so leaving the variable
 * out of `env` does nothing; env(1) drops it after that hook, at the exec. Every node the command
 * starts (itself, or npm and node-gyp under a build script) then runs without the hooks: ~0.25 s
 * of CPU less a start on Node 20, whose hooks run on a thread of their own, ~0.1 s on Node 24;
 * and a process killed with SIGKILL, which never writes its coverage, leaves no record behind.
 * What runs untracked adds nothing to the coverage report: keep it to what must run as users
 * run it (packages, the extracted program), to kill -9 campaigns, and to runs without coverage
 * (`forCoverage`). The pid is the command's: env execs it.
 */
export function untracked(cmd: string, args: readonly string[], nodeOptions?: string): [string, string[]] {
  return ['/usr/bin/env', ['-u', 'NODE_OPTIONS', ...(nodeOptions ? [`NODE_OPTIONS=${nodeOptions}`] : []), cmd, ...args]];
}

/** tap says so to each test process: '0' under `--disable-coverage` (as CI's Node 20 run). */
const COVERAGE_OFF = process.env['_TAPJS_PROCESSINFO_COVERAGE_'] === '0';

/** What every test process inherits from tap: processinfo's own `--import`, not a test's. */
const TAP_NODE_OPTIONS = process.env['NODE_OPTIONS'];

/**
 * `cmd args` for the program under test: tracked while the run collects coverage (most of the
 * report for src/cli and src/daemon comes from these processes), untracked when it does not,
 * keeping a NODE_OPTIONS that the test itself gives the process in `env` (an `env` copied from
 * process.env carries tap's, which would put the hooks back).
 */
export function forCoverage(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): [string, string[]] {
  if (!COVERAGE_OFF) return [cmd, [...args]];
  const given = env?.['NODE_OPTIONS'];
  return untracked(cmd, args, given !== TAP_NODE_OPTIONS ? given : undefined);
}

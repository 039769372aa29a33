/**
 * Commands run as users run them: outside the test runner's loader hooks. tap's processinfo
 * hooks child_process (both spawn and spawnSync) and puts its `--import` back into the
 * NODE_OPTIONS of every child, whatever environment the spawn is given, so leaving the variable
 * out of `env` does nothing; env(1) drops it after that hook, at the exec. Every node the command
 * starts (itself, or npm and node-gyp under a build script) then runs without the hooks: ~0.25 s
 * of CPU less a start on Node 20, whose hooks run on a thread of their own, ~0.1 s on Node 24;
 * and a process killed with SIGKILL, which never writes its coverage, leaves no record behind.
 * What runs untracked adds nothing to the coverage report: keep it to what must run as users
 * run it (packages, the extracted program) and to kill -9 campaigns. The pid is the command's:
 * env execs it.
 */
export function untracked(cmd: string, args: readonly string[]): [string, string[]] {
  return ['/usr/bin/env', ['-u', 'NODE_OPTIONS', cmd, ...args]];
}

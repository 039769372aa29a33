/**
 * What `render` (and `restore`) must know about the file it writes: whether a running daemon
 * manages it, and a symbolic link the write replaced. Apart from daemon-commands so that
 * `render` does not load the daemon's modules (about 70 ms of a one-shot render; issue #15).
 */
import { resolve } from 'node:path';
import { DEFAULT_OUTPUT } from '../core/defaults.js';
import { replacedLinkMessage } from '../output/atomic-write.js';
import { recordHolder, StateDir } from '../daemon/state-dir.js';
import type { Logger } from '../core/log.js';

/**
 * For `render`: the running daemon that manages the file it would write, or the containerd hosts
 * directory it would (`hostsDir`): its pid and that path. The next render of the daemon's would
 * undo ours (a hosts directory rendered without its local mirror, the hosts.toml files of ours the
 * trial policy does not cover removed meanwhile).
 */
export async function managingDaemon(stateDir: string, output: string, hostsDir?: string): Promise<{ pid: number; path: string } | undefined> {
  const record = await new StateDir(stateDir).readRecord().catch(() => undefined);
  if (!record) return undefined;
  const path = record.output === resolve(output) ? output : hostsDir !== undefined && record.containerdHostsDir === resolve(hostsDir) ? hostsDir : undefined;
  return path !== undefined && recordHolder(record, stateDir).running ? { pid: record.pid, path } : undefined;
}

/**
 * For `render` of an output a daemon managed: the host's file that daemon adopted and renders on
 * (STATE/base.conf), when there is one. Without it a `render` while the daemon is stopped would
 * drop the host's own settings (its search registries, aliases). The daemon's record names its
 * output while it runs; a stopped one leaves none, so the state dir is taken for the output's
 * when `--state-dir` was given for it (`explicit`), or both are the defaults.
 */
export async function daemonBase(stateDir: string, output: string, explicit: boolean): Promise<string | undefined> {
  const state = new StateDir(stateDir);
  const record = await state.readRecord().catch(() => undefined);
  const paired = record !== undefined ? record.output === resolve(output) : explicit || resolve(output) === DEFAULT_OUTPUT;
  if (!paired) return undefined;
  const base = state.path('base.conf');
  return (await state.readBase().catch(() => undefined)) !== undefined ? base : undefined;
}

/** Says so when the write replaced a symbolic link. */
export function logReplacedLink(log: Logger, output: string, target: string | undefined): void {
  if (target !== undefined) log.warn({ path: output, linkTarget: target }, replacedLinkMessage(output, target));
}

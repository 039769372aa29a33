/**
 * What `render` (and `restore`) must know about the file it writes: whether a running daemon
 * manages it, and a symbolic link the write replaced. Apart from daemon-commands so that
 * `render` does not load the daemon's modules (about 70 ms of a one-shot render; issue #15).
 */
import { resolve } from 'node:path';
import { replacedLinkMessage } from '../output/atomic-write.js';
import { recordHolder, StateDir } from '../daemon/state-dir.js';
import type { Logger } from '../core/log.js';

/** For `render --output`: the daemon that manages that file, if one runs. */
export async function managingDaemon(stateDir: string, output: string): Promise<number | undefined> {
  const record = await new StateDir(stateDir).readRecord().catch(() => undefined);
  return record && record.output === resolve(output) && recordHolder(record, stateDir).running ? record.pid : undefined;
}

/** Says so when the write replaced a symbolic link. */
export function logReplacedLink(log: Logger, output: string, target: string | undefined): void {
  if (target !== undefined) log.warn({ path: output, linkTarget: target }, replacedLinkMessage(output, target));
}

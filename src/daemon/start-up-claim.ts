/**
 * What a daemon does with its state directory before its first render: makes it usable,
 * claims it (exactly one daemon per state directory), and clears the temp files an earlier
 * run killed mid-write left behind. Every failure is a StartError of one line naming the path.
 */
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from '../core/log.js';
import { LOCAL_MIRROR_REGISTRIES_D } from '../local-mirror/mapping.js';
import { removeStaleTemps } from '../output/atomic-write.js';
import { acquireLock, LockBusyError } from '../output/lock.js';
import { ownIdentity } from '../output/pid.js';
import type { DaemonConfig } from './config.js';
import { describeFsError, looksLikeDaemonOf, recordedPlaces, recordHolder, type StateDir, StateDirError } from './state-dir.js';

/** How long a start waits for another starting daemon's claim of the state dir, and when a claim naming no holder (an older version's) is stale. */
const CLAIM_WAIT_MS = 15_000;
const STALE_CLAIM_MS = 10_000;

export class StartError extends Error {}

/** The settings the claim reads. */
export type ClaimSettings = Pick<DaemonConfig, 'stateDir' | 'output' | 'controlSocket' | 'metricsFile' | 'containerdHostsDir'>;

/** Creates or checks the state dir (its layout, owner and mode). */
export async function initStateDir(state: StateDir, stateDir: string): Promise<void> {
  try {
    await state.init();
  } catch (e) {
    // A refusal says what is wrong itself; a failed fs operation (it has a code) is prefixed.
    const refusal = e instanceof StateDirError && (e as NodeJS.ErrnoException).code === undefined;
    throw new StartError(refusal ? e.message : `state directory ${stateDir} is not usable: ${e instanceof StateDirError ? e.message : describeFsError(e)}`);
  }
}

/**
 * Takes the state dir: reading the record of a running daemon and writing ours is one step
 * (under a lock, src/output/lock.ts), so that of several daemons started at once exactly one runs.
 * A record whose process is gone (its pid now another process after a crash or a power loss)
 * is replaced; every failure is one line that names the path.
 */
export async function claimStateDir(state: StateDir, settings: ClaimSettings, startedAt: string, log: Logger): Promise<void> {
  const lockPath = state.path('.claim.lock');
  let lock;
  try {
    lock = await acquireLock(lockPath, {
      waitMs: CLAIM_WAIT_MS,
      unnamedStaleMs: STALE_CLAIM_MS,
      looksLike: looksLikeDaemonOf(settings.stateDir),
      onTakeOver: (pid, why) => log.info(`removing a stale start-up lock ${lockPath}${pid !== undefined ? ` of pid ${pid}` : ''} (${why})`),
    });
  } catch (e) {
    if (e instanceof LockBusyError) throw new StartError(`state directory ${settings.stateDir} stays locked by another starting mirror-policyd (${e.message})`);
    throw new StartError(`cannot lock ${lockPath}: ${describeFsError(e)}`);
  }
  try {
    const other = await state.readRecord();
    if (other && other.pid !== process.pid) {
      const holder = recordHolder(other, settings.stateDir);
      if (holder.running) throw new StartError(`another mirror-policyd (pid ${other.pid}) is running with state directory ${settings.stateDir}`);
      log.info(`replacing the record of a mirror-policyd that is gone (${state.path('daemon.json')}: pid ${JSON.stringify(other.pid)}, ${holder.why})`);
    }
    await state.writeRecord({ ...ownIdentity(), ...recordedPlaces(settings), controlSocket: resolve(settings.controlSocket), startedAt });
  } catch (e) {
    if (e instanceof StartError) throw e;
    throw new StartError(e instanceof StateDirError ? e.message : `cannot take the state directory ${settings.stateDir}: ${describeFsError(e)}`);
  } finally {
    await lock.release().catch(() => {});
  }
}

/**
 * Temp files that an earlier run killed mid-write left beside the output, its registries.d
 * drop-in, the metrics file and in the state dir. Called before anything of ours writes there,
 * so our own pid's are stale too.
 */
export async function removeLeftTemps(state: StateDir, settings: ClaimSettings, log: Logger): Promise<void> {
  const places: Array<[string, string | undefined]> = [
    [dirname(settings.output), basename(settings.output)],
    // the local mirror's drop-in (local-mirror/registries-d-file.ts): its temp is not *.yaml, so only litter
    [join(dirname(settings.output), 'registries.d'), LOCAL_MIRROR_REGISTRIES_D],
    [settings.stateDir, undefined],
    ...['last-good', 'bases', 'drift'].map((sub): [string, undefined] => [state.path(sub), undefined]),
    ...(settings.metricsFile ? [[dirname(settings.metricsFile), basename(settings.metricsFile)] as [string, string]] : []),
  ];
  for (const [dir, only] of places) {
    const removed = await removeStaleTemps(dir, { only, noWriteOfOurs: true }).catch(() => []);
    if (removed.length > 0) log.info(`removed ${removed.length} temp file(s) left by an interrupted write in ${dir}: ${removed.join(', ')}`);
  }
}

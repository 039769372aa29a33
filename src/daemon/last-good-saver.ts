/**
 * Saving the fragments' last-good copies in the state dir, tolerating a state dir that cannot
 * take them (full, read-only): the render goes on (its policy is valid and belongs in effect),
 * the failure is a degraded reason, and the next try (after a backoff) saves the difference
 * between what the state dir holds and what is good now.
 */
import { FailureLog } from '../core/failure-log.js';
import type { Logger } from '../core/log.js';
import { Backoff } from './retry.js';
import type { StateDir } from './state-dir.js';

export class LastGoodSaver {
  /** What the state dir holds (differs from the last good while saving fails). Never mutated: the daemon replaces its record each render. */
  private saved: Readonly<Record<string, string>>;
  private lastError?: string;
  private readonly failures = new FailureLog();
  private readonly backoff = new Backoff();
  private stopping = false;

  constructor(
    private readonly state: StateDir,
    private readonly log: Logger,
    saved: Readonly<Record<string, string>>,
    /** Awaited before each copy is begun (see StateDir.writeLastGood). */
    private readonly pace: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.saved = { ...saved };
  }

  /** Saves what differs; on failure, returns after how long to try again. */
  async save(lastGood: Readonly<Record<string, string>>): Promise<number | undefined> {
    const where = this.state.path('last-good');
    try {
      await this.state.writeLastGood(this.saved, lastGood, () => this.stopping, this.pace);
      this.saved = lastGood; // not a copy: 10 000 entries copied after every change at 10 000 fragments
      if (this.failures.cleared()) this.log.info(`last-good copies saved in ${where} again`);
      this.lastError = undefined;
      this.backoff.succeeded();
      return undefined;
    } catch (e) {
      // Logged at error once per cause (its errno: a message may name a temp file, new at each try); the retries (every minute at most, while it lasts) at debug.
      const again = !this.failures.news(e);
      this.lastError = (e as Error).message;
      const retryInMs = this.backoff.failed();
      if (again)
        this.log.debug({ path: where, retryInMs }, `still cannot save the last-good copies in ${where}: ${this.lastError}; retrying in ${retryInMs / 1000} s`);
      else
        this.log.error(
          { path: where, retryInMs },
          `cannot save the last-good copies in ${where}: ${this.lastError}; retrying in ${retryInMs / 1000} s, then less often (until then a restart falls back to older copies); repeats are logged at debug`,
        );
      return retryInMs;
    }
  }

  /** The daemon stops: a save under way begins no further copy. */
  stop(): void {
    this.stopping = true;
  }

  degradedReasons(): string[] {
    return this.lastError ? [`cannot save the last-good copies in ${this.state.path('last-good')}: ${this.lastError}`] : [];
  }
}

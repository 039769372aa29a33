/**
 * The daemon's reloads (SIGHUP), one at a time, counted for `status` (reload-status.ts) so that
 * `mirror-policyd reload` can wait for the one its signal asked for.
 *
 * A request is counted at once (in the signal handler). One reload runs at a time; at most one
 * more waits: every request made before it begins is served by it, because it reads the config
 * file and the policy directory after it begins. Requests made before `open()` (the daemon is
 * still starting) are counted and served by one reload once it opens.
 *
 * Whatever a reload does, thrown errors included, its `end` step runs after its `begin` step:
 * for the daemon, READY=1 after RELOADING=1, so that systemd never keeps the unit "reloading".
 */
import { noReloads, type ReloadOutcome, type ReloadRecord, type ReloadResult, type ReloadStatus } from './reload-status.js';

export interface ReloadSteps {
  /** Whether a reload may run (false once the daemon stops: then neither begin nor end is sent). */
  canRun(): boolean;
  /** Before the reload (RELOADING=1). */
  begin(): void;
  /** The reload itself. A throw is a `failed` reload. */
  run(): Promise<ReloadResult>;
  /** After it, however it ended, unless the daemon stopped meanwhile (READY=1 with the status line). */
  end(): void;
  /** A reload that threw. */
  failed(e: Error): void;
}

const STOPPING: ReloadResult = { outcome: 'stopped', problems: ['the daemon is stopping'], warnings: [] };

export class ReloadQueue {
  private requested = 0;
  private started = 0;
  private finished = 0;
  private last?: ReloadRecord;
  private readonly byOutcome: Record<ReloadOutcome, number> = noReloads();
  private chain: Promise<void> = Promise.resolve();
  /** A reload is queued and has not begun: requests share it. */
  private waiting = false;
  private isOpen = false;
  /** Requests made before open(). */
  private heldBack = false;

  constructor(
    private readonly steps: ReloadSteps,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** A SIGHUP: counted now, served by the next reload to begin. */
  request(): void {
    this.requested++;
    if (this.isOpen) this.enqueue();
    else this.heldBack = true;
  }

  /** The daemon is up: requests made so far get their reload, and later ones theirs. */
  open(): void {
    this.isOpen = true;
    if (!this.heldBack) return;
    this.heldBack = false;
    this.enqueue();
  }

  /** Resolves when the reloads queued so far are done (never rejects). */
  settled(): Promise<void> {
    return this.chain;
  }

  status(): ReloadStatus {
    return { requested: this.requested, started: this.started, finished: this.finished, ...(this.last ? { last: this.last } : {}) };
  }

  /** The reloads finished, by how they ended (every outcome, 0 included: the metrics file's `reloads_total`). */
  outcomes(): Record<ReloadOutcome, number> {
    return { ...this.byOutcome };
  }

  private enqueue(): void {
    if (this.waiting) return;
    this.waiting = true;
    // A step that throws outside run() (none should) must not stop the reloads after it.
    this.chain = this.chain.then(() => this.runOne()).catch(() => undefined);
  }

  private async runOne(): Promise<void> {
    this.waiting = false; // from here on a request needs a reload after this one: this one may have read the config already
    const number = ++this.started;
    let result = STOPPING;
    if (this.steps.canRun()) {
      try {
        this.steps.begin();
        result = await this.steps.run();
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        this.steps.failed(err);
        result = { outcome: 'failed', problems: [`reload failed: ${err.message}`], warnings: [] };
      }
    }
    this.finished++;
    this.byOutcome[result.outcome]++;
    this.last = { number, at: this.now().toISOString(), ...result };
    if (result !== STOPPING && this.steps.canRun()) this.steps.end();
  }
}

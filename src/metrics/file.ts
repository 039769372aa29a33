/**
 * The metrics file for node_exporter's textfile collector: replaced atomically (the
 * collector may read it at any moment; its temp file is a dotfile it ignores), one write at
 * a time, each with the figures of the moment it runs. A failure is logged once until a
 * write succeeds again, and never stops the daemon.
 */
import { writeFileAtomic } from '../output/atomic-write.js';
import type { Logger } from '../core/log.js';
import { renderMetrics, type MetricsSnapshot } from './format.js';

export class MetricsFile {
  private writes: Promise<void> = Promise.resolve();
  private problem?: string;

  constructor(
    private readonly log: Logger,
    private readonly snapshot: () => MetricsSnapshot,
  ) {}

  /** Queues a write of the current figures to `file` (nothing when undefined); resolves when it is done. */
  write(file: string | undefined): Promise<void> {
    if (file === undefined) return this.writes;
    this.writes = this.writes.then(async () => {
      try {
        await writeFileAtomic(file, renderMetrics(this.snapshot()));
        if (this.problem) this.log.info(`metrics file ${file} written again`);
        this.problem = undefined;
      } catch (e) {
        const msg = (e as Error).message;
        if (this.problem !== msg) this.log.warn({ path: file }, `cannot write the metrics file ${file}: ${msg}`);
        this.problem = msg;
      }
    });
    return this.writes;
  }

  /** Resolves when the writes queued so far are done. */
  settled(): Promise<void> {
    return this.writes;
  }
}

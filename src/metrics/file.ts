/**
 * The metrics file for node_exporter's textfile collector: replaced atomically (the
 * collector may read it at any moment; its temp file is a dotfile it ignores), one write at
 * a time, each with the figures of the moment it runs. A failure is logged once until a
 * write succeeds again, and never stops the daemon.
 *
 * The file is ours only while we keep it current: a clean stop removes it, and so does a
 * reload that moves it or turns it off. A file left behind would go on being exported with
 * the last figures (mirrors up, healthy) as if the daemon still ran; without it the series
 * are absent, which `absent()` alerts see. (A crash leaves it: the restart replaces it.)
 */
import { promises as fs } from 'node:fs';
import { writeFileAtomic } from '../output/atomic-write.js';
import { FailureLog } from '../core/failure-log.js';
import type { Logger } from '../core/log.js';
import { renderMetrics, type MetricsSnapshot } from './format.js';

export class MetricsFile {
  private writes: Promise<void> = Promise.resolve();
  private readonly failure = new FailureLog();
  /** The path last written: the file that is ours to remove. */
  private written?: string;
  private removed = false;

  constructor(
    private readonly log: Logger,
    private readonly snapshot: () => MetricsSnapshot,
  ) {}

  /**
   * Queues a write of the current figures to `file`; resolves when it is done. A different
   * path than the last one written (undefined: the setting turned off) removes that one.
   */
  write(file: string | undefined): Promise<void> {
    if (this.removed || (file === undefined && this.written === undefined)) return this.writes;
    return this.queue(async () => {
      if (this.written !== undefined && this.written !== file) await this.removeWritten();
      if (file === undefined) return;
      try {
        await writeFileAtomic(file, renderMetrics(this.snapshot()));
        this.written = file;
        if (this.failure.cleared()) this.log.info(`metrics file ${file} written again`);
      } catch (e) {
        if (this.failure.news(e))
          this.log.warn(
            { path: file },
            `cannot write the metrics file ${file}: ${(e as Error).message} (tried again after each render and probe round; logged again only when the reason changes)`,
          );
      }
    });
  }

  /** The daemon stops: after the writes queued so far, the file is removed and no write follows. */
  remove(): Promise<void> {
    this.removed = true;
    return this.queue(() => this.removeWritten());
  }

  /** Resolves when the writes queued so far are done. */
  settled(): Promise<void> {
    return this.writes;
  }

  private queue(step: () => Promise<void>): Promise<void> {
    this.writes = this.writes.then(step);
    return this.writes;
  }

  private async removeWritten(): Promise<void> {
    const file = this.written;
    this.written = undefined;
    if (file === undefined) return;
    try {
      await fs.rm(file);
      this.log.info(`metrics file ${file} removed`);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'ENOENT') this.log.warn({ path: file }, `cannot remove the metrics file ${file}: ${err.message}`);
    }
  }
}

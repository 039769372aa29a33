/**
 * The output file (default /etc/containers/registries.conf) is never overwritten unseen: a file
 * the daemon did not write is adopted as the base (the first one) or kept in the state dir
 * (an edit, a replacement) before it is replaced, and a write replaces only the text looked
 * at before the render (compare-before-replace); anything else changed meanwhile means a
 * render again.
 */
import { mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from '../core/log.js';
import { readRegularFileSync, replacedLinkMessage, writeFileAtomic } from '../output/atomic-write.js';
import { classifyText, newestKeptCopy } from '../output/managed-file.js';
import { INVALID_UTF8, invalidUtf8Line } from '../registries-conf/parse.js';
import { fileIdentity } from './inputs-fingerprint.js';
import type { DaemonConfig } from './config.js';
import { IN_PLACE_SETTLE_MS } from '../fragments/policy-dir.js';
import { EMPTY_SETTLE_MS, WRITE_HOLD_MS } from './render-scheduler.js';
import { readOnlyHint, type StateDir } from './state-dir.js';

/** How many drift events `status` keeps (the oldest go first). */
const MAX_DRIFT_EVENTS = 100;

export interface DriftEvent {
  readonly at: string;
  readonly kind: 'adopted' | 'edited' | 'replaced';
  readonly savedAs: string;
}

/**
 * What a look before the render found: the text this render may replace (undefined: no file)
 * and its bytes, or why the output cannot be replaced. `settling`: the output is empty or someone
 * else's just written, maybe half of an in-place write: look again shortly before acting on it.
 */
export type OutputLook = { readonly text: string | undefined; readonly bytes?: Buffer } | { readonly problem: string } | { readonly settling: true };

/** A replace that found the output changed since the look ('raced': render again), or that wrote. */
export type ReplaceOutcome = 'raced' | { readonly changed: boolean };

export class OutputGuard {
  private lastWritten?: string;
  /** lastWritten as written: a look that finds these bytes need not decode them (2 MB at 10 000 fragments, read twice a change: the look and the write). */
  private lastWrittenBytes?: Buffer;
  /** An empty output seen, and since when (now()): acted on only once it has stayed the same empty file EMPTY_SETTLE_MS. */
  private emptySeen?: { readonly identity: string; readonly since: number };
  /** Since when (now()) the output has been someone else's text written just now (maybeHalfWritten). */
  private freshSince?: number;
  /** The output's identity right after our last write that changed it. */
  private ownWrite?: string;
  /**
   * The text someone else wrote that keepForeign has kept and our write has not yet replaced:
   * a look before each retry of a failing render (a read-only output, a missing --base) finds
   * it again and must not keep, count and log it again each time (drift/ keeps only 20).
   */
  private keptForeign?: string;
  private readonly events: DriftEvent[] = [];
  private restores = 0;
  private writeError?: string;

  constructor(
    /** Read at each use: a reload may change them. */
    private readonly settings: () => Pick<DaemonConfig, 'output' | 'base' | 'stateDir'>,
    private readonly state: StateDir,
    private readonly log: Logger,
    /** A monotonic clock in ms (tests pass their own). */
    private readonly now: () => number = () => performance.now(),
    /** The wall clock in ms, which file times follow (tests pass their own). */
    private readonly wallNow: () => number = () => Date.now(),
  ) {}

  /** The adoptions, edits and replacements seen, oldest first. */
  get drift(): readonly DriftEvent[] {
    return this.events;
  }

  /** How many hand edits a render has undone. */
  get driftRestores(): number {
    return this.restores;
  }

  /** Why the last write failed, until one succeeds. */
  get lastWriteError(): string | undefined {
    return this.writeError;
  }

  /**
   * Before a render: the text this render may replace. A file someone else wrote is looked at
   * only once a copy of it is safe in the state dir. An output that cannot even be read (its
   * parent is a file, EACCES...) cannot be classified, so it is not replaced: a write problem.
   */
  async look(): Promise<OutputLook> {
    let bytes: Buffer | undefined;
    try {
      bytes = this.read();
    } catch (e) {
      return { problem: `cannot read it: ${(e as Error).message}` };
    }
    const ourLast = this.lastWrittenBytes !== undefined && bytes?.equals(this.lastWrittenBytes);
    const current = ourLast ? this.lastWritten : bytes?.toString('utf8');
    const unadoptable = ourLast ? undefined : this.notAdoptable(current, bytes);
    if (unadoptable !== undefined) return { problem: unadoptable };
    if (this.maybeHalfWritten(current, ourLast === true)) return { settling: true };
    try {
      return bytes === undefined ? { text: await this.keepForeign(current) } : { text: await this.keepForeign(current, bytes), bytes };
    } catch (e) {
      return { problem: `not replaced, since a copy of it cannot be kept in ${this.settings().stateDir}: ${(e as Error).message}` };
    }
  }

  /**
   * Writes `text` over the output if it still holds what `look` saw; throws when it cannot be
   * written. `onReplaced` runs as soon as the new file is in place (before its directory's fsync).
   */
  async replace(text: string, look: OutputLook, onReplaced?: () => void): Promise<ReplaceOutcome> {
    const { output } = this.settings();
    if ('problem' in look) throw new Error(look.problem);
    if ('settling' in look) return 'raced';
    // Compared as bytes: the look's bytes are what it decoded (or knew as our last write).
    const unchanged = (current: Buffer | undefined): boolean =>
      current === undefined || look.bytes === undefined ? current === look.bytes : current.equals(look.bytes);
    mkdirSync(resolve(output, '..'), { recursive: true, mode: 0o755 });
    const bytes = Buffer.from(text, 'utf8');
    // Someone replaced or edited the output while we rendered or wrote: not ours to overwrite
    // unseen (it would be lost); the next render classifies it and keeps it. writeFileAtomic
    // asks `unchanged` of what it reads first and again just before the rename.
    // Blocking calls (but the fsyncs): this write is on the path of every change (atomic-write.ts).
    // Our file's identity is taken as soon as it is in place, not after the directory's fsync
    // (milliseconds, seconds under I/O load, with the event loop turning): a file someone else
    // put there meanwhile would be taken for ours, its watcher event dropped as our own write.
    let placed: string | undefined;
    const afterRename = (): void => {
      placed = fileIdentity(output);
      onReplaced?.();
    };
    const written = await writeFileAtomic(output, bytes, { beforeReplace: unchanged, blocking: true, afterRename });
    if (written.aborted) {
      this.log.debug(`${output} changed during the render; rendering again`);
      return 'raced';
    }
    if (written.replacedLink !== undefined)
      this.log.warn({ path: output, linkTarget: written.replacedLink }, replacedLinkMessage(output, written.replacedLink));
    this.lastWritten = text;
    this.lastWrittenBytes = bytes;
    this.keptForeign = undefined;
    if (written.changed) this.ownWrite = placed;
    if (this.writeError) this.log.info(`${output} written again`);
    this.writeError = undefined;
    return { changed: written.changed };
  }

  /**
   * Whether the output is, by identity, the file our last write left: the watcher's event for
   * that write then needs no render (issue #15: every change rendered twice). Anything else,
   * an error included, says no. Kernel file times are coarse (a tick), so a same-size write in
   * the tick of ours could pass for it; the rescan, which compares against the identity taken
   * before our write, renders once after it and sees that.
   */
  isOwnWrite(): boolean {
    return this.ownWrite !== undefined && this.ownWrite !== '-' && fileIdentity(this.settings().output) === this.ownWrite;
  }

  /** A replace that threw: its message, kept until a write succeeds. */
  failed(e: unknown): string {
    this.writeError = `${(e as Error).message}${readOnlyHint(e)}`;
    return this.writeError;
  }

  /**
   * Whether the output may be the first part of an in-place write (truncate, then write, as an
   * editor, `cat >` or `cp` does): keeping that part now and renaming our render over the file
   * would send the writer's remaining writes to a file no longer linked, lost. So it is looked at
   * again in a moment (the daemon's recheck), as a fragment would be:
   * - empty: acted on once it has stayed the same empty file EMPTY_SETTLE_MS, not at the next
   *   look, which another event can bring within milliseconds (issue #15's fs.watch sees the
   *   truncation at once);
   * - someone else's text written less than IN_PLACE_SETTLE_MS ago: acted on once it is that
   *   old, or WRITE_HOLD_MS after it was first seen so (a writer still writing is then taken as
   *   it is). A host's file found at start is usually older: no wait (else READY=1 waits for
   *   it: Daemon.outputSettled). Our own render's text (an earlier run's, `render`'s) is
   *   replaced at once, since nothing of it is kept.
   */
  private maybeHalfWritten(current: string | undefined, ourLast: boolean): boolean {
    const now = this.now();
    if (current === '' && this.lastWritten !== '') {
      this.freshSince = undefined;
      const identity = fileIdentity(this.settings().output);
      if (this.emptySeen?.identity !== identity) this.emptySeen = { identity, since: now };
      return now - this.emptySeen.since < EMPTY_SETTLE_MS;
    }
    this.emptySeen = undefined;
    const fresh =
      current !== undefined &&
      !ourLast &&
      current !== this.lastWritten &&
      current !== this.keptForeign &&
      this.writtenJustNow() &&
      classifyText(current) !== 'ours';
    if (fresh) {
      this.freshSince ??= now;
      if (now - this.freshSince < WRITE_HOLD_MS) return true;
    }
    this.freshSince = undefined; // acted on: a later write has its own moment
    return false;
  }

  /** Whether the output's last write is less than IN_PLACE_SETTLE_MS old (by the wall clock, as file times are). */
  private writtenJustNow(): boolean {
    let mtimeMs: number | undefined;
    try {
      mtimeMs = statSync(this.settings().output, { throwIfNoEntry: false })?.mtimeMs;
    } catch {
      return false; // gone or unreadable since the read: the look acts on what it read
    }
    return mtimeMs !== undefined && Math.abs(this.wallNow() - mtimeMs) < IN_PLACE_SETTLE_MS;
  }

  /** Blocking, as the write's own reads (atomic-write.ts says why); a FIFO there is refused, not waited on. */
  private read(): Buffer | undefined {
    return readRegularFileSync(this.settings().output);
  }

  /**
   * Why the host's file would be adopted as the base (someone else's, no --base) but cannot be:
   * it is not UTF-8, so its text is not the file byte for byte, and containers/image refuses it as
   * it stands. It is then left in place, the line named, until fixed. A copy kept as drift is
   * kept as bytes, so an edit of ours or a file replacing ours under --base need not wait.
   */
  private notAdoptable(current: string | undefined, bytes: Buffer | undefined): string | undefined {
    if (current === undefined || bytes === undefined || current === this.keptForeign || this.settings().base !== undefined) return undefined;
    const line = invalidUtf8Line(bytes);
    if (line === undefined || classifyText(current) !== 'foreign') return undefined;
    return `${this.settings().output}:${line}: ${INVALID_UTF8}; not adopted as the base nor replaced, so that nothing of it is lost: fix that line (or remove the file)`;
  }

  /** A file that is not what we last wrote was adopted, edited or replaced by someone: kept (drift copies as `bytes`), and returned. */
  private async keepForeign(current: string | undefined, bytes?: Buffer): Promise<string | undefined> {
    if (current === undefined || current === this.lastWritten || current === this.keptForeign) return current;
    const kind = classifyText(current);
    if (kind === 'ours') {
      // Our render from an earlier run or a `render`: fine to replace. `render` kept the host's file beside it.
      await this.adoptRenderCopy();
      return current;
    }
    const { output, base } = this.settings();
    const at = new Date().toISOString();
    if (kind === 'edited') {
      const savedAs = await this.state.keepDrift(bytes ?? current);
      this.events.push({ at, kind: 'edited', savedAs });
      this.restores++;
      this.log.warn({ path: output, savedAs }, `${output} was edited by hand; the edited copy is kept as ${savedAs} and our render restored`);
    } else if (base === undefined) {
      const first = (await this.state.readOriginal()) === undefined;
      await this.state.adopt(current);
      const savedAs = this.state.path('base.conf');
      this.events.push({ at, kind: first ? 'adopted' : 'replaced', savedAs });
      if (first) this.log.info({ path: output, savedAs }, `adopted ${output} as the base (kept in ${savedAs}; \`mirror-policyd restore\` puts it back)`);
      else
        this.log.warn(
          { path: output, savedAs },
          `${output} was replaced by a file we did not write; it is the new base (the previous base is kept in ${this.state.path('bases')})`,
        );
    } else {
      const savedAs = await this.state.keepDrift(bytes ?? current);
      this.events.push({ at, kind: 'replaced', savedAs });
      this.log.warn({ path: output, savedAs }, `${output} was replaced by a file we did not write; kept as ${savedAs} (the base is --base ${base})`);
    }
    while (this.events.length > MAX_DRIFT_EVENTS) this.events.shift();
    this.keptForeign = current;
    return current;
  }

  /**
   * `render` replaced the host's file before the daemon first ran, keeping it as
   * OUTPUT.before-mirror-policyd (`.1`, `.2`, ... for a later one) and rendering on top of it: the
   * daemon adopts the newest copy (once,
   * with no base yet and no --base), or it would drop the host's settings and `restore` would
   * remove the file instead of putting it back.
   */
  private async adoptRenderCopy(): Promise<void> {
    const { output, base } = this.settings();
    if (base !== undefined || (await this.state.readOriginal()) !== undefined) return;
    const copy = await newestKeptCopy(output);
    if (copy === undefined) return;
    let bytes: Buffer | undefined;
    try {
      bytes = readRegularFileSync(copy);
    } catch (e) {
      this.log.warn({ path: copy }, `${copy} (the host's file \`render\` kept) not adopted: ${(e as Error).message}`);
      return;
    }
    if (bytes === undefined) return;
    const badLine = invalidUtf8Line(bytes);
    if (badLine !== undefined) {
      // Adopted as text it would not be the file byte for byte; `restore` puts the copy itself back.
      this.log.warn({ path: copy }, `${copy} (the host's file \`render\` kept) not adopted: line ${badLine}: ${INVALID_UTF8}`);
      return;
    }
    await this.state.adopt(bytes.toString('utf8'));
    const savedAs = this.state.path('base.conf');
    this.events.push({ at: new Date().toISOString(), kind: 'adopted', savedAs });
    this.log.info(
      { path: copy, savedAs },
      `adopted ${copy}, the host's file \`render\` kept, as the base (kept in ${savedAs}; \`mirror-policyd restore\` puts it back)`,
    );
  }
}

/**
 * What the daemon knows about each fragment across renders: its text when last read and when
 * it last changed (a conflict is won by the fragment changed longest ago), its last valid
 * content (kept in the state dir for the next start), and its status in the last render, whose
 * problems are logged once when they appear and once when they are fixed.
 */
import { formatDiagnostic, unlabelledDiagnostic, type Diagnostic } from '../core/diagnostic.js';
import type { Logger } from '../core/log.js';
import { oneLine } from '../core/one-line.js';
import type { FragmentInput, FragmentStatus } from '../pipeline/forgiving.js';
import type { SourceText } from '../pipeline/strict.js';
import { LastGoodSaver } from './last-good-saver.js';
import { EMPTY_SETTLE_MS, WRITE_HOLD_MS } from './render-scheduler.js';
import type { StateDir } from './state-dir.js';

/** Log lines of one message for as many fragments in one render; the rest are counted in one line. */
const MAX_ALIKE = 5;

export class FragmentTracker {
  private changeCounter = 0;
  /** Each fragment's text when last read, as the input given to the renders (the same object while it is unchanged). */
  private readonly seen = new Map<string, FragmentInput>();
  /** Fragments read empty or half written, and since when (now()): given a moment to show whether they are being rewritten. */
  private readonly heldSince = new Map<string, number>();
  /** Fragments that vanished, and since when (performance.now): given a moment to show whether their whole directory is going. */
  private readonly gonePending = new Map<string, number>();
  /** Whether a read was stamped yet: at the first (start), every fragment is new and none is half-written by us. */
  private stampedOnce = false;
  private good: Record<string, string> = {};
  private saver?: LastGoodSaver;
  private saving?: Promise<void>;
  private saveAgain = false;
  private reported = new Map<string, string>(); // file → messages already logged
  private lastStatuses: FragmentStatus[] = [];
  private otherWarnings: string[] = [];

  constructor(
    private readonly log: Logger,
    /** Asks for a look again shortly (a fragment just became empty, or vanished). */
    private readonly recheckSoon: () => void,
    /** Awaited before each last-good copy is begun: the daemon's waits for a render in flight, so that saves go between renders. */
    private readonly savePace: () => Promise<void> = () => Promise.resolve(),
    /** A monotonic clock in ms (tests pass their own). */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** At start: the last valid contents the state dir holds, which are saved there from now on. */
  async load(state: StateDir): Promise<void> {
    this.good = await state.readLastGood();
    this.saver = new LastGoodSaver(state, this.log, this.good, this.savePace);
  }

  /** Every fragment's last valid content. */
  get lastGood(): Readonly<Record<string, string>> {
    return this.good;
  }

  /** The statuses of the last render's merge. */
  get statuses(): readonly FragmentStatus[] {
    return this.lastStatuses;
  }

  /** Warnings of the last render not located in a fragment (files that are not fragments, the base). */
  get warnings(): readonly string[] {
    return this.otherWarnings;
  }

  /**
   * The fragments known: those with a last valid content or a status (a name may come twice).
   * Lazy: asked for at every render but read only while the policy directory is refused as a
   * whole (policy-dir-presence.ts), and a set of both lists cost ~4 ms a render at 10 000 fragments.
   */
  *known(): Iterable<string> {
    yield* Object.keys(this.good);
    for (const s of this.lastStatuses) yield s.file;
  }

  /**
   * The fragments just read, each with when it last changed. `settleRemovals` (a read of the
   * entries the watcher named): a fragment that vanished stays in effect for EMPTY_SETTLE_MS
   * and is looked at again, because `rm -rf` unlinks a directory's files before the directory,
   * and a render in between would drop them from the output although the whole directory is
   * going (which keeps the last render in effect: policy-dir-presence.ts). A whole read (the
   * rescan, a directory back or swapped) takes a removal at once.
   */
  stamp(read: readonly SourceText[], settleRemovals = false): FragmentInput[] {
    const firstSight = !this.stampedOnce;
    this.stampedOnce = true;
    const seenBefore = this.seen.size;
    let known = 0; // how many of `read` were seen before: all of them (names are distinct), and nothing is gone
    const stamped: FragmentInput[] = [];
    const now = this.now();
    for (const f of read) {
      const prev = this.seen.get(f.file);
      if (prev) known++;
      // A fragment created while we run is read empty when it is caught between its creation and
      // its first write: left out of this render (as it was a moment ago) and looked at again
      // shortly, so its real content, not an empty one, is the first the daemon knows of it.
      if (f.text === '' && !prev && !firstSight && this.good[f.file] === undefined && this.stillSettling(f.file, now)) continue;
      // An in-place write (truncate, then write) read in between looks like an empty fragment,
      // which is valid and would drop its mirrors and replace its last good. So a fragment that
      // just became empty keeps its previous content, and is looked at again shortly: still empty
      // WRITE_HOLD_MS after it was first read so, it really is empty (a writer may truncate long
      // before it writes: `oc get ... > x.yaml`). Not at the next read: the
      // writer's own truncation can be read again (another event, its rewrite caught between its
      // open and its write). Nor only when it was read before: at start and after SIGHUP (nothing
      // read yet) its last valid content is what it had, so that is what it keeps meanwhile.
      // Likewise a fragment rewritten in place, its last write just now (policy-dir.ts,
      // IN_PLACE_SETTLE_MS): what was read may be its first part only. It keeps its previous
      // content until a read finds it settled, or for WRITE_HOLD_MS at most (a writer that is
      // still writing then is taken as it is).
      const before = prev?.text ?? this.good[f.file];
      const maybePartial = f.text === '' ? before !== '' : f.settling === true && before !== f.text;
      if (before !== undefined && maybePartial && this.stillSettling(f.file, now)) {
        stamped.push(prev ?? { file: f.file, text: before, changedAt: 0 });
        continue;
      }
      this.heldSince.delete(f.file);
      // First sight (start, SIGHUP): a fragment still at its last good content is older than any
      // that changed since, so after a restart the changed one still gives way in a conflict.
      // Unchanged, it is the same input as before (no object per fragment per render at 10 000).
      if (prev && prev.text === f.text) {
        stamped.push(prev);
        continue;
      }
      const changedAt = prev ? ++this.changeCounter : this.good[f.file] === f.text ? 0 : ++this.changeCounter;
      const input: FragmentInput = { file: f.file, text: f.text, changedAt };
      this.seen.set(f.file, input);
      stamped.push(input);
    }
    if (this.heldSince.size > 0) this.forgetVanishedHolds(read);
    if (known === seenBefore && this.gonePending.size === 0) return stamped;
    const present = new Set(read.map((f) => f.file)); // a set, not a scan per fragment: O(n) at 10 000 fragments
    let settling = false;
    for (const [file, prev] of this.seen) {
      if (present.has(file)) {
        this.gonePending.delete(file); // back (or never gone)
        continue;
      }
      const since = this.gonePending.get(file) ?? now;
      if (settleRemovals && now - since < EMPTY_SETTLE_MS) {
        this.gonePending.set(file, since);
        stamped.push(prev);
        settling = true;
        continue;
      }
      this.gonePending.delete(file);
      this.seen.delete(file);
    }
    if (settling) this.recheckSoon();
    return stamped;
  }

  /** Whether `file`, read empty (or settling) at `now`, is within WRITE_HOLD_MS of when it was first read so; then a look again is asked for. */
  private stillSettling(file: string, now: number): boolean {
    const since = this.heldSince.get(file) ?? now;
    if (now - since >= WRITE_HOLD_MS) return false;
    this.heldSince.set(file, since);
    this.recheckSoon();
    return true;
  }

  /** Holds pending for files no longer there: one of that name later is new, its moment its own. */
  private forgetVanishedHolds(read: readonly SourceText[]): void {
    const present = new Set(read.map((f) => f.file));
    for (const file of this.heldSince.keys()) if (!present.has(file)) this.heldSince.delete(file);
  }

  /** A merge's outcome: the fragments' statuses and the render's diagnostics (problems logged once). */
  record(statuses: FragmentStatus[], diagnostics: readonly Diagnostic[]): void {
    this.lastStatuses = statuses;
    const inFragments = new Set(statuses.map((x) => x.file));
    this.otherWarnings = diagnostics.filter((x) => x.severity === 'warning' && !inFragments.has(x.file)).map(formatDiagnostic);
    this.reportProblems(statuses, diagnostics);
  }

  /** A valid render's last valid contents: in effect for the next render at once; saved by saveSoon(). */
  accept(lastGood: Record<string, string>): void {
    this.good = lastGood;
  }

  /**
   * Saves the last valid contents in the state dir, in the background: called after the output
   * is in place, so that their fsyncs are not in the way of a change (issue #15). Saves are
   * batched: one asked for while another runs is done after it, once, with what is good then.
   * Each copy is written atomically, so a kill at any moment leaves each one some content that
   * was valid. `onFailure` gets after how long to try again.
   */
  saveSoon(onFailure: (retryInMs: number) => void): void {
    if (this.saving) {
      this.saveAgain = true;
      return;
    }
    const run = async (): Promise<void> => {
      do {
        this.saveAgain = false;
        const retryInMs = await this.saver?.save(this.good);
        if (retryInMs !== undefined) onFailure(retryInMs);
      } while (this.saveAgain);
    };
    this.saving = run().finally(() => (this.saving = undefined));
  }

  /** Resolves when no save is running. */
  saved(): Promise<void> {
    return this.saving ?? Promise.resolve();
  }

  /** Stopping: a save under way ends after the copies begun (each whole); resolves then. */
  stopSaving(): Promise<void> {
    this.saver?.stop();
    return this.saving ?? Promise.resolve();
  }

  /** Why the last-good copies are not safe in the state dir, if they are not. */
  savingProblems(): string[] {
    return this.saver?.degradedReasons() ?? [];
  }

  /** SIGHUP: every fragment is looked at as if for the first time, and its problems logged again. */
  forget(): void {
    this.seen.clear();
    this.gonePending.clear();
    this.heldSince.clear();
    this.reported.clear();
  }

  /** Each problem is logged once, when it appears; a fix is logged when it happens. */
  private reportProblems(statuses: readonly FragmentStatus[], diagnostics: readonly Diagnostic[]): void {
    const now = new Map<string, string>();
    // One cause can hit every fragment at once (a refused directory, a bulk copy gone wrong): the
    // first MAX_ALIKE lines of one message are logged, the rest counted in one line.
    const alike = new Map<string, number>();
    const once = (message: string, log: () => void): void => {
      const n = (alike.get(message) ?? 0) + 1;
      alike.set(message, n);
      if (n <= MAX_ALIKE) log();
    };
    for (const s of statuses) {
      const key = s.errors.map(formatDiagnostic).join('\n');
      if (s.state !== 'valid') now.set(s.file, `${s.state}:${key}`);
      const before = this.reported.get(s.file);
      if (s.state !== 'valid' && before !== `${s.state}:${key}`) {
        const effect = s.state === 'held' ? 'its last valid content stays in effect' : 'left out';
        for (const e of s.errors)
          once(`error:${e.message} (${effect})`, () => this.log.error({ fragment: s.file, line: e.line }, `${formatDiagnostic(e)} (${effect})`));
        if (s.errors.length === 0) this.log.error({ fragment: s.file }, `${s.file}: not usable (${effect})`);
      } else if (s.state === 'valid' && before !== undefined) {
        once('info:valid again', () => this.log.info({ fragment: s.file }, `${s.file} is valid again`));
      }
    }
    for (const [key, n] of alike) {
      if (n <= MAX_ALIKE) continue;
      if (key.startsWith('info:')) this.log.info(`and ${n - MAX_ALIKE} more fragments are valid again`);
      else this.log.error(`and ${n - MAX_ALIKE} more fragments: ${oneLine(key.slice('error:'.length))}; \`mirror-policyd status\` lists each`);
    }
    for (const d of diagnostics) {
      if (d.severity !== 'warning') continue;
      const key = `warning:${formatDiagnostic(d)}`;
      now.set(key, key);
      if (!this.reported.has(key)) this.log.warn({ fragment: d.file }, unlabelledDiagnostic(d));
    }
    this.reported = now;
  }
}

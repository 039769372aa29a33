/**
 * The daemon's answer to a policy directory it cannot take at its word: one that is missing
 * (deleted, moved away, the gap in a `mv policy.d policy.d.old; mv policy.d.new policy.d`),
 * and one refused or unreadable as a whole (writable by others, EACCES, swapped while read).
 * In both cases what the directory holds now is unknown, so nothing it seems to say (an empty
 * policy, a deletion, a rename) may take effect: the last render and every fragment's last
 * valid content stay. An existing, empty, trusted directory is a valid empty policy.
 */
import { promises as fs } from 'node:fs';
import { error, formatDiagnostic, type Diagnostic } from '../core/diagnostic.js';
import type { Logger } from '../core/log.js';
import type { PolicyDirContents } from '../fragments/policy-dir.js';

/** How often a missing policy directory is looked for (besides the watcher on its parent, which a missing parent defeats). */
export const MISSING_DIR_POLL_MS = 1000;

/**
 * The fragments the daemon knew that a refused directory no longer lists: each is held at its
 * last valid content too, as if refused by name (a deletion or rename by whoever could write
 * there must not take effect). Pure.
 */
export function holdUnlisted(known: Iterable<string>, dir: PolicyDirContents): Diagnostic[] {
  const listed = new Set([...dir.fragments.map((f) => f.file), ...dir.diagnostics.map((d) => d.file)]);
  const held: Diagnostic[] = [];
  for (const file of new Set(known)) {
    if (!listed.has(file))
      held.push(error({ file }, 'removed or renamed while the policy directory is refused or unreadable; that takes effect once the directory is fixed'));
  }
  return held;
}

/**
 * While the policy directory is missing, looks for it every MISSING_DIR_POLL_MS and calls
 * `onBack` once it is there (the watcher on the parent usually says so first; this covers a
 * missing parent and a watcher that lost the parent). Bounded: it runs only while missing.
 */
export class MissingDirPoll {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dir: () => string,
    private readonly onBack: () => void,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void fs.stat(this.dir()).then(
        (st) => {
          if (!st.isDirectory()) return;
          this.stop();
          this.onBack();
        },
        () => {},
      );
    }, MISSING_DIR_POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** What the render does with what was read: skip it (missing), or render these fragments as refused. */
export type DirVerdict = { readonly render: false } | { readonly render: true; readonly unreadable: Diagnostic[]; readonly warnings: Diagnostic[] };

/**
 * The policy directory's standing across renders: missing (and looked for), refused as a whole,
 * or fine; logs each change once and gives the degraded reasons.
 */
export class PolicyDirPresence {
  private missing = false;
  private problem?: string;
  private readonly poll: MissingDirPoll;

  constructor(
    private readonly dir: () => string,
    private readonly log: Logger,
    onBack: () => void,
  ) {
    this.poll = new MissingDirPoll(dir, onBack);
  }

  /**
   * After a read of the directory: whether to render, and which fragments count as refused
   * (`known` are the fragments the daemon knew; `kept` says what stays while it is missing).
   */
  judge(contents: PolicyDirContents, known: Iterable<string>, kept: string): DirVerdict {
    const dir = this.dir();
    if (!contents.exists) {
      if (!this.missing) this.log.warn({ policyDir: dir }, `policy directory ${dir} does not exist; waiting for it (${kept} until it is back)`);
      this.missing = true;
      this.poll.start();
      return { render: false };
    }
    if (this.missing) this.log.info({ policyDir: dir }, `policy directory ${dir} is there again; rendering it`);
    this.missing = false;
    this.poll.stop();
    this.noteProblem(contents.dirProblem);
    const refused = contents.diagnostics.filter((d) => d.severity === 'error' && d !== contents.dirProblem);
    return {
      render: true,
      // Refused or unreadable as a whole: what it holds is unknown, so a fragment it no longer lists is held too.
      unreadable: contents.dirProblem ? [...refused, ...holdUnlisted(known, contents)] : refused,
      warnings: contents.diagnostics.filter((d) => d.severity === 'warning'),
    };
  }

  /** `kept` says what stays in effect meanwhile. */
  degradedReasons(kept: string): string[] {
    return [...(this.missing ? [`policy directory ${this.dir()} does not exist; ${kept} until it is back`] : []), ...(this.problem ? [this.problem] : [])];
  }

  stop(): void {
    this.poll.stop();
  }

  /** Logs the refusal of the whole directory when it starts or changes, and its end. */
  private noteProblem(problem: Diagnostic | undefined): void {
    const now = problem ? `${formatDiagnostic(problem)}; every fragment is held at its last valid content` : undefined;
    if (now !== undefined && now !== this.problem) this.log.error({ policyDir: this.dir() }, now);
    else if (now === undefined && this.problem !== undefined) this.log.info({ policyDir: this.dir() }, `policy directory ${this.dir()} is usable again`);
    this.problem = now;
  }
}

/**
 * The daemon's answer to a policy directory it cannot take at its word: one that is missing
 * (deleted, moved away, the gap in a `mv policy.d policy.d.old; mv policy.d.new policy.d`),
 * and one refused or unreadable as a whole (writable by others, EACCES, swapped while read).
 * In both cases what the directory holds now is unknown, so nothing it seems to say (an empty
 * policy, a deletion, a rename) may take effect: the last render and every fragment's last
 * valid content stay. An existing, empty, trusted directory is a valid empty policy.
 */
import { promises as fs } from 'node:fs';
import { error, type Diagnostic } from '../diagnostic.js';
import type { PolicyDirContents } from '../policy-dir.js';

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
    if (!listed.has(file)) held.push(error({ file }, 'removed or renamed while the policy directory is refused or unreadable; that takes effect once the directory is fixed'));
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

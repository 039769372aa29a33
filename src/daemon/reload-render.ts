/**
 * The render a reload waits for. A reload sets it once its settings are in and the caches are
 * cleared; the next render to begin carries it and says whether it reached the output. A render
 * that must look again before it may write (the output found empty, the first half of an
 * in-place write; or replaced while we rendered) hands it on to the render it schedules, so that
 * the reload reports what that render did, not "not rendered" for a wait of a few hundred
 * milliseconds. Handed on a bounded number of times: a writer racing us in a loop ends it.
 */
const MAX_HAND_ONS = 5;

export class ReloadRender {
  /** Whether a render carrying it wrote the output (or found it already as wanted). */
  reached = false;
  /** Resolves once a render has finished with it (or the daemon stops). */
  readonly ended: Promise<void>;
  private end: () => void = () => undefined;
  private handOns = 0;

  constructor() {
    this.ended = new Promise<void>((resolve) => (this.end = resolve));
  }

  /** Whether it may go on to the next render; false: it ends with the render that has it. */
  handOn(): boolean {
    if (this.handOns >= MAX_HAND_ONS) return false;
    this.handOns++;
    return true;
  }

  finish(): void {
    this.end();
  }
}

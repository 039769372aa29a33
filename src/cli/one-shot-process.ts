/**
 * What a one-shot `check`, `render` or `pull` process sets for itself: never the daemon, which
 * lives long and keeps its heap between renders (issue #15: render's and pull's peak RSS).
 */
import { setFlagsFromString } from 'node:v8';

/**
 * A render of many fragments allocates a little that lives (each fragment's parse, kept for
 * the merge) among much that does not (the YAML and TOML parsers' working objects). V8 doubles
 * its young generation as it sees survivors, up to 3 × 16 MiB here, and that space stays
 * mapped: kept at its first size (1 MiB), collections are more frequent but each shorter, and
 * 10 000 fragments peak ~50 MB lower (~240 → ~185 MB) for a few per cent more CPU. The growth
 * factor is read at each resize, so it takes effect when set at run time, but only on what has
 * not grown yet: set it before the command's modules load. (The semi-space's maximum cannot be
 * set at run time: it is fixed when the heap is set up.) A pull allocates little that lives
 * (its module code, a manifest): without the cap its young generation has grown to 2 × 2 MiB
 * by the time its modules are loaded, ~1.5 MB of its peak RSS.
 */
export function tuneOneShotProcess(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

/**
 * The repository's root, for the files that are not code (fixtures, examples, docs, bin/,
 * packaging/). Tests run compiled, from dist/test/ (`npm test` builds them first), and the
 * bench from dist/bench/, so a path written relative to a test's own place would point into
 * dist/; this is the one place that knows both trees.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url)); // test/helpers, or dist/test/helpers once built
export const REPO_ROOT = basename(resolve(HERE, '..', '..')) === 'dist' ? resolve(HERE, '..', '..', '..') : resolve(HERE, '..', '..');

/** A path under the repository's root; a trailing `/` is kept (`repoPath('docs/')`). */
export const repoPath = (relative: string): string => join(REPO_ROOT, relative);

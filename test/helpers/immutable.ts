import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Whether `chattr +i` works here: it needs CAP_LINUX_IMMUTABLE (root) and a file system that
 * supports it. An immutable directory is how a test makes even root's unlink or rename fail.
 */
export function immutableSupported(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'mpd-chattr-'));
  try {
    execFileSync('chattr', ['+i', probe], { stdio: 'ignore' });
    execFileSync('chattr', ['-i', probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** `path` made immutable while `f` runs, and mutable again after, whatever `f` does (or the test's directory could not be removed). */
export async function whileImmutable<T>(path: string, f: () => Promise<T>): Promise<T> {
  execFileSync('chattr', ['+i', path]);
  try {
    return await f();
  } finally {
    execFileSync('chattr', ['-i', path]);
  }
}

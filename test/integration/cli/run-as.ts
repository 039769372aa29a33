/** bin/mirror-policyd as another user, for tests that run as root. */
import { spawn } from 'node:child_process';
import { BIN, type Run } from '../../helpers/cli.js';

/** The conventional unprivileged user. */
export const NOBODY = 65534;

/**
 * Runs the CLI as `uid` (and gid). Through `env -i`: tap adds its coverage hooks to
 * children's environment, and they could not write tap's files as that user.
 */
export function runAs(uid: number, args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/env', ['-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, process.execPath, BIN, ...args], {
      uid,
      gid: uid,
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: '/',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

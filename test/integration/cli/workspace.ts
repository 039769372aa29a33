/** A scratch policy directory seeded from examples/policy.d, for the CLI tests. */
import { chmodSync, cpSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from '../../helpers/repo.js';

export const EXAMPLES = repoPath('examples/');

export function workspace(): { dir: string; policy: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-cli-'));
  const policy = join(dir, 'policy.d');
  cpSync(join(EXAMPLES, 'policy.d'), policy, { recursive: true });
  chmodSync(policy, 0o755);
  for (const f of readdirSync(policy)) chmodSync(join(policy, f), 0o644);
  return { dir, policy, out: join(dir, 'registries.conf') };
}

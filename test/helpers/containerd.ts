/**
 * Debian's containerd 1.6 for tests: started on its own root, state and socket under a temp
 * dir (the host's containerd, if any, is never touched), and `ctr` pointed at it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from './cli.js';

export const run = promisify(execFile);

/** Why containerd tests cannot run here, or undefined when they can. */
export const containerdSkip =
  process.getuid?.() !== 0
    ? 'containerd needs root'
    : !existsSync('/usr/bin/containerd') || !existsSync('/usr/bin/ctr')
      ? 'containerd and ctr are not installed (apt-get install containerd)'
      : undefined;

/** containerd on its own root, state and socket under `dir`; resolves with its socket once it answers. */
export async function startContainerd(t: { teardown(fn: () => unknown): void }, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2',
      `root = ${JSON.stringify(join(dir, 'root'))}`,
      `state = ${JSON.stringify(join(dir, 'state'))}`,
      // The CRI plugin would want CNI and more: these tests need the content store only.
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      // Collections late, always: a test that removes content without forgetContent() fails
      // every time, not only when the machine is loaded.
      '[plugins."io.containerd.gc.v1.scheduler"]',
      '  schedule_delay = "500ms"',
      '  pause_threshold = 0.001',
      '[grpc]',
      `  address = ${JSON.stringify(socket)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(`${socket}.ttrpc`)}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('containerd', ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (b: Buffer) => (log += b.toString()));
  t.teardown(() => void child.kill('SIGKILL'));
  for (let i = 0; i < 100; i++) {
    if (
      await run('ctr', ['--address', socket, 'version'], { timeout: 5000 }).then(
        () => true,
        () => false,
      )
    )
      return socket;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`containerd did not start: ${log.slice(-2000)}`);
}

/**
 * Removes `digests` from containerd's content store (a digest not there is no error) and waits
 * for its garbage collection, so that the next fetch asks a registry for them.
 * Why the wait: `content rm` only drops the namespace's record; the blob stays on disk until
 * the next collection, and until then a fetch re-links it without a request (the "shared"
 * content policy). containerd schedules collections at its own pace, later under load, so
 * without this a test's "came from mirror X" failed now and then (seen in CI; made certain
 * with a late `schedule_delay`, below). Deleting a lease with `--sync` runs one and waits for
 * it (and for that delay: kept at 500 ms, which still fails a plain `rm` every run here).
 */
export async function forgetContent(socket: string, digests: readonly string[]): Promise<void> {
  const ctr = (...args: string[]) => run('ctr', ['--address', socket, ...args], { timeout: 60_000 });
  for (const digest of digests) await ctr('content', 'rm', digest).catch(() => undefined);
  const lease = (await ctr('leases', 'create')).stdout.trim().split(/\s+/)[0] ?? '';
  await ctr('leases', 'delete', '--sync', lease);
}

/** `mirror-policyd render` of `policyDir` (no base) to `output`, writing containerd's `hostsDir` too. */
export function renderWithHostsDir(policyDir: string, output: string, hostsDir: string): ReturnType<typeof runCli> {
  return runCli([
    'render',
    '--policy-dir',
    policyDir,
    '--base',
    '/dev/null',
    '--output',
    output,
    '--allow-unsafe-fragments',
    '--containerd-hosts-dir',
    hostsDir,
    // containerd's config, never the machine's: none.
    '--containerd-config',
    join(hostsDir, '..', 'containerd-config.toml'),
  ]);
}

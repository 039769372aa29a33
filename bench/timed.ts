/**
 * What the pull and health-aware benches share: a command timed to its end under a limit
 * (skopeo hangs for ever on some dead mirrors), and a mirror whose TLS handshake completes
 * and which then never answers.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { freePort, makeSelfSignedCert } from '../test/helpers/registry.js';

/** Runs `cmd` to its end, or kills it after `limitMs` (`killed`). */
export function timed(
  cmd: string,
  args: string[],
  limitMs: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ ms: number; code: number | null; killed: boolean }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: 'ignore', env });
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t0, code, killed });
    });
  });
}

/** A TLS listener on 127.0.0.1 that completes the handshake and never answers; close() drops its connections too. */
export async function hungTlsServer(dir: string): Promise<{ host: string; close(): void }> {
  const cert = await makeSelfSignedCert(dir);
  const sockets = new Set<Socket>();
  const server = createTlsServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }, (s) => void sockets.add(s));
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

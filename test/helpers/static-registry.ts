/**
 * A "registry" that is only a directory served by Python's stock `http.server`
 * (HTTP/1.0, `Connection: close` on every answer): v2/REPO/manifests/{TAG,DIGEST} and
 * v2/REPO/blobs/DIGEST copied from an OCI layout. Operators do run mirrors like this (a
 * plain web server over a mirrored tree); skopeo pulls from one. /v2/ answers 200 (a
 * directory listing), anything missing 404.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import type { BuiltImage } from './oci-image.js';
import { freePort } from './registry.js';

export interface StaticRegistry {
  readonly host: string; // 127.0.0.1:PORT
  readonly dir: string;
  close(): Promise<void>;
}

/** Lays `img` out under `dir` as REPO (manifest by digest and by its tag); `edit` may rewrite the manifest bytes served. */
export async function layOutImage(dir: string, repo: string, img: BuiltImage, edit?: (manifest: Buffer) => Buffer): Promise<void> {
  const manifests = join(dir, 'v2', repo, 'manifests');
  const blobs = join(dir, 'v2', repo, 'blobs');
  await mkdir(manifests, { recursive: true });
  await mkdir(blobs, { recursive: true });
  const manifest = edit ? edit(img.manifest) : img.manifest;
  await writeFile(join(manifests, img.manifestDigest), manifest);
  await writeFile(join(manifests, img.tag), manifest);
  for (const d of [img.configDigest, img.layerDigest]) await copyFile(join(img.layoutDir, 'blobs', 'sha256', d.slice(7)), join(blobs, d));
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/v2/', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** `python3 -m http.server` on 127.0.0.1 serving `dir`; ready when /v2/ answers (bounded: 10 s). */
export async function startStaticRegistry(dir: string): Promise<StaticRegistry> {
  await mkdir(join(dir, 'v2'), { recursive: true });
  const port = await freePort();
  const child: ChildProcess = spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, String(port)], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  for (let i = 0; i < 100; i++) {
    if (await answers(port)) return { host: `127.0.0.1:${port}`, dir, close };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await close();
  throw new Error(`python3 http.server on 127.0.0.1:${port} did not answer /v2/`);
}

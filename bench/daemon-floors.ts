/**
 * The floors the daemon bench prints its figures beside (issue #15), measured in the same run:
 * - start: `node -e 0`, and node importing every runtime dependency and exiting;
 * - idle RSS: a bare node process, and one holding every runtime dependency, left waiting;
 * - change latency: the bare fs.watch script of floor-watcher.ts (started like the daemon,
 *   ready when it has written the output once).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dirs, RunningDaemon } from './daemon-harness.js';
import { median } from './policy-dir.js';
import { idleRssMB, runMeasured } from './process-figures.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** The package's runtime dependencies, as package.json names them. */
function dependencies(root: string): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return Object.keys(pkg.dependencies ?? {});
}

/** A node program that imports every dependency, then exits or waits; run it in `root` (bare names resolve from the cwd). */
function importAll(root: string, wait: boolean): string[] {
  const imports = dependencies(root)
    .map((d) => `await import(${JSON.stringify(d)});`)
    .join(' ');
  return [process.execPath, '--input-type=module', '-e', `${imports} ${wait ? 'setInterval(() => {}, 1 << 30);' : ''}`];
}

export interface StartFloors {
  readonly nodeMs: number;
  readonly importMs: number;
  readonly bareRssMB: number;
  readonly depsRssMB: number;
}

/** Medians of `runs` starts each; the RSS figures after 1.5 s of waiting. */
export async function startFloors(root: string, runs = 5): Promise<StartFloors> {
  const node: number[] = [];
  const imports: number[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['NODE_OPTIONS'];
  for (let i = 0; i < runs; i++) {
    node.push((await runMeasured([process.execPath, '-e', '0'], env)).ms);
    imports.push((await runMeasured(importAll(root, false), env, undefined, root)).ms);
  }
  return {
    nodeMs: median(node),
    importMs: median(imports),
    bareRssMB: await idleRssMB([process.execPath, '-e', 'setInterval(() => {}, 1 << 30)']),
    depsRssMB: await idleRssMB(importAll(root, true), undefined, root),
  };
}

/** The floor watcher on `dirs`, shaped like the harness's RunningDaemon (ready: ms to its first write). */
export function startFloorWatcher(dirs: Dirs): RunningDaemon {
  mkdirSync(dirname(dirs.output), { recursive: true });
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [join(HERE, 'floor-watcher.js'), dirs.policy, dirs.output], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  child.stderr?.on('data', (b: Buffer) => lines.push(b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const ready = new Promise<number>((res, rej) => {
    child.stdout?.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) res(performance.now() - t0);
    });
    void exited.then(({ code }) => rej(new Error(`the floor watcher exited (${code}): ${lines.join('')}`)));
  });
  ready.catch(() => {});
  if (child.pid === undefined) throw new Error('could not spawn the floor watcher');
  return { child, pid: child.pid, ready, exited, tail: () => lines.join('') };
}

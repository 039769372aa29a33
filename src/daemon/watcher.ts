/**
 * Watching the policy directory and the output file (an edge: inotify through chokidar).
 * Events are only triggers: whatever happened, the daemon re-reads the whole directory.
 * chokidar loses a watch when the watched directory itself is deleted or swapped, so we
 * watch each directory's parent (depth 1) with a filter, plus a cheap periodic rescan as
 * the safety net. No polling.
 */
import { watch, type FSWatcher } from 'chokidar';
import { basename, dirname, resolve, sep } from 'node:path';

export interface WatchTargets {
  readonly policyDir: string;
  readonly output: string;
}

export interface Watcher {
  /**
   * Resolves true once the initial scan is done and changes are reported; false if that has
   * not happened within READY_TIMEOUT_MS (the periodic rescan still catches changes).
   */
  readonly ready: Promise<boolean>;
  close(): Promise<void>;
}

export const READY_TIMEOUT_MS = 10_000;

/** True for paths the daemon cares about: the policy dir, anything in it, and the output file. */
export function interesting(path: string, targets: WatchTargets): boolean {
  const p = resolve(path);
  const dir = resolve(targets.policyDir);
  const out = resolve(targets.output);
  if (p === dir || p === out) return true;
  if (p.startsWith(dir + sep)) return !p.slice(dir.length + 1).includes(sep); // direct children only
  // The parents themselves must be watched for the directory's own create/delete/rename events.
  return p === dirname(dir) || p === dirname(out);
}

/**
 * The path a raw event is about: a directory's watcher names the child (`name` inside
 * `watchedPath`), a file's watcher the file itself (its own base name).
 */
export function rawEventPath(name: string | undefined, watchedPath: string | undefined): string | undefined {
  if (watchedPath === undefined) return undefined;
  if (!name || basename(watchedPath) === name) return resolve(watchedPath);
  return resolve(watchedPath, name);
}

/** `onEvent` gets the event's name and the absolute path it is about. */
export function watchTargets(targets: WatchTargets, onEvent: (what: string, path: string) => void, onError: (e: Error) => void): Watcher {
  const roots = [...new Set([dirname(resolve(targets.policyDir)), dirname(resolve(targets.output))])];
  const w: FSWatcher = watch(roots, {
    ignoreInitial: true,
    usePolling: false,
    depth: 1,
    followSymlinks: false,
    ignored: (path: string) => !interesting(path, targets),
  });
  w.on('all', (what, path) => onEvent(what, resolve(path)));
  // chokidar drops a 'change' whose mtime did not move: a chmod or chown, which can fix or break
  // a fragment's trust. inotify reports it (IN_ATTRIB, a raw 'change'). And it can miss a
  // directory renamed away and another renamed into its place at once (it finds the path there
  // and reports nothing): inotify reports both moves (a raw 'rename'). A render of unchanged
  // inputs writes nothing, so a raw event too many costs one read of the directory.
  w.on('raw', (what, name, details) => {
    const path = rawEventPath(name, (details as { watchedPath?: string } | undefined)?.watchedPath);
    if ((what === 'change' || what === 'rename') && path !== undefined && interesting(path, targets)) onEvent(what === 'change' ? 'attributes' : 'moved', path);
  });
  w.on('error', (e) => onError(e instanceof Error ? e : new Error(String(e))));
  // Until chokidar's initial scan is done, changes are not reported: whoever starts watching
  // must wait for this before the render that READY=1 stands for.
  const ready = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
    timer.unref();
    w.once('ready', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  return { ready, close: () => w.close() };
}

/**
 * Watching the policy directory and the output file (an edge: inotify through fs.watch).
 * Events name what changed: the daemon's render reads only the entries named since its last
 * read, and the whole directory after an event that names none (and on its rescan).
 *
 * Each directory is watched twice: its entries (a change, a chmod or chown: IN_ATTRIB, a
 * create, delete or rename), and its own name through a watch of its parent, so that a
 * directory deleted, recreated or swapped for another (`mv new policy.d`) is watched again
 * at its new inode. A periodic rescan is the safety net behind both. No polling.
 *
 * Not chokidar (issue #15): chokidar listed and stat-ed the whole directory again on every
 * event in it, 10 000 lstat calls per change of one fragment at 10 000 fragments, which the
 * daemon's own read of the directory does anyway.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { classifyName, NOT_A_FRAGMENT } from '../fragments/index.js';

export interface WatchTargets {
  readonly policyDir: string;
  readonly output: string;
  /**
   * Names in the policy directory that matter although mattersInPolicyDir ignores them: those
   * its fragments' links pass through (a Kubernetes volume's `..data`, PolicyDirContents.viaLinks).
   * Asked at each event: the daemon's last read knows them.
   */
  readonly alsoMatters?: (name: string) => boolean;
}

export interface Watcher {
  /** Resolves true once changes are reported (at once: fs.watch has no initial scan). */
  readonly ready: Promise<boolean>;
  close(): Promise<void>;
}

type OnEvent = (what: string, path: string) => void;
type OnError = (e: Error) => void;

/** Errors that only say the directory is not there (now): its parent's watch re-arms it when it is. */
const GONE = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM']);

/** A directory's entries (those `accept` names) and its own name in its parent; the entries' watch follows the name. */
class DirWatch {
  private entries?: FSWatcher;
  private readonly parent?: FSWatcher;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly accept: (name: string) => boolean,
    private readonly onEvent: OnEvent,
    private readonly onError: OnError,
  ) {
    const name = basename(dir);
    this.parent = this.open(dirname(dir), (what, child) => {
      if (child !== null && child !== name) return;
      this.arm(); // first: a change made in the new directory right after it appeared is seen
      this.onEvent(what === 'change' ? 'attributes' : 'moved', dir);
    });
    this.arm();
  }

  /** (Re)watches the entries of whatever directory is at `dir` now, if any. */
  private arm(): void {
    this.entries?.close();
    this.entries = undefined;
    if (this.closed) return;
    this.entries = this.open(this.dir, (what, child) => {
      if (child === null) return this.onEvent(what, this.dir);
      if (this.accept(child)) this.onEvent(what === 'change' ? 'change' : 'rename', join(this.dir, child));
    });
  }

  private open(path: string, listener: (what: string, child: string | null) => void): FSWatcher | undefined {
    try {
      const w = watch(path, { persistent: false }, listener);
      // The directory removed or unmounted: its parent's watch (or the rescan) takes over.
      w.on('error', (e: NodeJS.ErrnoException) => {
        w.close();
        if (!GONE.has(e.code ?? '')) this.onError(e);
      });
      return w;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (!GONE.has(err.code ?? '')) this.onError(err);
      return undefined;
    }
  }

  close(): void {
    this.closed = true;
    this.entries?.close();
    this.parent?.close();
  }
}

/**
 * Whether a name in the policy directory can matter to a render: not a leftover the read
 * ignores by its name alone (a tool's temp file: a render for it would only delay the one for
 * the rename that follows). Those a fragment's link passes through matter too
 * (WatchTargets.alsoMatters).
 */
export function mattersInPolicyDir(name: string): boolean {
  const cls = classifyName(name);
  return !('ignored' in cls) || cls.ignored === NOT_A_FRAGMENT;
}

/** `onEvent` gets the event's name and the absolute path it is about. */
export function watchTargets(targets: WatchTargets, onEvent: OnEvent, onError: OnError): Watcher {
  const output = resolve(targets.output);
  const watches = [
    new DirWatch(resolve(targets.policyDir), (name) => mattersInPolicyDir(name) || (targets.alsoMatters?.(name) ?? false), onEvent, onError),
    // The output's directory: only the output in it (our own temp files come and go there).
    new DirWatch(dirname(output), (name) => name === basename(output), onEvent, onError),
  ];
  return {
    ready: Promise.resolve(true),
    close: () => {
      for (const w of watches) w.close();
      return Promise.resolve();
    },
  };
}

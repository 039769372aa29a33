/**
 * The daemon's state directory (default /var/lib/mirror-policyd): what must survive a
 * restart. Every file is written atomically, so a crash at any moment leaves either the
 * old or the new version of each.
 *
 *   format-version        "1": the layout below; a newer one is refused, not misread
 *   daemon.json           pid, output and control socket of the running daemon (the lock)
 *   last-good/NAME        each fragment's last valid content
 *   original.conf         the host's registries.conf as we first found it (for `restore`)
 *   base.conf             the base we render on (the adopted file, or its replacement)
 *   bases/TIME.conf       earlier bases, kept when a new one replaced them
 *   drift/TIME.conf       hand-edited copies of the output we replaced (the last 20)
 *   containerd-hosts-dir  the containerd hosts directory whose hosts.toml files are ours (a
 *                         later setting naming another, or none, has ours there removed)
 *   after-render-due      present from before a write of the output that changes it until its
 *                         after-render commands have run: a crash in between leaves them owed
 *
 * What is here becomes policy (a last-good copy is rendered into registries.conf), so the
 * directory must be ours and private (refused at start otherwise), and a file in it that
 * is not a private regular file of ours is not believed (src/output/private-file.ts).
 */
import { mapBounded } from '../core/map-bounded.js';
import { constants, promises as fs, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fsyncDir, type WriteOptions } from '../output/atomic-write.js';
import { holderRunning, ownUid, type Holder, type ProcessIdentity } from '../output/pid.js';
import { trustProblem } from '../fragments/policy-dir.js';
import { trustFix, untrustedAncestor } from '../core/trust.js';
import { readPrivateFile, replacePrivateFile, UntrustedFileError } from '../output/private-file.js';
import { keepStampedCopy, type CopyNaming } from '../output/stamped-copies.js';

export const STATE_FORMAT_VERSION = 1;
export const DRIFT_KEEP = 20;
/** How many replaced bases bases/ keeps (the original is kept apart, for ever). */
export const BASES_KEEP = 20;
const AFTER_RENDER_DUE = 'after-render-due';
const HOSTS_DIR_RECORD = 'containerd-hosts-dir';
/**
 * Last-good copies written at once: their fsyncs overlap, and the bound leaves two of libuv's
 * four threads to the renders that the saves, now in the background, run beside (a first start
 * saves a copy of each of 10 000 fragments while the changes after READY=1 are rendered).
 */
const LAST_GOOD_WRITES_AT_ONCE = 2;
/** Last-good copies read at once at a start. */
const LAST_GOOD_READS_AT_ONCE = 24;

export class StateDirError extends Error {}

/** The record of the running daemon: its identity (pid, boot, start time) and where it works. */
export interface DaemonRecord extends ProcessIdentity {
  readonly output: string;
  readonly controlSocket: string;
  readonly startedAt: string;
  /** containerd's hosts directory it writes, absolute; absent when it writes none. */
  readonly containerdHostsDir?: string;
}

/** Where a daemon with these settings writes, as its record says it (absolute paths). */
export function recordedPlaces(settings: {
  readonly output: string;
  readonly containerdHostsDir?: string | undefined;
}): Pick<DaemonRecord, 'output' | 'containerdHostsDir'> {
  return {
    output: resolve(settings.output),
    ...(settings.containerdHostsDir !== undefined ? { containerdHostsDir: resolve(settings.containerdHostsDir) } : {}),
  };
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is not a directory',
  EIO: 'input/output error',
};

/** A file-system error in plain words ("no space left on device"), without Node's "ENOSPC: ..., write". */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (code !== undefined ? ERRNO_TEXT[code] : undefined) ?? (e as Error).message;
}

/**
 * For a write that failed on a read-only file system: under the packaged unit (ProtectSystem=strict)
 * that is a directory left out of ReadWritePaths=, which a drop-in adds. Empty for any other error.
 */
export function readOnlyHint(e: unknown): string {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'EROFS'
    ? ' (under the packaged unit only the directories in ReadWritePaths= are writable: add this one with systemctl edit mirror-policyd)'
    : '';
}

/** An error as one line: the path Node names (if any) and the reason in plain words. */
export function fsErrorLine(e: unknown): string {
  const path = (e as NodeJS.ErrnoException).path;
  return `${path !== undefined ? `${path}: ` : ''}${describeFsError(e)}`;
}

/** An fs error of an operation on `path`, as one line naming the path (UntrustedFileError already does). */
function failure(action: string, path: string, e: unknown): Error {
  if (e instanceof UntrustedFileError || e instanceof StateDirError) return e;
  return Object.assign(new StateDirError(`cannot ${action} ${path}: ${describeFsError(e)}`), { code: (e as NodeJS.ErrnoException).code });
}

/** The command to make `path` the running user's and private, for messages. */
function fixCommand(path: string, mode: string): string {
  const uid = ownUid();
  return `chown ${uid === 0 ? 'root' : uid}: ${path}; chmod ${mode} ${path}`;
}

/** Why `st` of a state (sub)directory is unsafe, with the fix; undefined when it is safe. */
function unsafeDirReason(path: string, st: Stats): string | undefined {
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  if (!st.isDirectory()) return `${path} is not a directory (it must be one, ours and private); fix: remove it`;
  const problem = trustProblem(st, ownUid());
  if (problem === undefined) return undefined;
  return `refusing state directory ${path} (owner uid ${st.uid}, mode ${mode}): ${problem}; another user could put there what the daemon renders; fix: ${fixCommand(path, '0700')}`;
}

/**
 * Why a directory above `path` (up to /, links followed) lets another user put another state
 * directory in its place, with the fix; undefined when none does. A sticky one of ours (/tmp)
 * is fine: others cannot rename our entry in it. Bounded by the path's depth.
 */
async function unsafeAncestorReason(stateDir: string, path: string): Promise<string | undefined> {
  const found = await untrustedAncestor(dirname(path), ownUid(), (p) => fs.stat(p));
  if (found === undefined) return undefined;
  const { at, problem, st } = found;
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  return `refusing state directory ${stateDir}: ${at} above it (owner uid ${st.uid}, mode ${mode}) is ${problem}; another user could put another directory in its place; fix: ${trustFix(at, st, ownUid())}`;
}

/** What the command line of a mirror-policyd of `stateDir` looks like: its name, and this state dir if it names one. */
export function looksLikeDaemonOf(stateDir: string): (argv: readonly string[]) => boolean {
  return (argv) => {
    if (!argv.some((a) => a.includes('mirror-policyd'))) return false;
    const at = argv.findIndex((a) => a === '--state-dir' || a.startsWith('--state-dir='));
    if (at < 0) return true; // the default, or one from its config file
    const named = argv[at]?.startsWith('--state-dir=') ? argv[at].slice('--state-dir='.length) : argv[at + 1];
    // A relative one is relative to its working directory, not ours: not proof of another dir.
    return named === undefined || !isAbsolute(named) || resolve(named) === resolve(stateDir);
  };
}

/** Whether the daemon of `record` (read from `stateDir`) still runs: its very process, not just its pid. */
export function recordHolder(record: DaemonRecord, stateDir: string): Holder {
  return holderRunning(record, looksLikeDaemonOf(stateDir));
}

export interface StateDirOptions {
  /** Told about state files that are skipped (not believed, or in the way). */
  readonly warn?: (message: string) => void;
}

export class StateDir {
  constructor(
    readonly dir: string,
    private readonly opts: StateDirOptions = {},
  ) {}

  private warn(message: string): void {
    this.opts.warn?.(message);
  }

  /** A state file's text (undefined: none); a file not to be believed is a StateDirError. */
  private async readFile(path: string): Promise<string | undefined> {
    try {
      return await readPrivateFile(path);
    } catch (e) {
      throw failure('read', path, e);
    }
  }

  private async writeFile(path: string, text: string | Buffer, opts: Pick<WriteOptions, 'syncDir'> = {}): Promise<void> {
    try {
      await replacePrivateFile(path, text, opts);
    } catch (e) {
      throw failure('write', path, e);
    }
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /**
   * Creates the layout, proves it writable, and refuses a layout from a newer version, and a
   * directory that another user could write (or own): everything in it becomes policy.
   */
  async init(): Promise<void> {
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw failure('create', this.dir, e);
    }
    const top = unsafeDirReason(this.dir, await fs.stat(this.dir)); // a symlinked state dir is the admin's choice: its target is checked
    if (top !== undefined) throw new StateDirError(top);
    // Above the path as named (where a link to it may sit) and above the directory it is.
    const [named, real] = [resolve(this.dir), await fs.realpath(this.dir)];
    const above = (await unsafeAncestorReason(this.dir, named)) ?? (real === named ? undefined : await unsafeAncestorReason(this.dir, real));
    if (above !== undefined) throw new StateDirError(above);
    for (const sub of ['last-good', 'bases', 'drift']) {
      const path = this.path(sub);
      try {
        await fs.mkdir(path, { mode: 0o700 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw failure('create', path, e);
      }
      const unsafe = unsafeDirReason(path, await fs.lstat(path));
      if (unsafe !== undefined) throw new StateDirError(unsafe);
    }
    const path = this.path('format-version');
    const version = await this.readFile(path);
    // Empty or zeros: what a crash of the file system leaves of a file; no version ever wrote that, so it is ours, torn.
    const torn = version !== undefined && version.replace(/[\s\0]/g, '') === '';
    if (torn) this.warn(`${path} is empty or unreadable (torn by a crash?): rewritten as ${STATE_FORMAT_VERSION}`);
    else if (version !== undefined && Number(version.trim()) !== STATE_FORMAT_VERSION) {
      throw new StateDirError(
        `state directory ${this.dir} has format version ${JSON.stringify(version.trim()).slice(1, -1)}, this mirror-policyd knows ${STATE_FORMAT_VERSION}`,
      );
    }
    if (version === undefined || version.trim() !== String(STATE_FORMAT_VERSION)) await this.writeFile(path, `${STATE_FORMAT_VERSION}\n`);
    try {
      await fs.access(this.dir, constants.W_OK);
    } catch (e) {
      throw failure('write to', this.dir, e);
    }
  }

  /** The running daemon's record; one that is torn, edited or not ours reads as absent. */
  async readRecord(): Promise<DaemonRecord | undefined> {
    let text: string | undefined;
    try {
      text = await readPrivateFile(this.path('daemon.json'));
    } catch (e) {
      if (!(e instanceof UntrustedFileError)) throw e;
      this.warn(e.message);
      return undefined;
    }
    if (text === undefined) return undefined;
    try {
      const r = JSON.parse(text) as DaemonRecord;
      return typeof r === 'object' && r !== null ? r : undefined;
    } catch {
      return undefined; // torn by an older version, or edited: as good as absent
    }
  }

  writeRecord(r: DaemonRecord): Promise<void> {
    return this.writeFile(this.path('daemon.json'), `${JSON.stringify(r, null, 2)}\n`);
  }

  /**
   * The record of daemon `pid` told where it writes now (a reload may change its output or its
   * containerd hosts directory): `render` asks it before writing over either.
   */
  async updateRecordPlaces(pid: number, places: Pick<DaemonRecord, 'output' | 'containerdHostsDir'>): Promise<void> {
    const r = await this.readRecord();
    if (r?.pid !== pid) return;
    const { containerdHostsDir: _was, ...rest } = r;
    await this.writeRecord({ ...rest, ...places });
  }

  async clearRecord(pid: number): Promise<void> {
    const r = await this.readRecord();
    if (r?.pid === pid) await fs.rm(this.path('daemon.json'), { force: true });
  }

  /**
   * Each fragment's last valid content. An entry that is not a private regular file of ours
   * (a directory, a FIFO, a symlink, another user's file) is skipped and named in a warning:
   * it is not ours, and its fragment simply has no last good content.
   */
  async readLastGood(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const names = (await fs.readdir(this.path('last-good'))).filter((name) => !name.startsWith('.')); // dotfiles: temp files of an interrupted write
    // Several at a time: a start on the copies of 10 000 fragments read them one by one for seconds.
    const texts = await mapBounded(names, LAST_GOOD_READS_AT_ONCE, async (name) => {
      try {
        return await readPrivateFile(this.path('last-good', name));
      } catch (e) {
        this.warn(`last-good copy ${e instanceof UntrustedFileError ? e.message : `${this.path('last-good', name)}: not used: ${describeFsError(e)}`}`);
        return undefined;
      }
    });
    names.forEach((name, i) => {
      const text = texts[i];
      if (text !== undefined) out[name] = text;
    });
    return out;
  }

  /**
   * Writes only what changed; removes entries of fragments that are gone. An entry in the
   * way that is not a file (a directory) is left alone and named in a warning. Once `stopped`
   * says so, no further copy is begun (a stop does not wait for 10 000 of them); `pace` is
   * awaited before each copy is begun (the daemon's lets a render run first).
   */
  async writeLastGood(
    previous: Readonly<Record<string, string>>,
    next: Readonly<Record<string, string>>,
    stopped: () => boolean = () => false,
    pace: () => Promise<void> = () => Promise.resolve(),
  ): Promise<void> {
    const changed: Array<[string, string]> = [];
    for (const name in next) if (previous[name] !== next[name]) changed.push([name, next[name] as string]); // no pair per unchanged entry
    let touched = changed.length > 0;
    // Each copy is a file of its own, written atomically: several at a time, so that their fsyncs
    // overlap (a first start writes one per fragment: 10 000 in a row took most of 12 s).
    const failures = await mapBounded(changed, LAST_GOOD_WRITES_AT_ONCE, async ([name, text]) => {
      await pace();
      if (stopped()) return undefined; // stopping: what is not saved yet is as after a kill, each copy whole
      try {
        await this.writeFile(this.path('last-good', name), text, { syncDir: false }); // the directory is fsynced once, below
        return undefined;
      } catch (e) {
        if (!(e instanceof UntrustedFileError)) return e instanceof Error ? e : new Error(String(e));
        this.warn(`last-good copy ${e.message}`);
        return undefined;
      }
    });
    const failure = failures.find((e): e is Error => e !== undefined);
    if (failure) throw failure;
    for (const name of Object.keys(previous)) {
      if (name in next) continue;
      const path = this.path('last-good', name);
      const st = await fs.lstat(path).catch(() => undefined);
      if (st?.isDirectory()) this.warn(`last-good copy ${path}: not removed: it is a directory; remove it`);
      else await fs.rm(path, { force: true });
      touched = true;
    }
    if (touched) await fsyncDir(this.path('last-good'));
  }

  /** The after-render commands are owed from the write about to be made (written first, fsynced with the directory). */
  markAfterRenderDue(): Promise<void> {
    return this.writeFile(this.path(AFTER_RENDER_DUE), `${new Date().toISOString()}\n`);
  }

  /** Whether an earlier process wrote the output but did not run its after-render commands. */
  async afterRenderDue(): Promise<boolean> {
    return (await this.readFile(this.path(AFTER_RENDER_DUE))) !== undefined;
  }

  async clearAfterRenderDue(): Promise<void> {
    await fs.rm(this.path(AFTER_RENDER_DUE), { force: true });
  }

  /** The containerd hosts directory last managed; undefined: none (or a daemon from before this record). */
  async readHostsDirRecord(): Promise<string | undefined> {
    const text = await this.readFile(this.path(HOSTS_DIR_RECORD));
    return text?.trim() || undefined;
  }

  async writeHostsDirRecord(dir: string | undefined): Promise<void> {
    if (dir === undefined) await fs.rm(this.path(HOSTS_DIR_RECORD), { force: true });
    else await this.writeFile(this.path(HOSTS_DIR_RECORD), `${dir}\n`);
  }

  readOriginal(): Promise<string | undefined> {
    return this.readFile(this.path('original.conf'));
  }

  readBase(): Promise<string | undefined> {
    return this.readFile(this.path('base.conf'));
  }

  /**
   * Adoption: the host's file becomes the base; the very first one is also kept as the original,
   * the base it replaces in bases/ (the newest BASES_KEEP: a tool that rewrites the host's file
   * with a time in it at every run would otherwise add one for ever).
   */
  async adopt(text: string): Promise<void> {
    if ((await this.readOriginal()) === undefined) await this.writeFile(this.path('original.conf'), text);
    const old = await this.readBase();
    if (old !== undefined && old !== text) await keepStampedCopy(this.copies('bases'), BASES_KEEP, (path) => this.writeFile(path, old));
    await this.writeFile(this.path('base.conf'), text);
  }

  /** Keeps a hand-edited copy of the output (its bytes as they are); only the newest DRIFT_KEEP are kept. */
  keepDrift(text: string | Buffer): Promise<string> {
    return keepStampedCopy(this.copies('drift'), DRIFT_KEEP, (path) => this.writeFile(path, text));
  }

  /** Where bases/ and drift/ keep their time-stamped copies: `TIME.conf`. */
  private copies(sub: 'bases' | 'drift'): CopyNaming {
    return { dir: this.path(sub), prefix: '', suffix: '.conf' };
  }
}

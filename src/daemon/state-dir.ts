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
 */
import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, fsyncDir } from '../atomic-write.js';

export const STATE_FORMAT_VERSION = 1;
export const DRIFT_KEEP = 20;

export class StateDirError extends Error {}

export interface DaemonRecord {
  readonly pid: number;
  readonly output: string;
  readonly controlSocket: string;
  readonly startedAt: string;
}

/** A time stamp usable in file names, sortable. */
export function fileStamp(d: Date = new Date()): string {
  return d.toISOString().replace(/[:.]/g, '-');
}

let lastStampMs = 0;

/**
 * `dir/STAMP.conf` for now, or a later millisecond when that one was already used (several
 * copies within one millisecond, easy on tmpfs): a copy never overwrites an earlier one,
 * and the names still sort oldest first.
 */
async function stampedPath(dir: string): Promise<string> {
  const start = Math.max(new Date().getTime(), lastStampMs + 1);
  for (let ms = start; ms < start + 60_000; ms++) {
    const path = join(dir, `${fileStamp(new Date(ms))}.conf`);
    try {
      await fs.lstat(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      lastStampMs = ms;
      return path;
    }
  }
  throw new Error(`${dir}: no free time-stamped name`);
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export class StateDir {
  constructor(readonly dir: string) {}

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /** Creates the layout, proves it writable, and refuses a layout from a newer version. */
  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const sub of ['last-good', 'bases', 'drift']) await fs.mkdir(this.path(sub), { recursive: true, mode: 0o700 });
    const version = await readText(this.path('format-version'));
    if (version !== undefined && Number(version.trim()) !== STATE_FORMAT_VERSION) {
      throw new StateDirError(`state directory ${this.dir} has format version ${version.trim()}, this mirror-policyd knows ${STATE_FORMAT_VERSION}`);
    }
    await writeFileAtomic(this.path('format-version'), `${STATE_FORMAT_VERSION}\n`, { mode: 0o600 });
    await fs.access(this.dir, constants.W_OK);
  }

  async readRecord(): Promise<DaemonRecord | undefined> {
    const text = await readText(this.path('daemon.json'));
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as DaemonRecord;
    } catch {
      return undefined; // torn by an older version, or edited: as good as absent
    }
  }

  writeRecord(r: DaemonRecord): Promise<unknown> {
    return writeFileAtomic(this.path('daemon.json'), `${JSON.stringify(r, null, 2)}\n`, { mode: 0o600 });
  }

  async clearRecord(pid: number): Promise<void> {
    const r = await this.readRecord();
    if (r?.pid === pid) await fs.rm(this.path('daemon.json'), { force: true });
  }

  async readLastGood(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const name of await fs.readdir(this.path('last-good'))) {
      if (name.startsWith('.')) continue; // temp files of an interrupted write
      const text = await readText(this.path('last-good', name));
      if (text !== undefined) out[name] = text;
    }
    return out;
  }

  /** Writes only what changed; removes entries of fragments that are gone. */
  async writeLastGood(previous: Readonly<Record<string, string>>, next: Readonly<Record<string, string>>): Promise<void> {
    let touched = false;
    for (const [name, text] of Object.entries(next)) {
      if (previous[name] === text) continue;
      await writeFileAtomic(this.path('last-good', name), text, { mode: 0o600 });
      touched = true;
    }
    for (const name of Object.keys(previous)) {
      if (name in next) continue;
      await fs.rm(this.path('last-good', name), { force: true });
      touched = true;
    }
    if (touched) await fsyncDir(this.path('last-good'));
  }

  readOriginal(): Promise<string | undefined> {
    return readText(this.path('original.conf'));
  }

  readBase(): Promise<string | undefined> {
    return readText(this.path('base.conf'));
  }

  /** Adoption: the host's file becomes the base; the very first one is also kept as the original. */
  async adopt(text: string): Promise<void> {
    if ((await this.readOriginal()) === undefined) await writeFileAtomic(this.path('original.conf'), text, { mode: 0o600 });
    const old = await this.readBase();
    if (old !== undefined && old !== text) await writeFileAtomic(await stampedPath(this.path('bases')), old, { mode: 0o600 });
    await writeFileAtomic(this.path('base.conf'), text, { mode: 0o600 });
  }

  /** Keeps a hand-edited copy of the output; only the newest DRIFT_KEEP are kept. */
  async keepDrift(text: string): Promise<string> {
    const path = await stampedPath(this.path('drift'));
    await writeFileAtomic(path, text, { mode: 0o600 });
    const all = (await fs.readdir(this.path('drift'))).filter((n) => n.endsWith('.conf')).sort();
    for (const old of all.slice(0, Math.max(0, all.length - DRIFT_KEEP))) await fs.rm(this.path('drift', old), { force: true });
    return path;
  }
}

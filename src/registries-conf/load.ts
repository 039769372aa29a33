/**
 * Loading the registries.conf set a containers/image ≤5.39 client reads (an edge: file system
 * only here; parsing and merging are pure, in registries-conf-parse.ts and registries-merge.ts).
 *
 * Which files (containers/image 5.23 newConfigWrapper, as skopeo 1.9.3 does it):
 * - an explicit main file (`--registries-conf FILE`): that file, which must exist, plus the drop-in
 *   dirs /etc/containers/registries.conf.d then $HOME/.config/containers/registries.conf.d;
 * - otherwise $HOME/.config/containers/registries.conf if it exists, with ONLY the user drop-in dir;
 * - otherwise /etc/containers/registries.conf (missing counts as empty) with both dirs.
 * In each dir, entries named `*.conf` that are not directories, in byte order of their names, no
 * recursion; a file that vanished after the listing is skipped. Drop-ins must be v2. Each file is
 * validated on its own; the first error stops the load, with containers/image's wording.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostic, type Diagnostic } from '../core/diagnostic.js';
import { homeDirectory } from '../core/home-dir.js';
import type { RegistriesConf } from './model.js';
import { parseRegistriesConf, refusedFile, utf8Text } from './parse.js';
import { mergeRegistriesConfs } from './layer.js';
import { byteOrderCompare } from '../core/byte-order.js';

export const SYSTEM_REGISTRIES_CONF = '/etc/containers/registries.conf';
export const SYSTEM_REGISTRIES_CONF_DIR = '/etc/containers/registries.conf.d';
const USER_REGISTRIES_CONF = join('.config', 'containers', 'registries.conf');
const USER_REGISTRIES_CONF_DIR = join('.config', 'containers', 'registries.conf.d');

export interface LoadRegistriesOptions {
  /** The main file, explicitly (must exist). Default: the user's file if it exists, else the system file. */
  readonly path?: string;
  /** Replaces the drop-in directories containers/image would read (in this order). `[]` reads none. */
  readonly dropInDirs?: readonly string[];
  /** Home directory for the per-user file and dir. Default: $HOME, else the account's home. */
  readonly home?: string;
  /** The system main file (default /etc/containers/registries.conf). */
  readonly systemPath?: string;
  /** The system drop-in dir (default /etc/containers/registries.conf.d). */
  readonly systemDropInDir?: string;
}

export interface LoadedRegistries {
  readonly conf: RegistriesConf;
  /** Every file that was read, main file first (absent when it was a missing default). */
  readonly files: readonly string[];
  /** Warnings of the files (unknown keys, duplicate prefixes, v1 main file): containers/image only logs them at debug level. */
  readonly warnings: readonly Diagnostic[];
}

/** A registries.conf set containers/image would refuse to load: no pull would happen. */
export class RegistriesLoadError extends Error {
  override name = 'RegistriesLoadError';
  constructor(
    message: string,
    /** The file at fault. */
    readonly file: string,
    /** The located problems of that file (the message names the first). */
    readonly diagnostics: readonly Diagnostic[] = [],
  ) {
    super(message);
  }
}

/** The files containers/image would read, before looking at their contents. */
export interface RegistriesPaths {
  readonly main: string;
  /** The main file is the default one: a missing file then counts as empty. */
  readonly mainIsDefault: boolean;
  readonly dropInDirs: readonly string[];
}

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.stat(path);
    return true;
  } catch {
    return false; // containers/image: os.Stat(...) == nil
  }
}

export async function registriesPaths(opts: LoadRegistriesOptions = {}): Promise<RegistriesPaths> {
  const home = opts.home ?? homeDirectory();
  const userFile = join(home, USER_REGISTRIES_CONF);
  const userDir = join(home, USER_REGISTRIES_CONF_DIR);
  const systemDir = opts.systemDropInDir ?? SYSTEM_REGISTRIES_CONF_DIR;
  let paths: RegistriesPaths;
  if (opts.path !== undefined) paths = { main: opts.path, mainIsDefault: false, dropInDirs: [systemDir, userDir] };
  else if (await exists(userFile)) paths = { main: userFile, mainIsDefault: true, dropInDirs: [userDir] };
  else paths = { main: opts.systemPath ?? SYSTEM_REGISTRIES_CONF, mainIsDefault: true, dropInDirs: [systemDir, userDir] };
  return opts.dropInDirs !== undefined ? { ...paths, dropInDirs: [...opts.dropInDirs] } : paths;
}

/**
 * `*.conf` non-directory entries of `dir`, in byte order; none when the dir is missing. As Go's
 * filepath.WalkDir, which containers/image walks it with: the root is Lstat'ed, so a root that is
 * not a directory itself (a file, or a symbolic link, even to a directory) is one entry, read
 * only if its own name ends in ".conf".
 */
export async function listDropIns(dir: string): Promise<string[]> {
  let entries;
  try {
    if (!(await fs.lstat(dir)).isDirectory()) return dir.endsWith('.conf') ? [dir] : [];
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw new RegistriesLoadError(`reading registries.conf.d: ${(e as Error).message}`, dir);
  }
  return entries
    .filter((d) => !d.isDirectory() && d.name.endsWith('.conf'))
    .map((d) => d.name)
    .sort(byteOrderCompare)
    .map((name) => join(dir, name));
}

/**
 * A file's text, refused when it is not UTF-8 (BurntSushi/toml: "invalid UTF-8 byte"): read as
 * UTF-8 text, a Latin-1 byte would become U+FFFD and the file would pass.
 */
async function readUtf8(file: string): Promise<string> {
  return utf8Text(await fs.readFile(file), file);
}

function parseFile(text: string, file: string, dropIn: boolean, warnings: Diagnostic[]): RegistriesConf {
  const what = dropIn ? 'loading drop-in registries configuration' : 'loading registries configuration';
  const parsed = parseRegistriesConf(text, file);
  const refused = refusedFile(parsed, file, dropIn);
  if (refused !== undefined || !parsed.conf) {
    const first = refused?.errors[0];
    const detail = first ? formatDiagnostic(first) : (refused?.reason ?? 'cannot be parsed');
    throw new RegistriesLoadError(`${what} "${file}": ${detail}`, file, refused?.errors ?? []);
  }
  warnings.push(...parsed.diagnostics.filter((d) => d.severity === 'warning'));
  return parsed.conf;
}

/**
 * Reads, validates and merges the registries.conf set as containers/image does (see the
 * module comment). Throws RegistriesLoadError when containers/image would refuse it.
 */
export async function loadRegistriesConf(opts: LoadRegistriesOptions = {}): Promise<LoadedRegistries> {
  const paths = await registriesPaths(opts);
  const files: string[] = [];
  const warnings: Diagnostic[] = [];
  let main: RegistriesConf = { registries: [] };
  let text: string | undefined;
  try {
    text = await readUtf8(paths.main);
  } catch (e) {
    if (!(errnoCode(e) === 'ENOENT' && paths.mainIsDefault)) {
      const reason = errnoCode(e) === 'ENOENT' ? `open ${paths.main}: no such file or directory` : (e as Error).message;
      throw new RegistriesLoadError(`loading registries configuration "${paths.main}": ${reason}`, paths.main);
    }
  }
  if (text !== undefined) {
    files.push(paths.main);
    main = parseFile(text, paths.main, false, warnings);
  }
  const dropIns: RegistriesConf[] = [];
  for (const dir of paths.dropInDirs) {
    for (const file of await listDropIns(dir)) {
      let dropInText: string;
      try {
        dropInText = await readUtf8(file);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue; // removed between the listing and the read
        throw new RegistriesLoadError(`loading drop-in registries configuration "${file}": ${(e as Error).message}`, file);
      }
      files.push(file);
      dropIns.push(parseFile(dropInText, file, true, warnings));
    }
  }
  return { conf: mergeRegistriesConfs(main, dropIns), files, warnings };
}

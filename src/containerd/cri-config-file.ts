/**
 * Reading containerd's config.toml (an edge) to tell an operator when its CRI plugin would not
 * read the hosts directory we write (cri-config.ts says where the setting lives). containerd
 * loads a file's `imports` after it (an absolute path may be a pattern, a relative one is a
 * file beside the importing one), and theirs after them, each merged over what came before.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_CONTAINERD_CONFIG } from '../core/defaults.js';
import { warning, type Diagnostic, type Location } from '../core/diagnostic.js';
import { readRegularFile } from '../output/atomic-write.js';
import { configPathDirs, criRegistrySettings, criRegistryTable } from './cri-config.js';
import { containerdHostDirNames } from './hosts-toml.js';

/** Files read at most (containerd has no bound; a file met again is skipped, as containerd skips it). */
const MAX_FILES = 64;

/**
 * The files an import names, as containerd 1.6 resolves them: an absolute path is a pattern
 * (its matches, sorted), a relative one a file beside the importing one (no pattern).
 */
async function importedFiles(from: string, pattern: string): Promise<string[]> {
  if (!isAbsolute(pattern)) return [join(dirname(from), pattern)];
  const path = pattern;
  const name = basename(path);
  if (!/[*?[]/.test(name)) return [path];
  // Node 20 has no fs.glob (22+): the one pattern form containerd's configs use, in the last part.
  const re = new RegExp(
    `^${name
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]')}$`,
  );
  const entries = await fs.readdir(dirname(path)).catch(() => [] as string[]);
  return entries
    .filter((e) => re.test(e))
    .sort()
    .map((e) => join(dirname(path), e));
}

interface Effective {
  version: number;
  configPath: string | undefined;
  legacyMirrors: boolean;
  criDisabled: boolean;
  /** where the config_path taken is set: the last file setting it, and its line when it has one such line */
  setAt: Location | undefined;
}

/** The line of a file's `config_path = …`, when there is exactly one. */
function configPathLine(text: string): number | undefined {
  const lines = text.split('\n').flatMap((l, i) => (/^\s*config_path\s*=/.test(l) ? [i + 1] : []));
  return lines.length === 1 ? lines[0] : undefined;
}

/** The CRI registry settings containerd takes from `file` and its imports; undefined when `file` does not exist. */
async function effectiveSettings(file: string): Promise<Effective | undefined> {
  const queue = [file];
  const seen = new Set<string>();
  let out: Effective | undefined;
  while (queue.length > 0 && seen.size < MAX_FILES) {
    const next = queue.shift() as string;
    if (seen.has(resolve(next))) continue;
    seen.add(resolve(next));
    const bytes = await readRegularFile(next).catch(() => undefined);
    if (bytes === undefined) continue;
    const text = bytes.toString('utf8');
    let s;
    try {
      s = criRegistrySettings(text);
    } catch (e) {
      throw new Error(`${next}: ${(e as Error).message}`, { cause: e });
    }
    out ??= { version: s.version, configPath: undefined, legacyMirrors: false, criDisabled: false, setAt: undefined };
    const line = configPathLine(text);
    if (s.configPath !== undefined) Object.assign(out, { configPath: s.configPath, setAt: { file: next, ...(line !== undefined ? { line } : {}) } });
    out.legacyMirrors ||= s.legacyMirrors;
    out.criDisabled ||= s.criDisabled; // the files' lists add up (seen with containerd config dump)
    for (const i of s.imports) queue.push(...(await importedFiles(next, i)));
  }
  return out;
}

/**
 * A warning when containerd's CRI plugin does not read `hostsDir` (its config_path does not name
 * it): kubelet's pulls then ignore the hosts.toml files written there. None when the config file
 * does not exist (containerd then runs on its built-in defaults, which vary with its version and
 * its packager: not guessed here) or disables the CRI plugin (Docker's containerd: no kubelet
 * pulls through it). When it names `hostsDir` after other roots, a warning names the `hosts`
 * whose directory an earlier root hides. A file containerd could not parse is a warning too:
 * containerd would not start with it. The warning is at the `config_path` line taken, when one
 * is (in an imported file, maybe), else at `configFile` (default /etc/containerd/config.toml).
 */
export async function criConfigWarnings(hostsDir: string, hosts: readonly string[], configFile = DEFAULT_CONTAINERD_CONFIG): Promise<Diagnostic[]> {
  let settings;
  try {
    settings = await effectiveSettings(configFile);
  } catch (e) {
    return [warning({ file: configFile }, `cannot tell whether containerd reads ${hostsDir}: ${(e as Error).message}`)];
  }
  if (settings === undefined || settings.criDisabled) return [];
  const dirs = configPathDirs(settings.configPath);
  const ours = dirs.findIndex((d) => resolve(d) === resolve(hostsDir));
  if (ours >= 0) return shadowedHosts(dirs.slice(0, ours), hostsDir, hosts, settings.setAt ?? { file: configFile });
  const now = settings.configPath === undefined ? 'config_path is not set' : `config_path = ${JSON.stringify(settings.configPath)}`;
  const fix = `set config_path = ${JSON.stringify(hostsDir)} in ${criRegistryTable(settings.version)} and restart containerd`;
  const mirrors = settings.legacyMirrors ? `; move its registry.mirrors into a policy fragment first (containerd refuses both at once)` : '';
  return [
    warning(
      settings.setAt ?? { file: configFile },
      `containerd's CRI plugin does not read ${hostsDir} (${now}): kubelet's pulls ignore the hosts.toml files written there; ${fix}${mirrors}`,
    ),
  ];
}

/**
 * The hosts whose directory containerd takes from a root config_path lists before `hostsDir`:
 * per host it takes the first root holding `host_port_/`, `host/` or `_default/` (hostDirFromRoots),
 * so such a directory there hides the hosts.toml we write.
 */
async function shadowedHosts(earlier: readonly string[], hostsDir: string, hosts: readonly string[], at: Location): Promise<Diagnostic[]> {
  const hidden: string[] = [];
  for (const host of hosts) {
    for (const root of earlier) {
      const found = await firstExisting(containerdHostDirNames(host).map((name) => join(root, name)));
      if (found === undefined) continue;
      hidden.push(`${host} (${found})`);
      break;
    }
  }
  if (hidden.length === 0) return [];
  return [
    warning(
      at,
      `containerd's CRI plugin takes these hosts' directories from a config_path root listed before ${hostsDir}, so it never reads our hosts.toml for them: ${hidden.join(', ')}; list ${hostsDir} first, or move those directories away`,
    ),
  ];
}

async function firstExisting(paths: readonly string[]): Promise<string | undefined> {
  for (const p of paths) if ((await fs.stat(p).catch(() => undefined)) !== undefined) return p;
  return undefined;
}

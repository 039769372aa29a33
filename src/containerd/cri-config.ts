/**
 * Whether containerd's CRI plugin (kubelet's pulls) reads a hosts directory, from containerd's
 * own config.toml (pure). The CRI plugin reads hosts.toml files only from its registry's
 * `config_path`, a list of directories (`:`-separated, the first one holding a host's directory
 * wins); Debian's containerd 1.6 ships a config.toml without it, and its default is empty, so
 * the hosts.toml files we write would be read by `ctr --hosts-dir` alone. Where the setting
 * lives depends on the file's `version`: 3 (containerd 2.x) `plugins."io.containerd.cri.v1.images"
 * .registry`, 2 `plugins."io.containerd.grpc.v1.cri".registry`, 1 (or none) `plugins.cri.registry`.
 * An imported file (`imports`) is merged over the one importing it: its non-empty values win,
 * lists (`disabled_plugins`) add up. With the CRI plugin disabled nothing reads config_path.
 */
import { parse } from 'smol-toml';

/** What one containerd config file says of the CRI registry. */
export interface CriRegistrySettings {
  readonly version: number;
  /** `config_path` as written, undefined when the file does not set it (or sets it empty). */
  readonly configPath: string | undefined;
  /** The deprecated `registry.mirrors` table has entries (used only while config_path is empty). */
  readonly legacyMirrors: boolean;
  /** `imports`, as written (paths or patterns, relative to the file's directory). */
  readonly imports: readonly string[];
  /** `disabled_plugins` names the CRI plugin (as Docker's containerd.io config does: `["cri"]`). */
  readonly criDisabled: boolean;
}

/** The names `disabled_plugins` may give the CRI plugin (its image service, in containerd 2.x). */
const CRI_PLUGIN_NAMES = ['cri', 'io.containerd.grpc.v1.cri', 'io.containerd.cri.v1.images'];

/** The table that holds the CRI registry settings in a config file of `version`. */
export function criRegistryTable(version: number): string {
  if (version >= 3) return '[plugins."io.containerd.cri.v1.images".registry]';
  return version === 2 ? '[plugins."io.containerd.grpc.v1.cri".registry]' : '[plugins.cri.registry]';
}

const PLUGIN_BY_VERSION = (version: number): string => (version >= 3 ? 'io.containerd.cri.v1.images' : version === 2 ? 'io.containerd.grpc.v1.cri' : 'cri');

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}

/** The CRI registry settings of one config file's text. Throws on text containerd could not parse either. */
export function criRegistrySettings(text: string): CriRegistrySettings {
  const data = parse(text) as Record<string, unknown>;
  const version = typeof data['version'] === 'number' ? data['version'] : 1;
  const registry = field(field(field(data, 'plugins'), PLUGIN_BY_VERSION(version)), 'registry');
  const configPath = field(registry, 'config_path');
  const mirrors = field(registry, 'mirrors');
  const imports = data['imports'];
  const disabled = data['disabled_plugins'];
  return {
    version,
    configPath: typeof configPath === 'string' && configPath !== '' ? configPath : undefined,
    legacyMirrors: typeof mirrors === 'object' && mirrors !== null && Object.keys(mirrors).length > 0,
    imports: Array.isArray(imports) ? imports.filter((i): i is string => typeof i === 'string') : [],
    criDisabled: Array.isArray(disabled) && disabled.some((d) => CRI_PLUGIN_NAMES.includes(String(d))),
  };
}

/** The directories config_path names, in containerd's order (filepath.SplitList: empty entries dropped). */
export function configPathDirs(configPath: string | undefined): string[] {
  return (configPath ?? '').split(':').filter((d) => d !== '');
}

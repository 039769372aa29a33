/** Where things live on a host, unless flags say otherwise. */
export const DEFAULT_POLICY_DIR = '/etc/mirror-policy.d';
export const DEFAULT_OUTPUT = '/etc/containers/registries.conf';
/** The daemon's config file (may be absent). */
export const DEFAULT_CONFIG = '/etc/mirror-policyd/config.toml';
/** The daemon's state: last-good fragments, the adopted base, drift copies, the health cache. */
export const DEFAULT_STATE_DIR = '/var/lib/mirror-policyd';
/** Where containerd reads its config when not told otherwise (`containerd --config`). */
export const DEFAULT_CONTAINERD_CONFIG = '/etc/containerd/config.toml';

/**
 * The default cap on a fragment's size (`max-fragment-bytes`). Fragments are small, but
 * oc-mirror writes one ImageDigestMirrorSet for a whole catalog: 10 000 entries are 1.19 MB.
 * Far past that, a file is a mistake or an attack, not policy.
 */
export const DEFAULT_MAX_FRAGMENT_BYTES = 16 * 1024 * 1024;
/** The most `max-fragment-bytes` may be set to: a fragment is held as one string, parsed whole. */
export const MAX_FRAGMENT_BYTES_SETTING = 256 * 1024 * 1024;

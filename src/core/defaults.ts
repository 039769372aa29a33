/** Where things live on a host, unless flags say otherwise. */
export const DEFAULT_POLICY_DIR = '/etc/mirror-policy.d';
export const DEFAULT_OUTPUT = '/etc/containers/registries.conf';
/** The daemon's config file (may be absent). */
export const DEFAULT_CONFIG = '/etc/mirror-policyd/config.toml';
/** The daemon's state: last-good fragments, the adopted base, drift copies, the health cache. */
export const DEFAULT_STATE_DIR = '/var/lib/mirror-policyd';

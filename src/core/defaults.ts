/** Where things live on a host, unless flags say otherwise. */
export const DEFAULT_POLICY_DIR = '/etc/mirror-policy.d';
export const DEFAULT_OUTPUT = '/etc/containers/registries.conf';

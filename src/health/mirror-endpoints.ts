/** The mirror endpoints of a rendered configuration. Pure: the prober and the mirror view share it without the prober's network stack. */
import { endpointKey } from './health.js';
import type { RegistriesConf } from '../registries-conf/model.js';

export interface ProbeTarget {
  readonly host: string;
  readonly insecure: boolean;
}

/** The mirror endpoints of a rendered configuration (host[:port] and insecure), each once, keyed as the health cache keys them. */
export function mirrorEndpoints(conf: RegistriesConf): ProbeTarget[] {
  const seen = new Map<string, ProbeTarget>();
  for (const t of conf.registries) {
    for (const m of t.mirrors) {
      const host = m.location.split('/')[0] ?? m.location;
      const insecure = m.insecure === true;
      seen.set(endpointKey(host, insecure), { host, insecure });
    }
  }
  return [...seen.values()];
}

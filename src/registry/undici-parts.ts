/**
 * The parts of undici the registry client uses, each loaded from its own file. undici's
 * index loads fetch, WebSocket, EventSource, the caches, cookies and the mocks as well
 * (about half of undici's ~65 ms of CPU at every `pull` start here; issue #15), none of
 * which we use. Node caches CommonJS modules by path, so these are the very classes and
 * errors `import 'undici'` gives elsewhere in the process. Pinned to undici 7's layout
 * (its package.json has no "exports" map); test/registry/undici-parts.test.ts checks each
 * part against the index, so an upgrade that moves one fails there, not in a pull.
 */
import { createRequire } from 'node:module';
import type { Dispatcher, Agent as AgentType, Pool as PoolType, ProxyAgent as ProxyAgentType, errors as errorsType } from 'undici';

const load = createRequire(import.meta.url);

export const Agent = load('undici/lib/dispatcher/agent.js') as typeof AgentType;
export const errors = load('undici/lib/core/errors.js') as typeof errorsType;

/**
 * ProxyAgent, only when a proxy is configured: from undici's index, because it tunnels with
 * the `connect` method that the index adds to every dispatcher (lib/api).
 */
export function loadProxyAgent(): { ProxyAgent: typeof ProxyAgentType; Pool: typeof PoolType } {
  return load('undici') as { ProxyAgent: typeof ProxyAgentType; Pool: typeof PoolType };
}

type RequestOn = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
const requestOn = load('undici/lib/api/api-request.js') as RequestOn;

/**
 * undici's `request(url, { dispatcher, ... })`, as its index builds it: the URL split into
 * origin and path, then the request API called on the dispatcher.
 */
export function request(
  url: URL,
  opts: { readonly dispatcher: Dispatcher; readonly method: 'GET' | 'HEAD' | 'POST'; readonly headers: Record<string, string>; readonly body?: string },
): Promise<Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = opts;
  return requestOn.call(dispatcher, { ...rest, origin: url.origin, path: `${url.pathname}${url.search}` });
}

/**
 * What a failed request says about its endpoint's health: the one mapping from an error to a
 * health record, used by pulls, probes and the local mirror alike.
 */
import { recordFailure, type EndpointHealth } from '../health/health.js';
import { RegistryError, classifyNetworkError } from './errors.js';
import { DigestMismatch, WrongContent } from './oci-layout.js';

/**
 * A RegistryError as it is. Wrong content (bytes asked for by digest that hash to another) is
 * the endpoint's failure: a registry is content-addressed, so one that answers a digest with
 * other bytes is broken or tampered with, and asking it again gets the same; it counts as a
 * protocol failure, for pulls and the local mirror alike. Any other content error (a size
 * mismatch, a malformed manifest or digest) would be the same from every source, so it says
 * nothing about the endpoint's health. Anything else is a network error.
 */
export function asRegistryError(e: unknown): RegistryError {
  if (e instanceof RegistryError) return e;
  if (e instanceof WrongContent) return new RegistryError(e.message, 'unhealthy', 'protocol');
  if (e instanceof DigestMismatch) return new RegistryError(e.message, 'invalid');
  return new RegistryError(String((e as Error)?.message ?? e), 'unhealthy', classifyNetworkError(e));
}

/**
 * The endpoint's health after a request of a pull (or of the local mirror) failed with `e`,
 * or undefined when `e` says nothing about the endpoint: a 404 or 401 is the content's
 * business, a malformed manifest or a wrong size the content's fault (wrong content is not:
 * see asRegistryError).
 */
export function afterRequestFailure(h: EndpointHealth | undefined, key: string, e: unknown, now: number): EndpointHealth | undefined {
  const err = asRegistryError(e);
  return err.kind === 'unhealthy' && err.failureClass ? recordFailure(h, key, err.failureClass, err.message, now) : undefined;
}

/**
 * The endpoint's health after a probe failed with `e`. A probe asks only "are you a working
 * registry", so every failure counts: as a protocol failure when nothing better is known.
 */
export function afterProbeFailure(h: EndpointHealth | undefined, key: string, e: unknown, now: number): EndpointHealth {
  const err = asRegistryError(e);
  return recordFailure(h, key, err.failureClass ?? 'protocol', err.message, now);
}

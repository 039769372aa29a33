/**
 * TLS contexts made once per distinct material and kept: tls.connect given `ca` parses every
 * certificate into a new store at each connection (the system's ~150: 50 ms of CPU), where a
 * context given as `secureContext` is used as it is. Keyed by a hash of the material (the key's
 * text is not kept as a key); the few most recent are kept (a daemon meets one per endpoint
 * with certs.d files, and one more for the system's store alone).
 */
import { createHash } from 'node:crypto';
import type { SecureContext } from 'node:tls';

const KEEP = 32;
const contexts = new Map<string, SecureContext>();

interface Material {
  readonly ca?: readonly string[];
  readonly cert?: string;
  readonly key?: string;
}

function keyOf(m: Material): string {
  const h = createHash('sha256');
  for (const part of [...(m.ca ?? []), '\0cert', m.cert ?? '', '\0key', m.key ?? '']) h.update(part).update('\0');
  return h.digest('hex');
}

/** The context for `m`, and the digest it is kept under (equal material, equal digest: what callers compare materials by). */
export async function secureContextFor(m: Material): Promise<{ context: SecureContext; digest: string }> {
  const digest = keyOf(m);
  const kept = contexts.get(digest);
  if (kept) {
    contexts.delete(digest); // most recent last
    contexts.set(digest, kept);
    return { context: kept, digest };
  }
  const { createSecureContext } = await import('node:tls');
  const made = createSecureContext({ ...(m.ca ? { ca: [...m.ca] } : {}), ...(m.cert ? { cert: m.cert } : {}), ...(m.key ? { key: m.key } : {}) });
  contexts.set(digest, made);
  if (contexts.size > KEEP) contexts.delete(contexts.keys().next().value as string);
  return { context: made, digest };
}

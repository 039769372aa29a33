/**
 * The digest containers/image gives a manifest (manifest.Digest): the hash of its bytes, except
 * for a signed schema1 manifest (`application/vnd.docker.distribution.manifest.v1+prettyjws`),
 * whose digest is that of its payload, the bytes without the "signatures" block, as libtrust
 * cuts them (ParsePrettySignature: each signature's protected header names `formatLength`, the
 * bytes kept, and `formatTail`, what follows them). A registry serving schema1 signs it afresh on
 * every GET, so its bytes never hash to the digest it names; hashing them whole would take a
 * healthy registry for one serving wrong content. Hand-written: no maintained package does this
 * one cut, and it is a dozen lines.
 */
import { isDeepStrictEqual } from 'node:util';
import { digestOf } from './oci-layout.js';

/** The digest of `bytes` as a manifest (see above); `alg` as in the digest asked for. */
export function manifestDigestOf(bytes: Buffer, alg = 'sha256'): string {
  return digestOf(signedSchema1Payload(bytes) ?? bytes, alg);
}

/** Whether `bytes`, asked for by `digest`, are that manifest: compared whole first (every manifest but signed schema1). */
export function isManifestFor(bytes: Buffer, digest: string, alg: string): boolean {
  if (digestOf(bytes, alg) === digest) return true;
  const payload = signedSchema1Payload(bytes);
  return payload !== undefined && digestOf(payload, alg) === digest;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The payload of a signed schema1 manifest; undefined for anything else (or signatures that disagree on it, as libtrust refuses). */
function signedSchema1Payload(bytes: Buffer): Buffer | undefined {
  if (!bytes.includes('"signatures"')) return undefined; // no JSON parse for the usual manifest
  let j: unknown;
  try {
    j = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(j) || j.schemaVersion !== 1 || !Array.isArray(j.signatures) || j.signatures.length === 0) return undefined;
  let cut: { length: number; tail: string } | undefined;
  for (const sig of j.signatures) {
    const header = isObject(sig) && typeof sig.protected === 'string' ? parseProtected(sig.protected) : undefined;
    if (header === undefined || (cut !== undefined && (cut.length !== header.length || cut.tail !== header.tail))) return undefined;
    cut = header;
  }
  if (cut === undefined || cut.length > bytes.length) return undefined;
  const payload = Buffer.concat([bytes.subarray(0, cut.length), Buffer.from(cut.tail, 'base64url')]);
  return isPayloadOf(payload, j) ? payload : undefined;
}

/**
 * Whether `payload` is the document `signed` is, its signatures aside. The cut is the
 * document's own word (`formatLength` 0 and a `formatTail` of any manifest's text hash to that
 * manifest's digest), while what is used is the document parsed whole: only when the two agree
 * does the digest vouch for what is used. libtrust checks this through the signatures' keys,
 * which prove nothing here (anyone can sign); the agreement is what makes the payload's hash mean
 * something.
 */
function isPayloadOf(payload: Buffer, signed: Json): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return false;
  }
  const { signatures: _signatures, ...unsigned } = signed;
  return isDeepStrictEqual(parsed, unsigned);
}

function parseProtected(encoded: string): { length: number; tail: string } | undefined {
  try {
    const h: unknown = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
    if (!isObject(h) || !Number.isSafeInteger(h.formatLength) || (h.formatLength as number) < 0 || typeof h.formatTail !== 'string') return undefined;
    return { length: h.formatLength as number, tail: h.formatTail };
  } catch {
    return undefined;
  }
}

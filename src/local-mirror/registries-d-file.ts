/**
 * The local mirror's registries.d drop-in (an edge): the directory's other `*.yaml` files read,
 * ours (registries-d.ts) written when a table needs it and removed when none does. A file of
 * that name we did not write, or one edited since, is left alone and reported.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { byteOrderCompare } from '../core/byte-order.js';
import { writeFileAtomic } from '../output/atomic-write.js';
import { unlessMissing } from '../output/if-exists.js';
import { classifyFile, classifyText } from '../output/managed-file.js';
import type { RegistriesConf } from '../registries-conf/model.js';
import { LOCAL_MIRROR_REGISTRIES_D } from './mapping.js';
import { endpointAttachmentScopes, renderRegistriesD, sigstoreSettings, type RegistriesDFile } from './registries-d.js';

export interface RegistriesDOutcome {
  readonly path: string;
  /** the endpoint namespaces the drop-in carries */
  readonly scopes: readonly string[];
  readonly change: 'written' | 'removed' | 'none';
  /** why ours was not written or removed: a file of its name that is not ours */
  readonly problem?: string;
}

async function otherFiles(dir: string): Promise<RegistriesDFile[]> {
  const names = (await unlessMissing(fs.readdir(dir))) ?? [];
  const out: RegistriesDFile[] = [];
  for (const name of names.filter((n) => n.endsWith('.yaml') && n !== LOCAL_MIRROR_REGISTRIES_D).sort(byteOrderCompare)) {
    try {
      const text = await unlessMissing(fs.readFile(join(dir, name), 'utf8'));
      if (text !== undefined) out.push({ file: join(dir, name), text });
    } catch {
      // unreadable (a directory, no permission): containers/image names it at its next pull
    }
  }
  return out;
}

/** Brings `dir`/mirror-policyd-local-mirror.yaml in line with `conf` (the endpoint at `address`; undefined: not listening, none needed). */
export async function updateRegistriesD(dir: string, conf: RegistriesConf, address: string | undefined, version?: string): Promise<RegistriesDOutcome> {
  const path = join(dir, LOCAL_MIRROR_REGISTRIES_D);
  const scopes = address === undefined ? [] : endpointAttachmentScopes(conf, address, sigstoreSettings(await otherFiles(dir)));
  const text = renderRegistriesD(scopes, version);
  const state = await classifyFile(path);
  // Someone else's file of that name is theirs: a problem only when we have something to write there.
  if (state === 'foreign' && text === undefined) return { path, scopes, change: 'none' };
  if (state === 'foreign' || state === 'edited')
    return {
      path,
      scopes,
      change: 'none',
      problem: `${path} is not ours (${state === 'edited' ? 'edited since we wrote it' : 'written by someone else'}): left as it is`,
    };
  if (text === undefined) {
    if (state === 'missing') return { path, scopes, change: 'none' };
    await fs.rm(path, { force: true });
    return { path, scopes, change: 'removed' };
  }
  if (state === 'missing' && (await unlessMissing(fs.stat(dir))) === undefined) await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  // Replaced only while it is still ours (or still missing): an operator's file taking its place meanwhile stays.
  const result = await writeFileAtomic(path, text, { beforeReplace: (current) => current === undefined || classifyText(current.toString('utf8')) === 'ours' });
  return {
    path,
    scopes,
    change: result.changed ? 'written' : 'none',
    ...(result.aborted ? { problem: `${path} changed while we wrote it: left as it is` } : {}),
  };
}

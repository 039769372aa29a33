/** Reading the registries.conf.d drop-ins beside an output file (an edge). */
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { unlessMissing } from '../output/if-exists.js';
import { invalidUtf8Line, type ConfText } from './parse.js';
import { listDropIns } from './load.js';

/**
 * The drop-ins of OUTPUT_DIR/registries.conf.d, exactly the files containers/image (and `resolve`)
 * would read: listDropIns decides which, in which order. For warnings only, so a directory that
 * cannot be listed, or a file that cannot be read, is left out rather than failing the caller.
 */
export async function readDropIns(output: string): Promise<ConfText[]> {
  let files: string[];
  try {
    files = await listDropIns(join(dirname(output), 'registries.conf.d'));
  } catch {
    return [];
  }
  const out: ConfText[] = [];
  for (const file of files) {
    try {
      const bytes = await unlessMissing(fs.readFile(file)); // missing: vanished since the listing
      if (bytes === undefined) continue;
      const invalidUtf8 = invalidUtf8Line(bytes);
      out.push(invalidUtf8 === undefined ? { file, text: bytes.toString('utf8') } : { file, text: '', invalidUtf8Line: invalidUtf8 });
    } catch {
      // unreadable (a directory behind a link, no permission): `resolve` names it when it loads the set
    }
  }
  return out;
}

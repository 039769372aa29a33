/** Reading the registries.conf.d drop-ins beside an output file (an edge). */
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { SourceText } from './pipeline.js';
import { byteOrderCompare } from './byte-order.js';

/** `*.conf` regular files of OUTPUT_DIR/registries.conf.d, in name order; none when the directory is missing. */
export async function readDropIns(output: string): Promise<SourceText[]> {
  const dir = join(dirname(output), 'registries.conf.d');
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.conf')).sort(byteOrderCompare);
  } catch {
    return [];
  }
  const out: SourceText[] = [];
  for (const n of names) {
    try {
      const st = await fs.stat(join(dir, n));
      if (st.isFile() && st.size <= 1024 * 1024) out.push({ file: join(dir, n), text: await fs.readFile(join(dir, n), 'utf8') });
    } catch {
      // vanished while reading: containers/image skips it too
    }
  }
  return out;
}

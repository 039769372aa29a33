/**
 * The texts of the torn-write campaign (bench/torn-writes.ts), apart from it: its victim
 * (bench/torn-writer.ts) imports them, and a victim started 150 times a CI run should not load
 * the campaign's harness and the test helpers it imports (~20 % of its start-up CPU, Node 20).
 */
import { createHash } from 'node:crypto';

export const TORN_FRAGMENTS = ['10-a.toml', '20-b.yaml', '30-c.toml'];

/** A self-describing text: `# torn-writer v=V file=F sha256=H\n` + a body whose hash is H; sizes from bytes to 256 KiB. */
export function tornText(file: string, v: number): string {
  const size = v % 5 === 0 ? 128 * 1024 + ((v * 7919) % (128 * 1024)) : (v * 131) % 4096;
  const body = `[[mirror-set]]\nsource = "${file.replace(/\W/g, '')}.example.com"\nmirrors = ["m${v}.example.net"]\n#${'x'.repeat(size)}\n`;
  return `# torn-writer v=${v} file=${file} sha256=${createHash('sha256').update(body).digest('hex')}\n${body}`;
}

/** Whether `text` is exactly one text tornText gave for `file`. */
export function isWholeTornText(file: string, text: string): boolean {
  const m = /^# torn-writer v=(\d+) file=([^ ]+) sha256=([0-9a-f]{64})\n/.exec(text);
  if (!m || m[2] !== file) return false;
  return tornText(file, Number(m[1])) === text;
}

// scratch driver (not committed): big blob through the endpoint vs straight, curl and skopeo, endpoint CPU per pull
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/core/log.js';
import { localMirrorLocation } from '../src/local-mirror/mapping.js';
import { startLocalMirror } from '../src/local-mirror/server.js';
import { healthBook } from '../src/local-mirror/upstream.js';
import { mergeRegistriesConfs } from '../src/registries-conf/layer.js';
import { parseRegistriesConf } from '../src/registries-conf/parse.js';
import { buildImage, pushImage } from '../test/helpers/oci-image.js';
import { freePort, startRegistry } from '../test/helpers/registry.js';
import { timed } from './timed.js';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';

/** a bare proxy: the floor of proxying in node (FLOOR=pipe|hash) */
async function bareProxy(target: string, mode: string): Promise<{ host: string; close(): void }> {
  const agent = new Agent();
  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').replace(/^\/v2\/x\//, '/v2/');
      if (mode === 'raw') {
        const hash = createHash('sha256');
        await new Promise<void>((ok, fail) => {
          agent.dispatch({ origin: `http://${target}`, path, method: req.method as 'GET', headers: { accept: String(req.headers.accept ?? '*/*') } }, {
            onConnect() {},
            onError: fail,
            onHeaders(status: number, raw: Buffer[], resume: () => void) {
              const h: Record<string, string> = {};
              for (let i = 0; i < raw.length; i += 2) h[String(raw[i]).toLowerCase()] = String(raw[i + 1]);
              delete h['connection'];
              res.writeHead(status, h);
              res.on('drain', resume);
              return true;
            },
            onData(c: Buffer) {
              hash.update(c);
              return res.write(c);
            },
            onComplete() {
              res.end();
              ok();
            },
          } as never);
        });
        return;
      }
      const r = await request(`http://${target}${path}`, { method: req.method as 'GET', headers: { accept: String(req.headers.accept ?? '*/*') }, dispatcher: agent });
      const h: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string') h[k] = v;
      res.writeHead(r.statusCode, h);
      if (mode === 'pipe') return pipeline(r.body, res);
      const hash = createHash('sha256');
      for await (const c of r.body) {
        hash.update(c as Buffer);
        if (!res.write(c)) await new Promise((ok) => res.once('drain', ok));
      }
      res.end();
    })().catch((e: unknown) => { console.error(e); res.destroy(); });
  });
  const port = await freePort();
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  return { host: `127.0.0.1:${port}`, close: () => server.close() };
}


const SOURCE = 'source.invalid/app';
const MB = Number(process.env.MB ?? 300);
const RUNS = Number(process.env.RUNS ?? 5);
const MODE = process.env.MODE ?? 'both'; // curl | skopeo | both | prof
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const work = mkdtempSync(join(tmpdir(), 'zz-lm-'));
const reg = await startRegistry();
try {
  const policy = join(work, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const big = await buildImage(join(work, 'big'), { content: randomBytes(Math.round((MB * 1024 * 1024 * 3) / 4)).toString('base64'), tag: 'v1' });
  await pushImage(big, `${reg.host}/app:big`);
  const address = `127.0.0.1:${await freePort()}`;
  const loc = localMirrorLocation(address, SOURCE);
  const conf = (mirrors: string[]): string =>
    `unqualified-search-registries = []\n\n[[registry]]\nprefix = "${SOURCE}"\nlocation = "${SOURCE}"\n` +
    mirrors.map((m) => `[[registry.mirror]]\nlocation = "${m}"\ninsecure = true\n`).join('');
  const throughText = conf([loc, `${reg.host}/app`]);
  const throughFile = join(work, 'through.conf');
  writeFileSync(throughFile, throughText);
  const floor = process.env.FLOOR ? await bareProxy(reg.host, process.env.FLOOR) : undefined;
  const floorFile = join(work, 'floor.conf');
  if (floor) writeFileSync(floorFile, conf([`${floor.host}/x/app`]));
  const directFile = join(work, 'direct.conf');
  writeFileSync(directFile, conf([`${reg.host}/app`]));
  const log = createLogger({ level: 'silent' });
  const parsed = parseRegistriesConf(throughText, throughFile);
  const lm = await startLocalMirror({ listen: address, conf: mergeRegistriesConfs(parsed.conf!), health: await healthBook(undefined, log), log });
  const repo = loc.slice(address.length + 1);
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (process.env.CPU === 'user' ? u.user : process.env.CPU === 'sys' ? u.system : u.user + u.system) / 1000;
  };
  const curl = async (url: string): Promise<{ ms: number; cpu: number }> => {
    const c0 = cpu();
    const r = await timed('curl', ['-sf', '-o', '/dev/null', url], 60_000);
    if (r.code !== 0) throw new Error(`curl ${url} exit ${r.code}`);
    return { ms: r.ms, cpu: cpu() - c0 };
  };
  let n = 0;
  const skopeo = async (file: string): Promise<{ ms: number; cpu: number }> => {
    const dest = join(work, `dest-${n++}`);
    const c0 = cpu();
    const r = await timed('skopeo', ['--registries-conf', file, 'copy', '--retry-times', '0', '--policy', policy, `docker://${SOURCE}@${big.manifestDigest}`, `dir:${dest}`], 120_000, { ...process.env, HOME: work });
    const c = cpu() - c0;
    rmSync(dest, { recursive: true, force: true });
    if (r.code !== 0) throw new Error(`skopeo exit ${r.code}`);
    return { ms: r.ms, cpu: c };
  };
  const report = (name: string, d: { ms: number; cpu: number }[], t: { ms: number; cpu: number }[]): void => {
    const dm = median(d.map((x) => x.ms));
    const tm = median(t.map((x) => x.ms));
    console.log(`${name}: direct ${dm.toFixed(0)} ms [${d.map((x) => x.ms.toFixed(0)).join(' ')}], through ${tm.toFixed(0)} ms [${t.map((x) => x.ms.toFixed(0)).join(' ')}], ratio ${(dm / tm).toFixed(3)}; endpoint cpu/pull ${median(t.map((x) => x.cpu)).toFixed(0)} ms`);
  };
  const directUrl = `http://${reg.host}/v2/app/blobs/${big.layerDigest}`;
  const throughUrl = `http://${address}/v2/${repo}/blobs/${big.layerDigest}`;
  await curl(throughUrl);
  if (MODE === 'prof') {
    for (let i = 0; i < RUNS; i++) await curl(throughUrl);
  }
  if (MODE === 'curl' || MODE === 'both') {
    const d: { ms: number; cpu: number }[] = [];
    const t: { ms: number; cpu: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      d.push(await curl(directUrl));
      t.push(await curl(floor ? `http://${floor.host}/v2/x/app/blobs/${big.layerDigest}` : throughUrl));
    }
    report('curl', d, t);
  }
  if (MODE === 'skopeo' || MODE === 'both') {
    const d: { ms: number; cpu: number }[] = [];
    const t: { ms: number; cpu: number }[] = [];
    for (let i = 0; i < RUNS; i++) {
      d.push(await skopeo(directFile));
      t.push(await skopeo(floor ? floorFile : throughFile));
    }
    report('skopeo', d, t);
  }
  console.log(JSON.stringify(lm.stats().responses), lm.stats().bytesSent);
  await lm.close(100);
  floor?.close();
} finally {
  await reg.destroy();
  rmSync(work, { recursive: true, force: true });
}

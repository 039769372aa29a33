/**
 * What a local process can read through the local mirror (SECURITY.md): with
 * `local-mirror-credentials` off (the default) the endpoint sends no credentials upstream, so
 * an image behind basic auth is not served even though the host's auth file has them; on, it
 * is. The password appears in no log line and no figure of the endpoint.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { request } from 'undici';
import type { Logger } from '../../../src/core/log.js';
import { localMirrorSetup } from '../../helpers/local-mirror.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { makeHtpasswd, makeSelfSignedCert, registryFor } from '../../helpers/registry.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-lm-creds-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const secret = 'pull-secret-c0ffee';
const tls = await makeSelfSignedCert(work);
const reg = await registryFor(t, {
  tls: { certFile: tls.certFile, keyFile: tls.keyFile },
  htpasswdFile: await makeHtpasswd(join(work, 'htpasswd'), 'puller', secret),
});
const img = await buildImage(join(work, 'img'), { content: 'behind basic auth', tag: 'v1' });
await pushImage(img, `${reg.host}/app:v1`, { tlsVerify: true, certDir: tls.certDir, creds: `puller:${secret}` });
const authFile = join(work, 'auth.json');
writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`puller:${secret}`).toString('base64') } } }));

/** A logger whose every line is kept, at the most verbose level. */
function keptLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log: Logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
  return { log, lines };
}

for (const credentials of [false, true]) {
  t.test(`local-mirror-credentials = ${credentials}`, async (t) => {
    const { log, lines } = keptLog();
    const setup = await localMirrorSetup(t, [`${reg.host}/app`], { authFile, certDir: tls.certDir, credentials, log });
    const ep = await setup.start();
    const r = await request(`http://${setup.address}/v2/${setup.repository}/manifests/${img.manifestDigest}`);
    const body = Buffer.from(await r.body.arrayBuffer());
    if (credentials) {
      t.equal(r.statusCode, 200, 'served with the host’s credentials');
      t.ok(body.equals(img.manifest), 'the manifest, verified');
    } else {
      t.not(r.statusCode, 200, `not served: the registry wants credentials and none are sent (HTTP ${r.statusCode})`);
      t.match(lines.join('\n'), /401|unauthorized|forbidden/i, 'the log says the registry refused');
    }
    const everything = [...lines, JSON.stringify(ep.stats()), body.toString()].join('\n');
    t.notMatch(everything, secret, 'the password is in no log line, figure or answer');
    t.notMatch(everything, Buffer.from(`puller:${secret}`).toString('base64'), 'nor its base64');
  });
}

t.test("local-mirror-credentials = true: registries.conf's credential-helpers are asked, as podman would ask them", async (t) => {
  const bin = mkdtempSync(join(work, 'helpers-'));
  writeFileSync(join(bin, 'docker-credential-lmhelper'), `#!/bin/sh\nread -r host\necho '{"Username":"puller","Secret":"${secret}"}'\n`, { mode: 0o755 });
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path ?? ''}`;
  t.teardown(() => void (process.env.PATH = path));
  const noAuth = join(work, 'no-auth.json');
  writeFileSync(noAuth, JSON.stringify({ auths: {} }));
  const { log, lines } = keptLog();
  const setup = await localMirrorSetup(t, [`${reg.host}/app`], { authFile: noAuth, certDir: tls.certDir, credentials: true, log });
  await setup.start({ conf: { ...setup.conf, credentialHelpers: ['lmhelper'] } });
  const r = await request(`http://${setup.address}/v2/${setup.repository}/manifests/${img.manifestDigest}`);
  const body = Buffer.from(await r.body.arrayBuffer());
  t.equal(r.statusCode, 200, `served with the helper's credentials (${lines.slice(-2).join(' ')})`);
  t.ok(body.equals(img.manifest));
  t.notMatch(lines.join('\n'), secret, 'the password is in no log line');
});

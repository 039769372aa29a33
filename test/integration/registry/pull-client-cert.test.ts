/**
 * A registry that requires a client certificate (docker-registry's TLS `clientcas`):
 * --cert-dir with skopeo's naming (CA as *.crt, client as NAME.cert + NAME.key) gets in;
 * without the certificate the pull fails with a clear reason.
 */
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/log.js';
import { pullImage, PullError, hostPlatform, type PullSource } from '../../../src/registry/pull.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { makeSelfSignedCert, registryFor } from '../../helpers/registry.js';
import { issue, makeCa } from '../../helpers/test-ca.js';

const log = createLogger({ level: 'silent' });
const work = mkdtempSync(join(tmpdir(), 'mpd-clientcert-'));
const server = await makeSelfSignedCert(join(work, 'server'));
const clientCa = await makeCa(join(work, 'client-ca'));
const client = await issue(clientCa, 'puller', 'client');
const reg = await registryFor(t, { tls: { certFile: server.certFile, keyFile: server.keyFile, clientCaFiles: [clientCa.certFile], probeClient: client } });

// skopeo's --cert-dir: ca.crt (the server's CA), client.cert + client.key
const withCert = join(work, 'with-cert');
mkdirSync(withCert);
copyFileSync(server.certFile, join(withCert, 'ca.crt'));
copyFileSync(client.certFile, join(withCert, 'client.cert'));
copyFileSync(client.keyFile, join(withCert, 'client.key'));

const img = await buildImage(join(work, 'img'), { content: 'client certificates', tag: 'v1' });
await pushImage(img, `${reg.host}/app:v1`, { tlsVerify: true, certDir: withCert });
const s: PullSource = { reference: `${reg.host}/app@${img.manifestDigest}`, endpoint: { host: reg.host, insecure: false }, role: 'primary', blocked: false };
const dest = (): string => mkdtempSync(join(work, 'dest-'));

t.test('with client.cert + client.key in --cert-dir the pull succeeds', async (t) => {
  const r = await pullImage([s], { dest: dest(), platform: hostPlatform(), health: {}, log, certDir: withCert });
  t.equal(r.digest, img.manifestDigest);
  t.equal(r.blobs.length, 2);
});

t.test('without a client certificate the pull fails, saying the registry wants one, and the endpoint is not marked down', async (t) => {
  const err = await pullImage([s], { dest: dest(), platform: hostPlatform(), health: {}, log, certDir: server.certDir }).catch((e: unknown) => e);
  t.ok(err instanceof PullError);
  t.match(
    (err as PullError).attempts[0]?.error,
    /requires a client certificate and none was found in --cert-dir or certs.d for this host \(ERR_SSL_[A-Z0-9_/]+\)/,
  );
  t.same((err as PullError).health, {}, "our missing certificate says nothing about the registry's health");
});

t.test('a client certificate from another CA is refused the same way', async (t) => {
  const otherCa = await makeCa(join(work, 'other-ca'), 'someone else');
  const stranger = await issue(otherCa, 'stranger', 'client');
  const dir = join(work, 'stranger');
  mkdirSync(dir);
  copyFileSync(server.certFile, join(dir, 'ca.crt'));
  copyFileSync(stranger.certFile, join(dir, 'client.cert'));
  copyFileSync(stranger.keyFile, join(dir, 'client.key'));
  const err = await pullImage([s], { dest: dest(), platform: hostPlatform(), health: {}, log, certDir: dir }).catch((e: unknown) => e);
  t.ok(err instanceof PullError);
  t.match((err as PullError).attempts[0]?.error, /requires a client certificate and it refused ours/);
  t.same((err as PullError).health, {});
});

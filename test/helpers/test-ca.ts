/**
 * A test certificate authority made with openssl, and certificates it signs: client
 * certificates for registries that require them (`clientcas`), and server certificates
 * for names other than 127.0.0.1 (a registry reached through a proxy by name).
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: 15_000, killSignal: 'SIGKILL' }, (err, _out, stderr) =>
      err ? reject(new Error(`openssl ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(),
    );
  });
}

export interface TestCa {
  readonly certFile: string;
  readonly keyFile: string;
  readonly dir: string;
}

export async function makeCa(dir: string, cn = 'mirror-policyd test CA'): Promise<TestCa> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, 'ca.pem');
  const keyFile = join(dir, 'ca.key');
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certFile, keyFile, dir };
}

/** A certificate signed by `ca`: `kind` client (clientAuth) or server (serverAuth, SANs). Returns PEM file paths. */
export async function issue(ca: TestCa, name: string, kind: 'client' | 'server', sans: string[] = []): Promise<{ certFile: string; keyFile: string }> {
  const keyFile = join(ca.dir, `${name}.key`);
  const csr = join(ca.dir, `${name}.csr`);
  const certFile = join(ca.dir, `${name}.pem`);
  const ext = join(ca.dir, `${name}.ext`);
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`]);
  await writeFile(
    ext,
    [`extendedKeyUsage=${kind === 'client' ? 'clientAuth' : 'serverAuth'}`, ...(sans.length ? [`subjectAltName=${sans.join(',')}`] : [])].join('\n') + '\n',
  );
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
  return { certFile, keyFile };
}

let pem: Promise<string> | undefined;

/** A real CA certificate, PEM, made once per process: what a `.crt` must hold for containerd to load it (a placeholder text is passed over). */
export function caCertificatePem(): Promise<string> {
  pem ??= (async () => {
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'mpd-ca-pem-'));
    try {
      return readFileSync((await makeCa(dir)).certFile, 'utf8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return pem;
}

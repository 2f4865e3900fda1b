/**
 * Real X.509 certificates for TLS tests, made with the openssl CLI in a directory of the test's own:
 * a CA, a server certificate it signed (for 127.0.0.1), client certificates it signed, and a
 * self-signed client certificate that no configured CA vouches for. EC P-256 keys: fast to make.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertFiles {
  key: string;
  cert: string;
}

export interface TestPki {
  dir: string;
  ca: CertFiles;
  server: CertFiles;
  /** Client certificates signed by the CA, by name. */
  clients: Record<string, CertFiles>;
  /** A self-signed client certificate (no CA vouches for it). */
  selfSigned: CertFiles;
  /** PEM text of a file. */
  read(path: string): string;
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function signed(dir: string, name: string, ca: CertFiles, extensions: string): CertFiles {
  const files = { key: join(dir, `${name}.key`), cert: join(dir, `${name}.pem`) };
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(dir, ['req', '-new', ...NEW_KEY, '-keyout', files.key, '-out', join(dir, `${name}.csr`), '-subj', `/CN=${name}`]);
  openssl(dir, ['x509', '-req', '-in', join(dir, `${name}.csr`), '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-out', files.cert, '-extfile', ext]);
  return files;
}

/** Makes the CA, the server certificate and the named client certificates in `dir`. */
export function makeTestPki(dir: string, clientNames: string[]): TestPki {
  const ca = { key: join(dir, 'ca.key'), cert: join(dir, 'ca.pem') };
  openssl(dir, ['req', '-x509', ...NEW_KEY, '-keyout', ca.key, '-out', ca.cert, '-days', '2', '-subj', '/CN=eso-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const server = signed(dir, 'server', ca, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  const clients = Object.fromEntries(clientNames.map((n) => [n, signed(dir, n, ca, 'extendedKeyUsage=clientAuth\n')]));
  const selfSigned = { key: join(dir, 'self-signed.key'), cert: join(dir, 'self-signed.pem') };
  openssl(dir, ['req', '-x509', ...NEW_KEY, '-keyout', selfSigned.key, '-out', selfSigned.cert, '-days', '2', '-subj', '/CN=self-signed-sender',
    '-addext', 'extendedKeyUsage=clientAuth']);
  return { dir, ca, server, clients, selfSigned, read: (path) => readFileSync(path, 'utf8') };
}

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '@fileshare/shared';

/** TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3 suites are OpenSSL's defaults). */
export const TLS_CIPHERS =
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305';

/**
 * Make sure a usable key/certificate pair exists. Configured files must exist and match;
 * with none configured, a self-signed pair (CN=localhost, 10 years) is created once under
 * <dataDir>/tls. Fails with one clear line naming the file otherwise.
 */
export async function ensureTls(keyFile: string, certFile: string, configured: boolean, log: Logger): Promise<void> {
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    if (configured) throw new Error(`TLS files not found: ${!existsSync(keyFile) ? keyFile : certFile} (http.tls.keyFile / http.tls.certFile)`);
    // Loaded only when a pair must be made: the library weighs ~15 MB of RSS.
    const { generate } = await import('selfsigned');
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 10 * 365 * 86400_000),
      extensions: [
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ],
    });
    mkdirSync(dirname(keyFile), { recursive: true });
    writeFileSync(keyFile, pems.private, { mode: 0o600 });
    writeFileSync(certFile, pems.cert, { mode: 0o644 });
    log.warn({ certFile }, 'created a self-signed TLS certificate; configure http.tls.keyFile/certFile for production');
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certFile));
  } catch (err) {
    throw new Error(`TLS certificate unreadable: ${certFile}: ${(err as Error).message}`);
  }
  let key;
  try {
    key = createPrivateKey(readFileSync(keyFile));
  } catch (err) {
    throw new Error(`TLS key unreadable: ${keyFile}: ${(err as Error).message}`);
  }
  if (!cert.checkPrivateKey(key)) throw new Error(`TLS key ${keyFile} does not match certificate ${certFile}`);
  if (new Date(cert.validTo).getTime() < Date.now()) log.warn({ certFile, validTo: cert.validTo }, 'TLS certificate has expired');
}

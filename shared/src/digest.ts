import { AppError } from './errors.js';

/**
 * RFC 9530 digests, sha-256 only (gateway: every download's `Repr-Digest`, uploads' announced
 * digests; CLI: checking a download). Other algorithms in a header are ignored, as the RFC lets a
 * recipient do.
 */
export const reprDigest = (sha256Hex: string): string => `sha-256=:${Buffer.from(sha256Hex, 'hex').toString('base64')}:`;

/**
 * The sha-256 (hex) a digest header announces, undefined when it names none. A sha-256 entry that
 * is not `:<base64 of 32 bytes>:` is `bad_request`: an upload must not go unchecked because of a typo.
 */
export function announcedSha256(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  for (const member of value.split(',')) {
    const eq = member.indexOf('=');
    if (eq < 0 || member.slice(0, eq).trim().toLowerCase() !== 'sha-256') continue;
    const m = /^:([A-Za-z0-9+/]+={0,2}):$/.exec(
      member
        .slice(eq + 1)
        .trim()
        .split(';')[0]
        .trim(),
    );
    const bytes = m ? Buffer.from(m[1], 'base64') : undefined;
    if (!bytes || bytes.length !== 32) throw new AppError('bad_request', 'malformed sha-256 digest');
    return bytes.toString('hex');
  }
  return undefined;
}

import { AppError } from '@fileshare/shared';
import type { Exchange } from './exchange.js';

/**
 * RFC 9530 digests: `Repr-Digest` on every download (the whole file's sha-256, also on 206 and
 * HEAD), and a client's `Repr-Digest` / `Content-Digest` on an upload, checked before anything is
 * committed. Only sha-256 is computed here; other algorithms in a client's header are ignored, as
 * the RFC lets a recipient do.
 */
export const reprDigest = (sha256Hex: string): string => `sha-256=:${Buffer.from(sha256Hex, 'hex').toString('base64')}:`;

/**
 * The sha-256 (hex) a digest header announces, undefined when it names none. A sha-256 entry that
 * is not `:<base64 of 32 bytes>:` is 400: an upload must not go unchecked because of a typo.
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

/**
 * What an upload request says its file's sha-256 is: `Repr-Digest`, or (for a body that is the
 * file itself: `raw`) `Content-Digest`. Two that disagree are 400.
 */
export function uploadSha256(ex: Exchange, raw: boolean): string | undefined {
  const repr = announcedSha256(ex.req.headers['repr-digest']);
  const content = raw ? announcedSha256(ex.req.headers['content-digest']) : undefined;
  if (repr && content && repr !== content) throw new AppError('digest_mismatch', 'repr-digest and content-digest differ');
  return repr ?? content;
}

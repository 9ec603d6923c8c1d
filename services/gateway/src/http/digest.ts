import { AppError, announcedSha256 } from '@fileshare/shared';
import type { Exchange } from './exchange.js';

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

import { isId } from '@fileshare/shared';

/** A run of token-id characters as long as a token id (32) or longer: a token, or one with extra bytes. */
const TOKEN_LIKE = /[A-Za-z0-9_-]{32,}/;

/**
 * A request path as it may be logged: every segment that could be a one-time token replaced by
 * `:token`. Applied to every request before anything is logged, whether it was routed or refused
 * on its framing, its method or its size, so that no code path can leak a live token: a segment
 * that follows a `tokens` segment (in any case or percent-encoding) and any segment holding a run of
 * 32 or more token-id characters (other than a session or file UUID) are redacted, matched route or not.
 */
export function redactPath(path: string): string {
  return plainlySafe(path) ? path : redactSegments(path);
}

/**
 * Whether `path` certainly has nothing to redact, found without splitting it (every request's
 * path is redacted for its access line; most are `/…/uploads/<uuid>`): no segment is encoded, 6
 * long (`tokens`) or 32 and longer, but for record ids. False: `redactSegments` decides.
 */
function plainlySafe(path: string): boolean {
  if (path.includes('%')) return false;
  let start = path.indexOf('/');
  if (start < 0) return true;
  while (start < path.length) {
    let end = path.indexOf('/', start + 1);
    if (end < 0) end = path.length;
    const length = end - start - 1;
    if (length === 6 || (length >= 32 && !(length === 36 && isId(path.slice(start + 1, end))))) return false;
    start = end;
  }
  return true;
}

/** The whole rule, segment by segment (see `redactPath`). Exported for the test that holds `plainlySafe` to it. */
export function redactSegments(path: string): string {
  if (!path.includes('/')) return path;
  const segs = path.split('/');
  let changed = false;
  let afterTokens = false;
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i];
    // Shorter than a token and not encoded: neither a token nor (unless 6 long) `tokens`.
    const decoded = seg.length < 32 && !seg.includes('%') ? seg : decodeLoosely(seg);
    if ((afterTokens && seg !== '') || (decoded.length >= 32 && TOKEN_LIKE.test(decoded) && !isId(decoded))) {
      segs[i] = ':token';
      changed = true;
    }
    afterTokens = decoded.length === 6 && decoded.toLowerCase() === 'tokens';
  }
  return changed ? segs.join('/') : path;
}

function decodeLoosely(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

import { UNSAFE_NAME_CHARS } from '@fileshare/shared';

/**
 * `Content-Disposition: attachment` with an ASCII fallback `filename="…"` and the exact name
 * as RFC 5987 `filename*=UTF-8''…`. Both are built by encoding, never by pasting user input
 * into the header: quotes, backslashes, control characters and non-ASCII cannot escape.
 */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_') || 'file';
  return `attachment; filename="${ascii}"; filename*=UTF-8''${rfc5987(name)}`;
}

function rfc5987(s: string): string {
  return encodeURIComponent(s).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/**
 * A stored file name from a client-supplied one: the last path segment (after `/` or `\`),
 * control characters (C0, DEL, C1) and bidi controls removed, at most `maxBytes` of UTF-8 (cut on
 * a character boundary); `file` when nothing is left. The same for JSON and multipart: a long name
 * is cut, never a reason to refuse a file.
 */
export function cleanFileName(raw: string | undefined, maxBytes: number): string {
  let name = (raw ?? '').split(/[/\\]/).pop() ?? '';
  name = name.replace(UNSAFE_NAME_CHARS, '').trim();
  if (name === '.' || name === '..') name = '';
  if (Buffer.byteLength(name) > maxBytes) {
    let out = '';
    for (const ch of name) {
      if (Buffer.byteLength(out + ch) > maxBytes) break;
      out += ch;
    }
    name = out;
  }
  return name || 'file';
}

import { randomFillSync, randomUUID } from 'node:crypto';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** 24 random bytes, base64url: 192 bits, 32 URL-safe characters. */
const TOKEN_ID = /^[A-Za-z0-9_-]{32}$/;

/** Upload, session, file and blob ids: lowercase UUID v4 (122 random bits). */
export const newId = (): string => randomUUID();
export const isId = (s: string): boolean => s.length === 36 && UUID_V4.test(s);

const TOKEN_BYTES = 24;
/**
 * Random bytes for token ids, drawn from the CSPRNG 256 ids at a time (as Node's randomUUID does
 * for UUIDs): one `randomBytes(24)` call cost 7.2 µs here (a getpid syscall among it, OpenSSL's
 * fork check), one id from the pool 0.13 µs. Each id's bytes are used once, never handed out again.
 */
const tokenPool = Buffer.alloc(TOKEN_BYTES * 256);
let tokenPoolAt = tokenPool.length;

/**
 * Download token ids, 32 URL-safe characters: the issuing millisecond (48 bits, the first 8
 * characters), then 144 random bits (the capability: unguessable). Time first, so that tokens
 * issued together are neighbours in the record store's key index (SQLite): a group commit of
 * them then dirties one or two index pages instead of one per token (docs/decisions.md).
 */
export function newTokenId(): string {
  if (tokenPoolAt === tokenPool.length) {
    randomFillSync(tokenPool);
    tokenPoolAt = 0;
  }
  tokenPool.writeUIntBE(Date.now(), tokenPoolAt, 6);
  return tokenPool.toString('base64url', tokenPoolAt, (tokenPoolAt += TOKEN_BYTES));
}
export const isTokenId = (s: string): boolean => TOKEN_ID.test(s);

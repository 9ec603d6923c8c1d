import { randomBytes, randomUUID } from 'node:crypto';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** 24 random bytes, base64url: 192 bits, 32 URL-safe characters. */
const TOKEN_ID = /^[A-Za-z0-9_-]{32}$/;

/** Upload, session, file and blob ids: lowercase UUID v4 (122 random bits). */
export const newId = (): string => randomUUID();
export const isId = (s: string): boolean => s.length === 36 && UUID_V4.test(s);

/** Download token ids: 192 random bits, URL-safe. */
export const newTokenId = (): string => randomBytes(24).toString('base64url');
export const isTokenId = (s: string): boolean => TOKEN_ID.test(s);

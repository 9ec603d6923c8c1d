import { randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes for the users file: `scrypt$N$r$p$<salt b64>$<hash b64>`.
 * N=2^15, r=8, p=1 costs ~60 ms and 32 MiB per check on these machines: cheap enough for a
 * login, far too slow per request, which is why the gateway caches successful checks.
 */
const N = 32768;
const R = 8;
const P = 1;
const KEYLEN = 32;
/** Largest memory one check may take (scrypt's maxmem). */
export const SCRYPT_MAXMEM = 64 * 1024 * 1024;

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, KEYLEN, { N, r: R, p: P, maxmem: SCRYPT_MAXMEM });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * The parameters of an encoded hash, or null when it is malformed. Checking a password against
 * them is the gateway's `PasswordVerifier` (on threads of its own, not libuv's pool).
 */
export interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  expected: Buffer;
}

export function parseHash(encoded: string): ParsedHash | null {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  if (!N || !r || !p || expected.length === 0) return null;
  return { N, r, p, salt, expected };
}

let dummy: Promise<string> | undefined;
/** A well-formed hash of a random password: verified against when a user is unknown, so that
 * an unknown user and a wrong password take the same time. Made on first use. */
export function dummyHash(): Promise<string> {
  return (dummy ??= hashPassword(randomBytes(16).toString('hex')));
}

export interface UserEntry {
  username: string;
  hash: string;
}
export interface UsersFile {
  users: UserEntry[];
}

/** Valid usernames: what fits in Basic auth and a log line. */
export const USERNAME = /^[A-Za-z0-9._@+-]{1,64}$/;

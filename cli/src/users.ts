import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { USERNAME, hashPassword, type UsersFile } from '@fileshare/shared';

/** The users file: `{"users":[{"username","hash"}]}`, hashes only, mode 0600, replaced atomically. */
export function readUsers(file: string): UsersFile {
  if (!existsSync(file)) return { users: [] };
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as UsersFile;
  return { users: Array.isArray(parsed.users) ? parsed.users : [] };
}

function writeUsers(file: string, data: UsersFile): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

export async function addUser(file: string, username: string, password: string): Promise<void> {
  if (!USERNAME.test(username)) throw new Error('a username is 1-64 of A-Z a-z 0-9 . _ @ + -');
  if (password.length < 8) throw new Error('a password needs at least 8 characters');
  const data = readUsers(file);
  const hash = await hashPassword(password);
  data.users = data.users.filter((u) => u.username !== username).concat({ username, hash });
  writeUsers(file, data);
}

export function removeUser(file: string, username: string): boolean {
  const data = readUsers(file);
  const before = data.users.length;
  data.users = data.users.filter((u) => u.username !== username);
  writeUsers(file, data);
  return data.users.length < before;
}

/** A random password for the first-start user: 24 URL-safe characters (144 bits). */
export const randomPassword = () => randomBytes(18).toString('base64url');

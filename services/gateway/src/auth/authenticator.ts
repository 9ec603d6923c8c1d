import { createHmac, randomBytes } from 'node:crypto';
import { promises as fsp, statSync } from 'node:fs';
import { AppError, USERNAME, dummyHash, hashPassword, metrics, type Logger, type UsersFile } from '@fileshare/shared';
import { FailureThrottle } from './throttle.js';
import { PasswordVerifier } from './verifier.js';

export interface AuthOptions {
  enabled: boolean;
  usersFile: string;
  fixedUser?: { username: string; password: string };
  /** Seconds a successful check is remembered. */
  cacheTtl: number;
  maxFailures: number;
  /** Seconds. */
  failureWindow: number;
  /** Password hashes computed at once, on threads of their own (auth.hashThreads). */
  hashThreads: number;
  /** Password checks that may wait for a thread; more get 503 (auth.hashQueue). */
  hashQueue: number;
}

/** Client addresses a cached credential is remembered for (see `authenticate`). */
const CACHE_ADDRESSES = 8;

const CACHE_MAX = 10_000;
const ANONYMOUS = 'anonymous';

/**
 * HTTP Basic against the users file (scrypt hashes) and the handbook's fixed user.
 * - Every password check, the fixed user's included, is one scrypt hash on the verifier's own
 *   threads (`PasswordVerifier`: bounded, fair per address, 503 when full), never on libuv's pool.
 *   An unknown user is checked against a dummy hash: every failed check costs the same.
 * - A successful check is cached for `cacheTtl` under an HMAC of the header with a per-process
 *   key: the cache never holds a password, a busy uploader pays for scrypt once a minute, and a
 *   cached check never waits behind anyone. Concurrent checks of one header share one hash.
 * - Attempts are counted per client address and per user when they start (`FailureThrottle`):
 *   past `maxFailures` failures and checks in flight, 429 + Retry-After. A blocked address gets
 *   429 even for a cached credential (else a guess that is right would answer 2xx: an oracle).
 *   A blocked user name keeps working from the addresses it was verified from, so that guessing
 *   at somebody's name cannot lock them out.
 * - The users file is re-read when its modification time changes.
 */
export class Authenticator {
  private readonly cacheKey = randomBytes(32);
  private readonly cache = new Map<string, { user: string; until: number; from: string[] }>();
  private readonly inFlight = new Map<string, Promise<string | null>>();
  private readonly throttle: FailureThrottle;
  private readonly verifier: PasswordVerifier;
  private users = new Map<string, string>();
  private usersMtime = -1;
  private lastStatCheck = 0;
  private fixed?: { username: string; hash: string };

  constructor(
    private readonly opts: AuthOptions,
    private readonly log: Logger,
  ) {
    this.throttle = new FailureThrottle(opts.maxFailures, opts.failureWindow * 1000);
    this.verifier = new PasswordVerifier({ threads: opts.hashThreads, queue: opts.hashQueue }, log);
  }

  /** Loads the users file; fails when auth is on and nobody could ever log in. */
  async init(): Promise<void> {
    if (!this.opts.enabled) return;
    // The fixed user's password is hashed once, so that checking it costs what any other check costs.
    if (this.opts.fixedUser?.username) this.fixed = { username: this.opts.fixedUser.username, hash: await hashPassword(this.opts.fixedUser.password) };
    await dummyHash();
    await this.reloadUsers(true);
    if (!this.fixed && this.users.size === 0)
      throw new Error(`no users configured: add one with "fileshare user add NAME" (writes ${this.opts.usersFile}) or set simpleUpload.authentication.username/password`);
  }

  private async reloadUsers(force = false): Promise<void> {
    const now = Date.now();
    if (!force && now - this.lastStatCheck < 1000) return;
    this.lastStatCheck = now;
    let mtime: number;
    try {
      mtime = statSync(this.opts.usersFile).mtimeMs;
    } catch {
      this.users = new Map();
      this.usersMtime = -1;
      return;
    }
    if (mtime === this.usersMtime) return;
    try {
      const parsed = JSON.parse(await fsp.readFile(this.opts.usersFile, 'utf8')) as UsersFile;
      this.users = new Map((parsed.users ?? []).filter((u) => USERNAME.test(u.username) && typeof u.hash === 'string').map((u) => [u.username, u.hash]));
      this.usersMtime = mtime;
      this.cache.clear(); // a removed user or a changed password takes effect now
      this.log.info({ users: this.users.size, file: this.opts.usersFile }, 'users file loaded');
    } catch (err) {
      this.log.error({ err: String(err), file: this.opts.usersFile }, 'users file unreadable; keeping the previous users');
    }
  }

  /**
   * The authenticated user name, or a 401/429 `AppError`.
   * @param header the raw Authorization header ('' when absent)
   * @param client the client address, for throttling
   */
  async authenticate(header: string, client: string): Promise<string> {
    if (!this.opts.enabled) return ANONYMOUS;
    if (!header) throw new AppError('authentication_required', undefined, { 'WWW-Authenticate': 'Basic realm="fileshare", charset="UTF-8"' });
    const key = createHmac('sha256', this.cacheKey).update(header).digest('base64');
    let hit = this.cache.get(key);
    if (hit && hit.until <= Date.now()) hit = undefined;

    const creds = parseBasic(header);
    const blocked = this.throttle.blockedFor(client, creds?.username);
    const knownHere = hit?.from.includes(client) ?? false;
    if (blocked.client > 0 || (blocked.user > 0 && !knownHere)) {
      metrics.authRefused.inc({ reason: 'throttled' });
      throw new AppError('too_many_failures', undefined, { 'Retry-After': String(Math.max(blocked.client, knownHere ? 0 : blocked.user)) });
    }
    if (hit) return this.remember(key, hit.user, client);

    let check = this.inFlight.get(key);
    if (!check) {
      this.throttle.begin(client, creds?.username);
      check = this.verify(creds, client)
        .then(
          (user) => (this.throttle.end(client, creds?.username, !user), user),
          (err: unknown) => {
            this.throttle.end(client, creds?.username, false);
            throw err;
          },
        )
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, check);
    }
    const user = await check;
    if (!user) {
      metrics.authFailures.inc();
      throw new AppError('invalid_credentials');
    }
    return this.remember(key, user, client);
  }

  /**
   * A checked credential: cached under `key` (for `cacheTtl` from its first check), with `client`
   * among the last `CACHE_ADDRESSES` addresses it was used from.
   */
  private remember(key: string, user: string, client: string): string {
    let entry = this.cache.get(key);
    if (!entry || entry.until <= Date.now()) {
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
      entry = { user, until: Date.now() + this.opts.cacheTtl * 1000, from: [] };
      this.cache.set(key, entry);
    }
    if (!entry.from.includes(client)) {
      entry.from.push(client);
      if (entry.from.length > CACHE_ADDRESSES) entry.from.shift();
    }
    return user;
  }

  /** Stops the verifier's threads. */
  close(): Promise<void> {
    return this.verifier.close();
  }

  private async verify(creds: { username: string; password: string } | null, client: string): Promise<string | null> {
    if (!creds) return null;
    await this.reloadUsers();
    const { username, password } = creds;
    const hash = this.fixed && username === this.fixed.username ? this.fixed.hash : this.users.get(username);
    const ok = await this.verifier.verify(password, hash ?? (await dummyHash()), client);
    return ok && hash ? username : null;
  }
}

/** `Basic base64(user:pass)`; null when malformed (no scheme, bad base64, no colon, not UTF-8). */
export function parseBasic(header: string): { username: string; password: string } | null {
  const m = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (!m || m[1].length > 4096) return null;
  const raw = Buffer.from(m[1], 'base64');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return null;
  }
  const i = text.indexOf(':');
  if (i <= 0) return null;
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

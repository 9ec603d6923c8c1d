import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp, statSync } from 'node:fs';
import { AppError, USERNAME, dummyHash, metrics, verifyPassword, type Logger, type UsersFile } from '@fileshare/shared';
import { FailureThrottle } from './throttle.js';

export interface AuthOptions {
  enabled: boolean;
  usersFile: string;
  fixedUser?: { username: string; password: string };
  /** Seconds a successful check is remembered. */
  cacheTtl: number;
  maxFailures: number;
  /** Seconds. */
  failureWindow: number;
}

const CACHE_MAX = 10_000;
const ANONYMOUS = 'anonymous';

/**
 * HTTP Basic against the users file (scrypt hashes) and the handbook's fixed user.
 * - A successful check is cached for `cacheTtl` under an HMAC of the header with a per-process
 *   key: the cache never holds a password, and a busy uploader pays for scrypt once a minute.
 *   Concurrent checks of one header share one scrypt run.
 * - An unknown user is checked against a dummy hash, so it costs what a wrong password costs.
 * - Failures are counted per client address and per user; past the limit, 429 + Retry-After.
 * - The users file is re-read when its modification time changes.
 */
export class Authenticator {
  private readonly cacheKey = randomBytes(32);
  private readonly cache = new Map<string, { user: string; until: number }>();
  private readonly inFlight = new Map<string, Promise<string | null>>();
  private readonly throttle: FailureThrottle;
  private users = new Map<string, string>();
  private usersMtime = -1;
  private lastStatCheck = 0;
  private readonly fixed?: { username: string; digest: Buffer };

  constructor(
    private readonly opts: AuthOptions,
    private readonly log: Logger,
  ) {
    this.throttle = new FailureThrottle(opts.maxFailures, opts.failureWindow * 1000);
    if (opts.fixedUser?.username) {
      this.fixed = { username: opts.fixedUser.username, digest: sha256(opts.fixedUser.password) };
    }
  }

  /** Loads the users file; fails when auth is on and nobody could ever log in. */
  async init(): Promise<void> {
    if (!this.opts.enabled) return;
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
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.user;

    const creds = parseBasic(header);
    const retryAfter = this.throttle.blockedFor(client, creds?.username);
    if (retryAfter > 0) throw new AppError('too_many_failures', undefined, { 'Retry-After': String(retryAfter) });

    let check = this.inFlight.get(key);
    if (!check) {
      check = this.verify(creds).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, check);
    }
    const user = await check;
    if (!user) {
      metrics.authFailures.inc();
      this.throttle.fail(client, creds?.username);
      throw new AppError('invalid_credentials');
    }
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { user, until: Date.now() + this.opts.cacheTtl * 1000 });
    return user;
  }

  private async verify(creds: { username: string; password: string } | null): Promise<string | null> {
    if (!creds) return null;
    await this.reloadUsers();
    const { username, password } = creds;
    if (this.fixed && username === this.fixed.username) {
      return timingSafeEqual(sha256(password), this.fixed.digest) ? username : null;
    }
    const hash = this.users.get(username);
    const ok = await verifyPassword(password, hash ?? (await dummyHash()));
    return ok && hash ? username : null;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
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

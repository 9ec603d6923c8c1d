import {
  AppError,
  BoundedMap,
  deliveredWhole,
  COMMANDS,
  EVENTS,
  isAppError,
  metrics,
  newTokenId,
  DELIVERY_LEASE_MS,
  WatchedRecords,
  type Bus,
  type FileRecord,
  type Logger,
  type Store,
  type TokenFinish,
  type TokenGrant,
  type TokenIssue,
  type TokenRecord,
  type TokenRef,
  type FileRef,
} from '@fileshare/shared';
import { covers, mergeRange, type Coverage } from './coverage.js';

const tokenKey = (id: string) => `token:${id}`;
/** Claimed once the file has been delivered: every later request is 410. */
const usedKey = (id: string) => `token:${id}:used`;
/** Held while one delivery is in flight (any gateway): a second is 409. */
const leaseKey = (id: string) => `token:${id}:lease`;
/** What deliveries that did not complete left: attempts counted, bytes covered. */
const deliveryKey = (id: string) => `token:${id}:delivery`;

/** How long a request waits for another delivery of the same token to end before it is 409. */
const WAIT_MS = 1_000;

interface Delivery {
  /** Deliveries that started and did not complete. */
  attempts: number;
  covered: Coverage;
}

export interface TokenOptions {
  /** Seconds a token record outlives its expiry, so that late requests get 410, not 404. */
  tombstoneTtl: number;
  /** Deliveries that may start and not complete before the token is refused (410). */
  maxAttempts: number;
  /** Ready session files kept in memory (0: none), and for how long (ms) at most: see `fileOf`. */
  fileRecords: number;
  fileRecordMaxAge: number;
}

/**
 * Issues one-time download tokens and counts their deliveries. A token is spent when the whole
 * file has been delivered to a client: one response that completed, or Range responses that
 * together covered every byte (a broken download resumed). One delivery at a time, across
 * gateways: a lease in the store, renewed while the bytes flow, lapsing if a gateway dies. A
 * response cut short costs an attempt; `maxAttempts` of them and the token is refused. HEAD, 304
 * and 416 never begin a delivery. Spending is one atomic claim on the store, taken under the
 * lease: of any number of requests exactly one delivery completes.
 * Token ids are 192-bit random capabilities: they are never logged and never put in events.
 */
export class TokenService {
  /**
   * Deliveries this process began, until it hears how they ended (usually it does: one gateway
   * asks both; a finish on another replica reads the record instead). Bounded like a cache.
   */
  private readonly begun = new BoundedMap<string, { token: TokenRecord; fresh: boolean }>(10_000);
  /**
   * Ready session files, as storage answered them: a file is shared through many tokens (a chat
   * attachment, one link per recipient), and every issue and every download checks it. A ready
   * file never changes; it is dropped when its file or session is deleted (the events name it),
   * and a hit past its expiresAt (its session's) asks storage again.
   */
  private readonly files: WatchedRecords<FileRecord>;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly opts: TokenOptions,
  ) {
    this.files = new WatchedRecords(bus, {
      maxItems: opts.fileRecords,
      maxAgeMs: opts.fileRecordMaxAge,
      expiresAt: (f) => f.expiresAt,
      keeps: (f) => f.state === 'ready',
      // Every issue and download reaches this service as a command, behind the events before it.
      requestsOnBus: true,
    });
  }

  /** Starts watching what drops kept files; before `serve`. */
  async start(): Promise<void> {
    await this.files.watch(EVENTS.fileDeleted, (e) => (f) => f.id === e.fileId);
    await this.files.watch(EVENTS.sessionDeleted, (e) => (f) => f.sessionId === e.sessionId);
    this.serve();
  }

  /**
   * The session file, as storage's `file.get` answers it: with `owner`, the owner's only (the
   * same errors for anyone else); kept apart from internal lookups for that reason.
   */
  private fileOf(ref: FileRef): Promise<FileRecord> {
    return this.files.get(`${ref.owner ?? ''}/${ref.sessionId}/${ref.fileId}`, () => this.bus.request(COMMANDS.fileGet, ref));
  }

  private serve(): void {
    this.bus.serve(COMMANDS.tokenIssue, 'tokens', (b) => this.issue(b));
    this.bus.serve(COMMANDS.tokenBegin, 'tokens', (b) => this.begin(b));
    this.bus.serve(COMMANDS.tokenRenew, 'tokens', async (b) => void (await this.store.renew(leaseKey(b.tokenId), DELIVERY_LEASE_MS)));
    this.bus.serve(COMMANDS.tokenFinish, 'tokens', (b) => this.finish(b));
    this.bus.serve(COMMANDS.tokenPeek, 'tokens', (b) => this.check(b));
    this.bus.serve(COMMANDS.tokensPing, 'tokens', async () => (await this.store.ping(), { ok: true }));
  }

  async issue(b: TokenIssue): Promise<TokenRecord> {
    const file = await this.fileOf({ owner: b.owner, sessionId: b.sessionId, fileId: b.fileId });
    if (file.state !== 'ready') throw new AppError('file_not_ready');
    const now = Date.now();
    const rec: TokenRecord = {
      id: newTokenId(),
      sessionId: file.sessionId,
      fileId: file.id,
      owner: file.owner,
      createdAt: now,
      // Never outlives its session.
      expiresAt: Math.min(now + b.ttl * 1000, file.expiresAt),
    };
    await this.store.set(tokenKey(rec.id), rec, this.keep(rec));
    metrics.tokens.inc({ outcome: 'issued' });
    this.bus.announce(EVENTS.tokenIssued, {
      sessionId: rec.sessionId,
      fileId: rec.fileId,
      owner: rec.owner,
      expiresAt: new Date(rec.expiresAt).toISOString(),
      at: new Date(now).toISOString(),
    });
    return rec;
  }

  /** Everything a download checks, without beginning one (HEAD). */
  async check(b: TokenRef, known?: TokenRecord): Promise<TokenGrant & { token: TokenRecord }> {
    const token = known ?? (await this.store.get<TokenRecord>(tokenKey(b.tokenId)));
    if (!token || token.sessionId !== b.sessionId || token.fileId !== b.fileId) throw new AppError('token_not_found');
    let file: FileRecord;
    try {
      file = await this.fileOf({ sessionId: b.sessionId, fileId: b.fileId });
    } catch (err) {
      // The session's own state wins; a file or session deleted by its owner takes its tokens along.
      if (isAppError(err) && err.code === 'session_expired') throw err;
      if (isAppError(err) && (err.code === 'session_not_found' || err.code === 'file_not_found')) throw new AppError('token_not_found');
      throw err;
    }
    if (await this.store.claimed(usedKey(token.id))) throw this.refused(token, 'used');
    if (Date.now() >= token.expiresAt) throw this.refused(token, 'expired');
    return { token, file };
  }

  /**
   * A delivery begins: the token's lease first (waiting a moment for one in flight to end, so a
   * request right after a completed delivery hears 410, not 409), then everything a download
   * checks, and the attempts left.
   */
  async begin(b: TokenRef): Promise<TokenGrant> {
    try {
      const token = await this.store.get<TokenRecord>(tokenKey(b.tokenId));
      if (!token || token.sessionId !== b.sessionId || token.fileId !== b.fileId) throw new AppError('token_not_found');
      const until = Date.now() + WAIT_MS;
      while (!(await this.store.lease(leaseKey(token.id), DELIVERY_LEASE_MS))) {
        if (await this.store.claimed(usedKey(token.id))) throw this.refused(token, 'used');
        if (Date.now() > until) throw new AppError('token_in_use');
        await new Promise((r) => setTimeout(r, 20));
      }
      try {
        // The delivery record is read only when an earlier delivery left one (rare): the usual path is one read less.
        const [{ file }, d] = await Promise.all([this.check(b, token), token.pieces ? this.store.get<Delivery>(deliveryKey(token.id)) : undefined]);
        if (d && d.attempts >= this.opts.maxAttempts) throw this.refused(token, 'attempts');
        this.begun.set(token.id, { token, fresh: !d });
        return { file };
      } catch (err) {
        await this.store.release(leaseKey(token.id));
        throw err;
      }
    } catch (err) {
      metrics.tokens.inc({ outcome: 'refused' });
      throw err;
    }
  }

  /**
   * A delivery ended (the lease holder says what was sent): bytes covered are merged, a cut
   * response costs an attempt, and the token is spent once every byte was covered. Only the lease
   * holder writes a token's delivery record, so it needs no lock. A spent token keeps its lease
   * until it lapses (waiters see it spent); any other outcome gives the lease back.
   */
  async finish(b: TokenFinish): Promise<{ spent: boolean }> {
    let spent = false;
    try {
      const begun = this.begun.get(b.tokenId);
      this.begun.delete(b.tokenId);
      const token = begun?.token ?? (await this.store.get<TokenRecord>(tokenKey(b.tokenId)));
      if (!token || !b.sent) return { spent };
      // The usual case, one complete response of a fresh token, needs no delivery record at all.
      const whole = deliveredWhole(b.sent, b.size);
      const d = whole && begun?.fresh ? undefined : ((await this.store.get<Delivery>(deliveryKey(token.id))) ?? { attempts: 0, covered: [] });
      if (d && !b.sent.complete) d.attempts++;
      if (d && b.sent.bytes > 0) d.covered = mergeRange(d.covered, [b.sent.start, b.sent.start + b.sent.bytes - 1]);
      spent = whole || covers(d!.covered, b.size);
      if (!spent) {
        await this.store.set(deliveryKey(token.id), d, this.keep(token));
        if (!token.pieces) await this.store.set(tokenKey(token.id), { ...token, pieces: true }, this.keep(token));
        return { spent };
      }
      await this.store.claim(usedKey(token.id), this.keep(token));
      if (d) await this.store.delete(deliveryKey(token.id));
      metrics.tokens.inc({ outcome: 'consumed' });
      this.bus.announce(EVENTS.tokenDelivered, { sessionId: token.sessionId, fileId: token.fileId, owner: token.owner, at: new Date().toISOString() });
      return { spent };
    } finally {
      if (!spent) await this.store.release(leaseKey(b.tokenId));
    }
  }

  /** Milliseconds a token's records are kept: its life, then its tombstone. */
  private keep(token: TokenRecord): number {
    return Math.max(1, token.expiresAt - Date.now() + this.opts.tombstoneTtl * 1000);
  }

  private refused(token: TokenRecord, reason: 'used' | 'expired' | 'attempts'): AppError {
    this.bus.announce(EVENTS.tokenRefused, { sessionId: token.sessionId, fileId: token.fileId, owner: token.owner, reason, at: new Date().toISOString() });
    return new AppError(reason === 'expired' ? 'token_expired' : 'token_used');
  }
}

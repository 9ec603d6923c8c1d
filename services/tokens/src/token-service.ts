import {
  AppError,
  COMMANDS,
  EVENTS,
  isAppError,
  metrics,
  newTokenId,
  type Bus,
  type FileRecord,
  type Logger,
  type Store,
  type TokenGrant,
  type TokenIssue,
  type TokenRecord,
  type TokenRef,
} from '@fileshare/shared';

const tokenKey = (id: string) => `token:${id}`;
const usedKey = (id: string) => `token:${id}:used`;

export interface TokenOptions {
  /** Seconds a token record outlives its expiry, so that late requests get 410, not 404. */
  tombstoneTtl: number;
}

/**
 * Issues and consumes one-time download tokens. Consuming is one atomic claim on the store
 * (`SET NX` / `INSERT .. ON CONFLICT`), so of any number of concurrent downloads of one token,
 * across any number of gateways, exactly one wins. Token ids are 192-bit random capabilities:
 * they are never logged and never put in events.
 */
export class TokenService {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly opts: TokenOptions,
  ) {}

  serve(): void {
    this.bus.serve(COMMANDS.tokenIssue, 'tokens', (b) => this.issue(b));
    this.bus.serve(COMMANDS.tokenConsume, 'tokens', (b) => this.consume(b));
    this.bus.serve(COMMANDS.tokenPeek, 'tokens', (b) => this.check(b));
    this.bus.serve(COMMANDS.tokensPing, 'tokens', async () => (await this.store.ping(), { ok: true }));
  }

  async issue(b: TokenIssue): Promise<TokenRecord> {
    const file = await this.bus.request(COMMANDS.fileGet, { owner: b.owner, sessionId: b.sessionId, fileId: b.fileId });
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
    await this.store.set(tokenKey(rec.id), rec, rec.expiresAt - now + this.opts.tombstoneTtl * 1000);
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

  /** Everything a download checks, without consuming (HEAD). */
  async check(b: TokenRef): Promise<TokenGrant & { token: TokenRecord }> {
    const token = await this.store.get<TokenRecord>(tokenKey(b.tokenId));
    if (!token || token.sessionId !== b.sessionId || token.fileId !== b.fileId) throw new AppError('token_not_found');
    let file: FileRecord;
    try {
      file = await this.bus.request(COMMANDS.fileGet, { sessionId: b.sessionId, fileId: b.fileId });
    } catch (err) {
      // The session's own state wins; a file or session deleted by its owner takes its tokens along.
      if (isAppError(err) && err.code === 'session_expired') throw err;
      if (isAppError(err) && (err.code === 'session_not_found' || err.code === 'file_not_found')) throw new AppError('token_not_found');
      throw err;
    }
    if (await this.store.claimed(usedKey(token.id))) throw new AppError('token_used');
    if (Date.now() >= token.expiresAt) throw new AppError('token_expired');
    return { token, file };
  }

  /** Check, then claim: only the caller whose claim succeeds gets the file. */
  async consume(b: TokenRef): Promise<TokenGrant> {
    try {
      const { token, file } = await this.check(b);
      const ttl = token.expiresAt - Date.now() + this.opts.tombstoneTtl * 1000;
      if (!(await this.store.claim(usedKey(token.id), ttl))) throw new AppError('token_used');
      metrics.tokens.inc({ outcome: 'consumed' });
      this.bus.announce(EVENTS.tokenConsumed, { sessionId: token.sessionId, fileId: token.fileId, owner: token.owner, at: new Date().toISOString() });
      return { file };
    } catch (err) {
      metrics.tokens.inc({ outcome: 'refused' });
      throw err;
    }
  }
}

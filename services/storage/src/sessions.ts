import { AppError, EVENTS, newId, type Bus, type OwnedId, type SessionCreate, type SessionRecord, type Store } from '@fileshare/shared';
import type { FileRecords } from './files.js';
import { keys } from './keys.js';

/**
 * A session, owner's or internal lookup (`owner` undefined: the tokens service, no ownership
 * check). 404 unknown or someone else's, 410 expired (a tombstone, or past its time).
 */
export async function readSession(store: Store, id: string, owner?: string): Promise<SessionRecord> {
  const rec = await store.get<SessionRecord>(keys.session(id));
  if (!rec) {
    const tomb = await store.get<{ owner: string }>(keys.tomb('session', id));
    if (tomb && (owner === undefined || tomb.owner === owner)) throw new AppError('session_expired');
    throw new AppError('session_not_found');
  }
  if (owner !== undefined && rec.owner !== owner) throw new AppError('session_not_found');
  if (Date.now() >= rec.expiresAt) throw new AppError('session_expired');
  return rec;
}

/** Sessions' records: created with their expiry entry, listed per owner, removed with their files. */
export class SessionRecords {
  constructor(
    private readonly store: Store,
    private readonly files: FileRecords,
    private readonly bus: Bus,
  ) {}

  async create(b: SessionCreate): Promise<SessionRecord> {
    const now = Date.now();
    const rec: SessionRecord = { id: newId(), owner: b.owner, ttl: b.ttl, createdAt: now, expiresAt: now + b.ttl * 1000 };
    await this.store.schedule(keys.session(rec.id), rec.expiresAt);
    await this.store.set(keys.session(rec.id), rec);
    await this.store.addMember(keys.userSessions(b.owner), rec.id);
    this.bus.announce(EVENTS.sessionCreated, { sessionId: rec.id, owner: rec.owner, expiresAt: new Date(rec.expiresAt).toISOString(), at: new Date(now).toISOString() });
    return rec;
  }

  get(id: string, owner?: string): Promise<SessionRecord> {
    return readSession(this.store, id, owner);
  }

  /** The owner's sessions not yet expired, oldest first. */
  async list(owner: string): Promise<SessionRecord[]> {
    const ids = await this.store.members(keys.userSessions(owner));
    const recs = await Promise.all(ids.map((id) => this.store.get<SessionRecord>(keys.session(id))));
    const now = Date.now();
    return recs.filter((r): r is SessionRecord => !!r && r.owner === owner && r.expiresAt > now).sort((a, b) => a.createdAt - b.createdAt);
  }

  async delete(b: OwnedId): Promise<void> {
    const s = await this.get(b.id, b.owner);
    await this.remove(s);
    this.bus.announce(EVENTS.sessionDeleted, { sessionId: s.id, owner: s.owner, at: new Date().toISOString() });
  }

  /**
   * The session record first (from then on new file entries and commits see the session gone and
   * clean up after themselves), then each file under its lock (bytes first), then the sets.
   * Idempotent; a crash midway leaves files whose own expiry entries remove them later. Returns
   * the bytes freed.
   */
  async remove(s: SessionRecord): Promise<number> {
    await this.store.delete(keys.session(s.id));
    await this.store.removeMember(keys.userSessions(s.owner), s.id);
    let bytes = 0;
    for (const fileId of await this.store.members(keys.sessionFiles(s.id))) bytes += await this.files.removeById(fileId);
    await this.store.deleteSet(keys.sessionFiles(s.id));
    await this.store.unschedule(keys.session(s.id));
    return bytes;
  }
}

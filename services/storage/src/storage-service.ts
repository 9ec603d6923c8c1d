import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  AppError,
  COMMANDS,
  EVENTS,
  newId,
  type Bus,
  type BlobWriter,
  type BlobSink,
  type ByteRange,
  type DataPlane,
  type ExpireItem,
  type FileCommit,
  type FileCreate,
  type FileRecord,
  type FileRef,
  type Logger,
  type OwnedId,
  type SessionCreate,
  type SessionRecord,
  type Store,
  type StoredBlob,
  type UploadCreate,
  type UploadMeta,
  type UploadRecord,
  type UploadWriter,
  sendReadable,
} from '@fileshare/shared';
import type { BlobStore } from './blob/blob-store.js';

/** Store keys owned by storage. Everything else in the store belongs to another service. */
const K = {
  upload: (id: string) => `upload:${id}`,
  session: (id: string) => `session:${id}`,
  file: (id: string) => `file:${id}`,
  tomb: (kind: 'upload' | 'session', id: string) => `tomb:${kind}:${id}`,
  userSessions: (owner: string) => `user:${owner}:sessions`,
  sessionFiles: (id: string) => `session:${id}:files`,
  commit: (fileId: string) => `commit:${fileId}`,
  /** Which file a committed blob belongs to (lets an orphan guard left by a crash see it is not an orphan). */
  blobRef: (key: string) => `blobref:${key}`,
};

export interface StorageOptions {
  /** Seconds an expired item answers 410 rather than 404. */
  tombstoneTtl: number;
  /** Seconds after which uncommitted bytes (a crashed upload) are deleted. */
  orphanGrace: number;
}

/**
 * Owns file bytes and the upload/session/file records. Serves the `storage.*` commands and,
 * as a `DataPlane`, the byte streams. Invariants:
 * - bytes are durable before a record points at them; a record is scheduled for expiry before
 *   it is written, so a crash never leaves a record that nothing will expire;
 * - bytes not (yet) referenced by a record carry an orphan guard (`blob:<key>` in the expiry
 *   index) that is removed on commit, so a crashed upload's bytes are deleted later;
 * - expiry deletes bytes, then writes the tombstone, then deletes the record.
 */
export class StorageService implements DataPlane {
  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly opts: StorageOptions,
  ) {}

  /** Registers every `storage.*` command on the bus. */
  serve(): void {
    const q = 'storage';
    const serve = (subject: string, fn: (body: any) => Promise<unknown>) => this.bus.serve(subject, q, fn);
    serve(COMMANDS.uploadCreate, (b: UploadCreate) => this.recordUpload(b, b.blob)); // older gateways
    serve(COMMANDS.blobDiscard, (b: { key: string }) => this.discardBlob(b.key)); // older gateways
    serve(COMMANDS.uploadGet, (b: { id: string }) => this.getUpload(b.id));
    serve(COMMANDS.uploadDelete, (b: OwnedId) => this.deleteUpload(b));
    serve(COMMANDS.sessionCreate, (b: SessionCreate) => this.createSession(b));
    serve(COMMANDS.sessionGet, (b: OwnedId) => this.getSession(b.id, b.owner));
    serve(COMMANDS.sessionList, (b: { owner: string }) => this.listSessions(b.owner));
    serve(COMMANDS.sessionDelete, (b: OwnedId) => this.deleteSession(b));
    serve(COMMANDS.fileCreate, (b: FileCreate) => this.createFile(b));
    serve(COMMANDS.fileGet, (b: FileRef) => this.getFile(b));
    serve(COMMANDS.fileCommit, (b: FileCommit) => this.commitFile(b));
    serve(COMMANDS.fileList, (b: OwnedId) => this.listFiles(b));
    serve(COMMANDS.fileDelete, (b: FileRef) => this.deleteFile(b));
    serve(COMMANDS.expire, (b: ExpireItem) => this.expire(b.item));
    serve(COMMANDS.storagePing, async () => (await this.ping(), { ok: true }));
  }

  // ---------------------------------------------------------------- data plane

  /**
   * Serialises work on one file across every storage replica (a store claim with a TTL, so the
   * lock of a replica that died lapses). Commit and removal of the same file never interleave:
   * without it, a session deletion could remove a stale pending record while a commit wrote the
   * ready one, leaving bytes no record and no expiry would ever delete.
   */
  private async withFileLock<T>(fileId: string, fn: () => Promise<T>): Promise<T> {
    const key = `lock:file:${fileId}`;
    const until = Date.now() + 10_000;
    while (!(await this.store.claim(key, 30_000))) {
      if (Date.now() > until) throw new AppError('unavailable');
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
    }
    try {
      return await fn();
    } finally {
      await this.store.release(key).catch(() => undefined);
    }
  }

  /** Writers not yet settled: shutdown waits for them, so a cut upload has removed its bytes. */
  private readonly writing = new Set<Promise<unknown>>();

  /** Resolves when every blob being written has finished or cleaned up after itself. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.writing]);
  }

  createBlob(opts: { maxBytes: number }): BlobWriter {
    const key = newId();
    const guard = `blob:${key}`;
    const writer = this.blobs.create(key, {
      maxBytes: opts.maxBytes,
      onStart: () => this.store.schedule(guard, Date.now() + this.opts.orphanGrace * 1000),
    });
    // An aborted write removed its bytes itself; drop the guard too.
    const settled = writer.done.then(
      () => undefined,
      () => finished(writer).catch(() => undefined).then(() => this.store.unschedule(guard)).catch(() => undefined),
    );
    this.writing.add(settled);
    void settled.finally(() => this.writing.delete(settled));
    return writer;
  }

  readBlob(key: string, range?: ByteRange): Promise<Readable> {
    return this.blobs.open(key, range);
  }

  async sendBlob(key: string, range: ByteRange, sink: BlobSink): Promise<void> {
    if (this.blobs.sendRange) return this.blobs.sendRange(key, range, sink);
    sendReadable(await this.blobs.open(key, range), sink);
  }

  async ping(): Promise<void> {
    await Promise.all([this.store.ping(), this.blobs.ping()]);
  }

  private async discardBlob(key: string): Promise<void> {
    await this.blobs.delete(key);
    await this.store.unschedule(`blob:${key}`);
  }

  private async publish(subject: string, event: Record<string, unknown>): Promise<void> {
    // The record is committed already: a lost event must not turn a stored file into an error.
    await this.bus.publish(subject, { ...event, at: new Date().toISOString() }).catch((err) => this.log.error({ err, subject }, 'event not published'));
  }

  // ---------------------------------------------------------------- uploads

  /**
   * `POST /uploads` (the data plane's `createUpload`): the blob, then, once it is durable and the
   * gateway has read the whole form (`meta`), its record. Bytes that get no record are discarded.
   */
  createUpload(opts: { maxBytes: number; meta: Promise<UploadMeta> }): UploadWriter {
    opts.meta.catch(() => undefined); // awaited once the bytes are durable; a refusal before must not go unhandled
    const writer = this.createBlob({ maxBytes: opts.maxBytes });
    const record = writer.done.then((blob) =>
      opts.meta
        .then((meta) => this.recordUpload(meta, blob))
        .catch(async (err) => {
          await this.discardBlob(blob.key).catch((e) => this.log.error({ err: e, key: blob.key }, 'could not discard blob; the orphan guard will'));
          throw err;
        }),
    );
    record.catch(() => undefined); // the owner awaits it
    return Object.assign(writer, { record });
  }

  private async recordUpload(meta: UploadMeta, blob: StoredBlob): Promise<UploadRecord> {
    const now = Date.now();
    // The upload takes the blob's key as its id: expiry can delete the bytes from the id alone.
    const rec: UploadRecord = {
      id: blob.key,
      owner: meta.owner,
      name: meta.name,
      contentType: meta.contentType,
      size: blob.size,
      sha256: blob.sha256,
      blob: blob.key,
      ttl: meta.ttl,
      createdAt: now,
      expiresAt: now + meta.ttl * 1000,
    };
    // One round trip: the three are issued together (the Redis client pipelines them; SQLite
    // commits them as one group) and the store applies them in the order they reach it. The
    // record's own expiry entry is issued first; from then on it covers the bytes too (an upload
    // item without a record deletes the blob of the same id), so nothing here may be lost by a
    // crash at any point.
    await Promise.all([this.store.schedule(K.upload(rec.id), rec.expiresAt), this.store.set(K.upload(rec.id), rec), this.store.unschedule(`blob:${rec.blob}`)]);
    await this.publish(EVENTS.uploadStored, { uploadId: rec.id, owner: rec.owner, size: rec.size, sha256: rec.sha256, expiresAt: new Date(rec.expiresAt).toISOString() });
    return rec;
  }

  /** No owner check: a download URL is the capability. */
  async getUpload(id: string): Promise<UploadRecord> {
    const rec = await this.store.get<UploadRecord>(K.upload(id));
    if (!rec) {
      if (await this.store.get(K.tomb('upload', id))) throw new AppError('upload_expired');
      throw new AppError('upload_not_found');
    }
    if (Date.now() >= rec.expiresAt) throw new AppError('upload_expired');
    return rec;
  }

  async deleteUpload(b: OwnedId): Promise<void> {
    const rec = await this.getUpload(b.id);
    if (rec.owner !== b.owner) throw new AppError('upload_not_found');
    await this.blobs.delete(rec.blob);
    await this.store.delete(K.upload(rec.id));
    await this.store.unschedule(K.upload(rec.id));
    await this.publish(EVENTS.uploadDeleted, { uploadId: rec.id, owner: rec.owner });
  }

  // ---------------------------------------------------------------- sessions

  async createSession(b: SessionCreate): Promise<SessionRecord> {
    const now = Date.now();
    const rec: SessionRecord = { id: newId(), owner: b.owner, ttl: b.ttl, createdAt: now, expiresAt: now + b.ttl * 1000 };
    await this.store.schedule(K.session(rec.id), rec.expiresAt);
    await this.store.set(K.session(rec.id), rec);
    await this.store.addMember(K.userSessions(b.owner), rec.id);
    await this.publish(EVENTS.sessionCreated, { sessionId: rec.id, owner: rec.owner, expiresAt: new Date(rec.expiresAt).toISOString() });
    return rec;
  }

  /** `owner` undefined: internal lookup (tokens service), no ownership check. */
  async getSession(id: string, owner?: string): Promise<SessionRecord> {
    const rec = await this.store.get<SessionRecord>(K.session(id));
    if (!rec) {
      const tomb = await this.store.get<{ owner: string }>(K.tomb('session', id));
      if (tomb && (owner === undefined || tomb.owner === owner)) throw new AppError('session_expired');
      throw new AppError('session_not_found');
    }
    if (owner !== undefined && rec.owner !== owner) throw new AppError('session_not_found');
    if (Date.now() >= rec.expiresAt) throw new AppError('session_expired');
    return rec;
  }

  async listSessions(owner: string): Promise<SessionRecord[]> {
    const ids = await this.store.members(K.userSessions(owner));
    const recs = await Promise.all(ids.map((id) => this.store.get<SessionRecord>(K.session(id))));
    const now = Date.now();
    return recs.filter((r): r is SessionRecord => !!r && r.owner === owner && r.expiresAt > now).sort((a, b) => a.createdAt - b.createdAt);
  }

  async deleteSession(b: OwnedId): Promise<void> {
    const s = await this.getSession(b.id, b.owner);
    await this.removeSession(s);
    await this.publish(EVENTS.sessionDeleted, { sessionId: s.id, owner: s.owner });
  }

  /**
   * The session record first (from then on new file entries and commits see the session gone and
   * clean up after themselves), then each file under its lock (bytes first), then the sets.
   * Idempotent; a crash midway leaves files whose own expiry entries remove them later.
   */
  private async removeSession(s: SessionRecord): Promise<number> {
    await this.store.delete(K.session(s.id));
    await this.store.removeMember(K.userSessions(s.owner), s.id);
    let bytes = 0;
    for (const fileId of await this.store.members(K.sessionFiles(s.id))) {
      bytes += await this.withFileLock(fileId, async () => {
        const f = await this.store.get<FileRecord>(K.file(fileId));
        if (f) return this.removeFile(f);
        await this.store.unschedule(K.file(fileId));
        return 0;
      });
    }
    await this.store.deleteSet(K.sessionFiles(s.id));
    await this.store.unschedule(K.session(s.id));
    return bytes;
  }

  // ---------------------------------------------------------------- session files

  async createFile(b: FileCreate): Promise<FileRecord> {
    const s = await this.getSession(b.sessionId, b.owner);
    const rec: FileRecord = {
      id: newId(),
      sessionId: s.id,
      owner: s.owner,
      name: b.name,
      contentType: b.contentType,
      size: b.size,
      state: 'pending',
      sha256: null,
      blob: null,
      createdAt: Date.now(),
      expiresAt: s.expiresAt,
    };
    await this.store.schedule(K.file(rec.id), rec.expiresAt);
    await this.store.set(K.file(rec.id), rec);
    await this.store.addMember(K.sessionFiles(s.id), rec.id);
    // A session deleted meanwhile must not keep a dangling file.
    if (!(await this.store.get(K.session(s.id)))) {
      await this.removeFile(rec);
      throw new AppError('session_not_found');
    }
    return rec;
  }

  async getFile(b: FileRef): Promise<FileRecord> {
    const s = await this.getSession(b.sessionId, b.owner);
    const f = await this.store.get<FileRecord>(K.file(b.fileId));
    if (!f || f.sessionId !== s.id) throw new AppError('file_not_found');
    return f;
  }

  /** Attach stored bytes to a pending file, or discard them (409 / 400 / 404). */
  async commitFile(b: FileCommit): Promise<FileRecord> {
    return this.withFileLock(b.fileId, () => this.commitLocked(b));
  }

  private async commitLocked(b: FileCommit): Promise<FileRecord> {
    let claimed = false;
    try {
      const f = await this.getFile(b);
      if (f.state === 'ready') throw new AppError('file_already_uploaded');
      if (f.size !== null && f.size !== b.blob.size) throw new AppError('size_mismatch');
      if (!(await this.store.claim(K.commit(f.id)))) throw new AppError('file_already_uploaded');
      claimed = true;
      const ready: FileRecord = { ...f, state: 'ready', size: b.blob.size, sha256: b.blob.sha256, blob: b.blob.key, storedAt: Date.now() };
      await this.store.set(K.blobRef(b.blob.key), { fileId: f.id });
      await this.store.set(K.file(f.id), ready);
      await this.store.unschedule(`blob:${b.blob.key}`);
      if (!(await this.store.get(K.file(f.id)))) throw new AppError('file_not_found'); // deleted meanwhile
      await this.publish(EVENTS.fileStored, { sessionId: f.sessionId, fileId: f.id, owner: f.owner, size: ready.size, sha256: ready.sha256 });
      return ready;
    } catch (err) {
      if (claimed) await this.store.release(K.commit(b.fileId)).catch(() => undefined);
      await this.discardBlob(b.blob.key).catch((e) => this.log.error({ err: e, key: b.blob.key }, 'could not discard blob; the orphan guard will'));
      throw err;
    }
  }

  async listFiles(b: OwnedId): Promise<FileRecord[]> {
    const s = await this.getSession(b.id, b.owner);
    const ids = await this.store.members(K.sessionFiles(s.id));
    const recs = await Promise.all(ids.map((id) => this.store.get<FileRecord>(K.file(id))));
    return recs.filter((r): r is FileRecord => !!r).sort((a, b) => a.createdAt - b.createdAt);
  }

  async deleteFile(b: FileRef): Promise<void> {
    const f = await this.withFileLock(b.fileId, async () => {
      const current = await this.getFile(b);
      await this.removeFile(current);
      return current;
    });
    await this.publish(EVENTS.fileDeleted, { sessionId: f.sessionId, fileId: f.id, owner: f.owner });
  }

  /** Bytes, then record and memberships. Idempotent. */
  private async removeFile(f: FileRecord): Promise<number> {
    const bytes = f.blob ? await this.blobs.delete(f.blob) : 0;
    if (bytes > 0) this.log.debug({ file: f.id, blob: f.blob, bytes }, 'file bytes deleted');
    if (f.blob) await this.store.delete(K.blobRef(f.blob));
    await this.store.delete(K.file(f.id));
    await this.store.removeMember(K.sessionFiles(f.sessionId), f.id);
    await this.store.unschedule(K.file(f.id));
    await this.store.release(K.commit(f.id));
    return bytes;
  }

  // ---------------------------------------------------------------- expiry

  /**
   * Delete one due item of the expiry index (called by the expiry service). Idempotent: an
   * item already gone reports `deleted: false`. Never deletes an item that is not due.
   */
  async expire(item: string): Promise<ExpireResult> {
    const sep = item.indexOf(':');
    const kind = item.slice(0, sep);
    const id = item.slice(sep + 1);
    const now = Date.now();
    const tombTtl = this.opts.tombstoneTtl * 1000;
    switch (kind) {
      case 'upload': {
        const rec = await this.store.get<UploadRecord>(K.upload(id));
        if (rec && rec.expiresAt > now) return this.notDue(item, rec.expiresAt);
        const bytes = await this.blobs.delete(rec?.blob ?? id);
        if (bytes > 0) this.log.debug({ item, blob: rec?.blob ?? id, bytes }, 'expired bytes deleted');
        if (!rec) return { deleted: false, kind, bytes };
        await this.store.set(K.tomb('upload', id), { owner: rec.owner, expiredAt: now }, tombTtl);
        await this.store.delete(K.upload(id));
        await this.publish(EVENTS.uploadExpired, { uploadId: id, owner: rec.owner, size: rec.size });
        return { deleted: true, kind, bytes };
      }
      case 'session': {
        const rec = await this.store.get<SessionRecord>(K.session(id));
        if (!rec) return { deleted: false, kind, bytes: 0 };
        if (rec.expiresAt > now) return this.notDue(item, rec.expiresAt);
        await this.store.set(K.tomb('session', id), { owner: rec.owner, expiredAt: now }, tombTtl);
        const bytes = await this.removeSession(rec);
        await this.publish(EVENTS.sessionExpired, { sessionId: id, owner: rec.owner });
        return { deleted: true, kind, bytes };
      }
      case 'file':
        return this.withFileLock(id, async () => {
          const rec = await this.store.get<FileRecord>(K.file(id));
          if (!rec) return { deleted: false, kind, bytes: 0 };
          if (rec.expiresAt > now) return this.notDue(item, rec.expiresAt);
          return { deleted: true, kind, bytes: await this.removeFile(rec) };
        });
      case 'blob': {
        // An orphan guard that came due: delete the bytes unless a commit took them and crashed
        // before removing the guard.
        if (await this.store.get(K.upload(id))) return { deleted: false, kind, bytes: 0 };
        const ref = await this.store.get<{ fileId: string }>(K.blobRef(id));
        if (ref && (await this.store.get<FileRecord>(K.file(ref.fileId)))?.blob === id) return { deleted: false, kind, bytes: 0 };
        return { deleted: true, kind, bytes: await this.blobs.delete(id) };
      }
      default:
        this.log.warn({ item }, 'unknown expiry item');
        return { deleted: false, kind, bytes: 0 };
    }
  }

  /** Due in the index but not by the record (clock skew between hosts): put it back. */
  private async notDue(item: string, expiresAt: number): Promise<ExpireResult> {
    await this.store.schedule(item, expiresAt);
    return { deleted: false, kind: item.slice(0, item.indexOf(':')), bytes: 0, keep: true };
  }
}

export interface ExpireResult {
  deleted: boolean;
  kind: string;
  bytes: number;
  /** The item stays scheduled (it was not due); the caller must not unschedule it. */
  keep?: boolean;
}

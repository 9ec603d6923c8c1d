import { AppError, EVENTS, newId, type Bus, type FileCommit, type FileCreate, type FileRecord, type FileRef, type Logger, type OwnedId, type Store } from '@fileshare/shared';
import type { BlobStore } from './blob/blob-store.js';
import { keys } from './keys.js';
import type { Locker } from './locker.js';
import type { Orphans } from './orphans.js';
import { readSession } from './sessions.js';

/**
 * A session's file entries: created pending, made ready once by a commit of stored bytes, removed
 * with their bytes. Commit and removal of one file run under its lock (Locker, across replicas):
 * without it, a session deletion could remove a stale pending record while a commit wrote the
 * ready one, leaving bytes no record and no expiry would ever delete.
 */
export class FileRecords {
  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
    private readonly orphans: Orphans,
    private readonly locker: Locker,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  /** Runs `fn` holding file `fileId`'s lock. */
  locked<T>(fileId: string, fn: () => Promise<T>): Promise<T> {
    return this.locker.run(keys.fileLock(fileId), fn);
  }

  async create(b: FileCreate): Promise<FileRecord> {
    const s = await readSession(this.store, b.sessionId, b.owner);
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
    await this.store.schedule(keys.file(rec.id), rec.expiresAt);
    await this.store.set(keys.file(rec.id), rec);
    await this.store.addMember(keys.sessionFiles(s.id), rec.id);
    // A session deleted meanwhile must not keep a dangling file.
    if (!(await this.store.get(keys.session(s.id)))) {
      await this.remove(rec);
      throw new AppError('session_not_found');
    }
    return rec;
  }

  /** The file in its session (`owner` undefined: internal lookup). Session errors first, then `file_not_found`. */
  async get(b: FileRef): Promise<FileRecord> {
    const s = await readSession(this.store, b.sessionId, b.owner);
    const f = await this.store.get<FileRecord>(keys.file(b.fileId));
    if (!f || f.sessionId !== s.id) throw new AppError('file_not_found');
    return f;
  }

  async list(b: OwnedId): Promise<FileRecord[]> {
    const s = await readSession(this.store, b.id, b.owner);
    const ids = await this.store.members(keys.sessionFiles(s.id));
    const recs = await Promise.all(ids.map((id) => this.store.get<FileRecord>(keys.file(id))));
    return recs.filter((r): r is FileRecord => !!r).sort((a, c) => a.createdAt - c.createdAt);
  }

  /** Attach stored bytes to a pending file, or discard them (409 already uploaded, 400 size mismatch, 404). */
  commit(b: FileCommit): Promise<FileRecord> {
    return this.locked(b.fileId, () => this.commitLocked(b));
  }

  private async commitLocked(b: FileCommit): Promise<FileRecord> {
    let claimed = false;
    try {
      const f = await this.get(b);
      if (f.state === 'ready') throw new AppError('file_already_uploaded');
      if (f.size !== null && f.size !== b.blob.size) throw new AppError('size_mismatch');
      if (b.sha256 !== undefined && b.sha256 !== b.blob.sha256) throw new AppError('digest_mismatch');
      if (!(await this.store.claim(keys.commit(f.id)))) throw new AppError('file_already_uploaded');
      claimed = true;
      const ready: FileRecord = { ...f, state: 'ready', size: b.blob.size, sha256: b.blob.sha256, blob: b.blob.key, storedAt: Date.now() };
      await this.store.set(keys.blobRef(b.blob.key), { fileId: f.id });
      await this.store.set(keys.file(f.id), ready);
      await this.orphans.clear(b.blob.key);
      if (!(await this.store.get(keys.file(f.id)))) throw new AppError('file_not_found'); // deleted meanwhile
      this.bus.announce(EVENTS.fileStored, {
        sessionId: f.sessionId,
        fileId: f.id,
        owner: f.owner,
        size: b.blob.size,
        sha256: b.blob.sha256,
        at: new Date(ready.storedAt!).toISOString(),
      });
      return ready;
    } catch (err) {
      if (claimed) await this.store.release(keys.commit(b.fileId)).catch(() => undefined);
      await this.orphans.discard(b.blob.key);
      throw err;
    }
  }

  async delete(b: FileRef): Promise<void> {
    const f = await this.locked(b.fileId, async () => {
      const current = await this.get(b);
      await this.remove(current);
      return current;
    });
    this.bus.announce(EVENTS.fileDeleted, { sessionId: f.sessionId, fileId: f.id, owner: f.owner, at: new Date().toISOString() });
  }

  /** Under the file's lock: the file if it is still there, else only its expiry entry. Returns bytes freed. */
  removeById(fileId: string): Promise<number> {
    return this.locked(fileId, async () => {
      const f = await this.store.get<FileRecord>(keys.file(fileId));
      if (f) return this.remove(f);
      await this.store.unschedule(keys.file(fileId));
      return 0;
    });
  }

  /** Bytes, then record and memberships. Idempotent; the caller holds the file's lock. Returns bytes freed. */
  async remove(f: FileRecord): Promise<number> {
    const bytes = f.blob ? await this.blobs.delete(f.blob) : 0;
    if (bytes > 0) this.log.debug({ file: f.id, blob: f.blob, bytes }, 'file bytes deleted');
    if (f.blob) await this.store.delete(keys.blobRef(f.blob));
    await this.store.delete(keys.file(f.id));
    await this.store.removeMember(keys.sessionFiles(f.sessionId), f.id);
    await this.store.unschedule(keys.file(f.id));
    await this.store.release(keys.commit(f.id));
    return bytes;
  }
}

import { AppError, COMMANDS, isAppError, type Bus } from '@fileshare/shared';
import type { ResumableUploads } from './resumable.js';
import type { DownloadLimits } from './download-limits.js';
import type { Expirer } from './expirer.js';
import type { FileRecords } from './files.js';
import type { SessionRecords } from './sessions.js';
import type { StorageDataPlane } from './storage-data-plane.js';
import type { UploadRecords } from './uploads.js';

/** The `storage.*` commands, each answered by the part of storage that owns it (queue group `storage`). */
export function serveStorageCommands(
  bus: Bus,
  parts: {
    uploads: UploadRecords;
    limits: DownloadLimits;
    resumable: ResumableUploads;
    sessions: SessionRecords;
    files: FileRecords;
    expirer: Expirer;
    dataPlane: StorageDataPlane;
  },
): void {
  const { uploads, limits, resumable, sessions, files, expirer, dataPlane } = parts;
  const q = 'storage';
  bus.serve(COMMANDS.uploadGet, q, (b) => uploads.get(b.id));
  // An incomplete resumable upload is deleted the same way (tus termination).
  bus.serve(COMMANDS.uploadDelete, q, (b) =>
    uploads.delete(b).catch(async (err) => {
      if (!isAppError(err) || err.code !== 'upload_incomplete') throw err;
      // Someone else's incomplete upload is not found, as any upload of someone else's.
      if (!(await resumable.delete(b))) throw new AppError('upload_not_found');
    }),
  );
  bus.serve(COMMANDS.uploadDeliveryBegin, q, (b) => limits.begin(b.id));
  bus.serve(COMMANDS.uploadDeliveryRenew, q, (b) => limits.renew(b));
  bus.serve(COMMANDS.uploadDeliveryFinish, q, (b) => limits.finish(b));
  bus.serve(COMMANDS.resumableCreate, q, (b) => resumable.create(b));
  bus.serve(COMMANDS.resumableGet, q, (b) => resumable.get(b));
  bus.serve(COMMANDS.resumableConcat, q, (b) => resumable.concat(b));
  bus.serve(COMMANDS.sessionCreate, q, (b) => sessions.create(b));
  bus.serve(COMMANDS.sessionGet, q, (b) => sessions.get(b.id, b.owner));
  bus.serve(COMMANDS.sessionList, q, (b) => sessions.list(b.owner));
  bus.serve(COMMANDS.sessionDelete, q, (b) => sessions.delete(b));
  bus.serve(COMMANDS.fileCreate, q, (b) => files.create(b));
  bus.serve(COMMANDS.fileGet, q, (b) => files.get(b));
  bus.serve(COMMANDS.fileCommit, q, (b) => files.commit(b));
  bus.serve(COMMANDS.fileList, q, (b) => files.list(b));
  // A file's unfinished resumable upload goes with it (its chunks, now).
  bus.serve(COMMANDS.fileDelete, q, async (b) => {
    await files.delete(b);
    if (b.owner) await resumable.delete({ owner: b.owner, id: b.fileId, sessionId: b.sessionId });
  });
  bus.serve(COMMANDS.expire, q, (b) => expirer.expire(b.item));
  bus.serve(COMMANDS.storagePing, q, async () => (await dataPlane.ping(), { ok: true }));
}

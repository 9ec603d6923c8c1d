export * from './errors.js';
export * from './ids.js';
export * from './protocol.js';
export * from './records.js';
export * from './config.js';
export * from './logger.js';
export * from './paths.js';
export * from './metrics.js';
export * from './bus/bus.js';
export { LocalBus } from './bus/local.js';
export type { Store } from './store/store.js';
export * from './dataplane/dataplane.js';
export {
  HttpDataPlane,
  DIGEST_TRAILER,
  INTERNAL_SECRET_HEADER,
  MAX_BYTES_HEADER,
  UPLOAD_TRAILER,
  VOLUME_HEADERS,
  decodeAppend,
  decodeUploadMeta,
  parseChecksum,
} from './dataplane/http.js';
export { SharedVolume, PLACE_FROM_BYTES, isVolumeProbe, type PlacedAppend, type SharedVolumeOptions, type VolumeBooks } from './dataplane/shared-volume.js';
export { HashingBlobWriter, type CreateBlobOptions } from './blobfs/hashing-writer.js';
export { FsBlobWriter, type InlineTarget } from './blobfs/fs-blob-writer.js';
export { FsAppendWriter, type GrowingBlobWriter } from './blobfs/fs-append-writer.js';
export { CarriedHashes } from './blobfs/carried-hashes.js';
export { SyncBehind, placeDurably, syncDir, writeAll } from './blobfs/durable-files.js';
export { FILE_READ_CHUNK, sendFileRange, sendFileViews } from './dataplane/file-views.js';
export * from './ops-server.js';
export * from './connect.js';
export * from './passwords.js';
export * from './media-type.js';
export * from './file-names.js';
export * from './lifecycle.js';
export * from './deferred.js';
export { pump, sendReadable, watchWrite, writeBatch } from './streams.js';
export { BoundedMap } from './bounded-map.js';
export { WatchedRecords, type WatchedRecordsOptions } from './watched-records.js';
export { announcedSha256, reprDigest } from './digest.js';

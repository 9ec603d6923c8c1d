import type { Bus, Config, DataPlane, Logger } from '@fileshare/shared';
import type { UploadRecordCache } from './cache/upload-records.js';
import type { Downloads } from './http/download.js';
import type { MultipartLimits } from './http/multipart.js';
import type { PublicUrls } from './http/public-url.js';
import type { UploadSlots } from './http/upload-slots.js';

/**
 * What route handlers share. Authentication, parameter checks and JSON bodies are not here: a
 * route declares them (router.ts) and the router runs them before the handler.
 */
export interface GatewayContext {
  readonly cfg: Config;
  readonly bus: Bus;
  readonly dataPlane: DataPlane;
  readonly log: Logger;
  readonly downloads: Downloads;
  /** Upload records for downloads, kept until deleted or expired (cache/upload-records.ts). */
  readonly uploadRecords: UploadRecordCache;
  readonly urls: PublicUrls;
  readonly uploadSlots: UploadSlots;
  /** What a multipart upload may hold besides its file (limits.*). */
  readonly multipartLimits: MultipartLimits;
}

import type { FileRecord, ResumableState, SessionRecord, StoredBlob, TokenRecord, UploadRecord } from './records.js';

/**
 * Every bus subject, defined once. Commands are `<service>.<verb>` and answered by one
 * replica of the service (queue group = service name); events are past tense under
 * `fileshare.evt.` and kept in the JetStream stream `FILESHARE_EVENTS`.
 */
export const COMMANDS = {
  uploadGet: 'storage.upload.get',
  uploadDelete: 'storage.upload.delete',
  resumableCreate: 'storage.resumable.create',
  resumableGet: 'storage.resumable.get',
  resumableConcat: 'storage.resumable.concat',
  uploadDeliveryBegin: 'storage.delivery.begin',
  uploadDeliveryRenew: 'storage.delivery.renew',
  uploadDeliveryFinish: 'storage.delivery.finish',
  sessionCreate: 'storage.session.create',
  sessionGet: 'storage.session.get',
  sessionList: 'storage.session.list',
  sessionDelete: 'storage.session.delete',
  fileCreate: 'storage.file.create',
  fileGet: 'storage.file.get',
  fileCommit: 'storage.file.commit',
  fileList: 'storage.file.list',
  fileDelete: 'storage.file.delete',
  expire: 'storage.expire',
  storagePing: 'storage.ping',
  tokenIssue: 'tokens.issue',
  tokenBegin: 'tokens.begin',
  tokenRenew: 'tokens.renew',
  tokenFinish: 'tokens.finish',
  tokenPeek: 'tokens.peek',
  tokensPing: 'tokens.ping',
} as const;

export const EVENT_PREFIX = 'fileshare.evt.';
export const EVENT_STREAM = 'FILESHARE_EVENTS';

export const EVENTS = {
  uploadStored: 'fileshare.evt.upload.stored',
  uploadDeleted: 'fileshare.evt.upload.deleted',
  uploadExpired: 'fileshare.evt.upload.expired',
  uploadDownloaded: 'fileshare.evt.upload.downloaded',
  sessionCreated: 'fileshare.evt.session.created',
  sessionDeleted: 'fileshare.evt.session.deleted',
  sessionExpired: 'fileshare.evt.session.expired',
  fileStored: 'fileshare.evt.file.stored',
  fileDeleted: 'fileshare.evt.file.deleted',
  tokenIssued: 'fileshare.evt.token.issued',
  tokenDelivered: 'fileshare.evt.token.delivered',
  tokenRefused: 'fileshare.evt.token.refused',
} as const;

// ---- command payloads (gateway/tokens/expiry -> storage, gateway -> tokens) ----

export interface OwnedId {
  owner: string;
  id: string;
}
/** A new resumable upload: the record's fields, its total size when known. */
export interface ResumableCreate {
  owner: string;
  name: string;
  contentType: string;
  ttl: number;
  length: number | null;
  /** tus concatenation: a part of a final upload. */
  partial?: boolean;
  maxDownloads?: number;
}
/** tus concatenation: a final upload made of the owner's complete partial uploads, in order. */
export interface ResumableConcat {
  owner: string;
  name: string;
  contentType: string;
  ttl: number;
  maxDownloads?: number;
  parts: string[];
  /** The parts' total may not exceed this (`file_too_large`). */
  maxBytes: number;
}
/** A resumable upload: a simple upload's id, or a session file's (with its session). */
export interface ResumableRef extends OwnedId {
  sessionId?: string;
}
export interface SessionCreate {
  owner: string;
  ttl: number;
}
export interface FileCreate {
  owner: string;
  sessionId: string;
  name: string;
  contentType: string;
  size: number | null;
}
export interface FileRef {
  /** Omitted for internal lookups (tokens service): no ownership check. */
  owner?: string;
  sessionId: string;
  fileId: string;
}
export interface FileCommit extends FileRef {
  blob: StoredBlob;
  /** The sha256 (hex) the client announced (Repr-Digest / Content-Digest): other bytes are refused. */
  sha256?: string;
}
/** A counted download of an upload with a download limit: begun, renewed while it streams, finished. */
export interface DeliveryRef {
  id: string;
  lease: string;
}
export interface ExpireItem {
  /** An expiry-index item (see expiry-items.ts): `upload:<id>`, `session:<id>`, `file:<id>` or `blob:<key>`. */
  item: string;
}
/** What `storage.expire` did with one item. */
export interface ExpireResult {
  deleted: boolean;
  /** The item's kind (`upload`, `session`, `file`, `blob`), for metrics. */
  kind: string;
  /** Bytes freed, when the backend knows. */
  bytes: number;
  /** The item stays scheduled (it was not due); the caller must not unschedule it. */
  keep?: boolean;
}
export interface TokenIssue extends FileRef {
  owner: string;
  /** Seconds; capped at the session's expiry. */
  ttl: number;
}
export interface TokenRef {
  tokenId: string;
  sessionId: string;
  fileId: string;
}
/** What beginning a delivery of (or peeking at) a token yields: the file to stream. */
export interface TokenGrant {
  file: FileRecord;
}
/**
 * What one response sent of a representation: bytes from `start` handed to the socket, and whether
 * the response completed (its last byte written) or was cut. Null: nothing was delivered (HEAD,
 * 304, 416, an error before the body).
 */
export type Sent = { start: number; bytes: number; complete: boolean } | null;
/** Whether one response delivered the whole of a file of `size` bytes (a complete 200, or a 206 of every byte). */
export const deliveredWhole = (sent: Sent, size: number): boolean => !!sent && sent.complete && sent.start === 0 && sent.bytes >= size;
/** A counted delivery's lease (a token's, a download-limited upload's): the gateway renews it every third while it streams, so a dead gateway's lapses. */
export const DELIVERY_LEASE_MS = 30_000;
/** The end of a delivery of a token (`tokens.finish`): what was sent of the file's `size` bytes. */
export interface TokenFinish extends TokenRef {
  sent: Sent;
  size: number;
}

/** What every event carries besides its own fields. */
interface EventBase {
  owner: string;
  /** When it happened, ISO-8601. */
  at: string;
}
export interface UploadEvent extends EventBase {
  uploadId: string;
}
export interface SessionEvent extends EventBase {
  sessionId: string;
}
export interface FileEvent extends EventBase {
  sessionId: string;
  fileId: string;
}

/**
 * The fileshare protocol: every command's request and reply, every event's payload. `Bus` is
 * generic over it, so a wrong body or a wrong reply type does not compile.
 */
export interface FileshareProtocol {
  commands: {
    [COMMANDS.uploadGet]: { request: { id: string }; reply: UploadRecord };
    [COMMANDS.uploadDelete]: { request: OwnedId; reply: void };
    [COMMANDS.resumableCreate]: { request: ResumableCreate; reply: ResumableState };
    [COMMANDS.resumableGet]: { request: ResumableRef; reply: ResumableState };
    [COMMANDS.resumableConcat]: { request: ResumableConcat; reply: ResumableState };
    [COMMANDS.uploadDeliveryBegin]: { request: { id: string }; reply: DeliveryRef };
    [COMMANDS.uploadDeliveryRenew]: { request: DeliveryRef; reply: void };
    [COMMANDS.uploadDeliveryFinish]: { request: DeliveryRef & { sent: Sent; size: number }; reply: { downloads: number } };
    [COMMANDS.sessionCreate]: { request: SessionCreate; reply: SessionRecord };
    [COMMANDS.sessionGet]: { request: OwnedId; reply: SessionRecord };
    [COMMANDS.sessionList]: { request: { owner: string }; reply: SessionRecord[] };
    [COMMANDS.sessionDelete]: { request: OwnedId; reply: void };
    [COMMANDS.fileCreate]: { request: FileCreate; reply: FileRecord };
    [COMMANDS.fileGet]: { request: FileRef; reply: FileRecord };
    [COMMANDS.fileCommit]: { request: FileCommit; reply: FileRecord };
    [COMMANDS.fileList]: { request: OwnedId; reply: FileRecord[] };
    [COMMANDS.fileDelete]: { request: FileRef; reply: void };
    [COMMANDS.expire]: { request: ExpireItem; reply: ExpireResult };
    [COMMANDS.storagePing]: { request: Record<string, never>; reply: { ok: true } };
    [COMMANDS.tokenIssue]: { request: TokenIssue; reply: TokenRecord };
    [COMMANDS.tokenBegin]: { request: TokenRef; reply: TokenGrant };
    [COMMANDS.tokenRenew]: { request: TokenRef; reply: void };
    [COMMANDS.tokenFinish]: { request: TokenFinish; reply: { spent: boolean } };
    [COMMANDS.tokenPeek]: { request: TokenRef; reply: TokenGrant };
    [COMMANDS.tokensPing]: { request: Record<string, never>; reply: { ok: true } };
  };
  events: {
    [EVENTS.uploadStored]: UploadEvent & { size: number; sha256: string; expiresAt: string };
    [EVENTS.uploadDeleted]: UploadEvent;
    [EVENTS.uploadExpired]: UploadEvent & { size: number };
    [EVENTS.uploadDownloaded]: UploadEvent & { downloads: number; maxDownloads: number };
    [EVENTS.sessionCreated]: SessionEvent & { expiresAt: string };
    [EVENTS.sessionDeleted]: SessionEvent;
    [EVENTS.sessionExpired]: SessionEvent;
    [EVENTS.fileStored]: FileEvent & { size: number; sha256: string };
    [EVENTS.fileDeleted]: FileEvent;
    [EVENTS.tokenIssued]: FileEvent & { expiresAt: string };
    [EVENTS.tokenDelivered]: FileEvent;
    [EVENTS.tokenRefused]: FileEvent & { reason: 'used' | 'expired' | 'attempts' };
  };
}

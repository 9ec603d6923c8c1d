/**
 * Every bus subject, defined once. Commands are `<service>.<verb>` and answered by one
 * replica of the service (queue group = service name); events are past tense under
 * `fileshare.evt.` and kept in the JetStream stream `FILESHARE_EVENTS`.
 */
export const COMMANDS = {
  /**
   * Older gateways' two-step upload (bytes on the data plane, then this): storage still answers
   * both for a rolling upgrade (storage first, then gateways). Current gateways use
   * `DataPlane.createUpload`.
   */
  uploadCreate: 'storage.upload.create',
  blobDiscard: 'storage.blob.discard',
  uploadGet: 'storage.upload.get',
  uploadDelete: 'storage.upload.delete',
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
  tokenConsume: 'tokens.consume',
  tokenPeek: 'tokens.peek',
  tokensPing: 'tokens.ping',
} as const;

export const EVENT_PREFIX = 'fileshare.evt.';
export const EVENT_STREAM = 'FILESHARE_EVENTS';

export const EVENTS = {
  uploadStored: 'fileshare.evt.upload.stored',
  uploadDeleted: 'fileshare.evt.upload.deleted',
  uploadExpired: 'fileshare.evt.upload.expired',
  sessionCreated: 'fileshare.evt.session.created',
  sessionDeleted: 'fileshare.evt.session.deleted',
  sessionExpired: 'fileshare.evt.session.expired',
  fileStored: 'fileshare.evt.file.stored',
  fileDeleted: 'fileshare.evt.file.deleted',
  tokenIssued: 'fileshare.evt.token.issued',
  tokenConsumed: 'fileshare.evt.token.consumed',
} as const;

export type CommandSubject = (typeof COMMANDS)[keyof typeof COMMANDS];
export type EventSubject = (typeof EVENTS)[keyof typeof EVENTS];

/**
 * Every configuration key: its kind, default, bounds and doc line (docs/configuration.md is
 * generated from this table). Loading, environment names and checks: config.ts.
 */

export type Kind = 'string' | 'int' | 'bool' | 'enum' | 'list';
export interface KeyDef {
  kind: Kind;
  default: string | number | boolean | string[];
  doc: string;
  /** enum values */
  values?: readonly string[];
  min?: number;
  max?: number;
  secret?: boolean;
}

const MiB = 1024 * 1024;

export const SCHEMA = {
  'http.host': { kind: 'string', default: '0.0.0.0', doc: 'Address the gateway listens on.' },
  'http.port': { kind: 'int', default: 1446, min: 0, max: 65535, doc: 'Gateway port (0 picks a free one).' },
  'http.basePath': { kind: 'string', default: '/rtc/fileshare', doc: 'Path prefix of every API route ("/" mounts at the root). Operational endpoints stay at the root.' },
  'http.publicUrl': { kind: 'string', default: '', doc: 'Absolute URL clients reach the gateway at (e.g. https://files.example.com); empty derives it from the Host header.' },
  'http.tls.enabled': { kind: 'bool', default: true, doc: 'Serve HTTPS. Without keyFile/certFile a self-signed pair is created under <dataDir>/tls at first start.' },
  'http.tls.keyFile': { kind: 'string', default: '', doc: 'PEM private key file.' },
  'http.tls.certFile': { kind: 'string', default: '', doc: 'PEM certificate (chain) file.' },
  'http.trustProxy': { kind: 'bool', default: false, doc: 'Take the client address from X-Forwarded-For (only behind a trusted proxy).' },
  'models.upload.ttl': { kind: 'int', default: 3600, min: 1, doc: 'Default lifetime of a simple upload, seconds (handbook key).' },
  'models.upload.incompleteTtl': {
    kind: 'int',
    default: 86400,
    min: 1,
    doc: 'Seconds a resumable upload may stay incomplete before it and its bytes are deleted (tus Upload-Expires).',
  },
  'models.session.ttl': { kind: 'int', default: 604800, min: 1, doc: 'Default lifetime of a session, seconds (handbook key).' },
  'simpleUpload.authentication.enabled': { kind: 'bool', default: true, doc: 'Require HTTP Basic auth on every non-download endpoint (handbook key).' },
  'simpleUpload.authentication.username': { kind: 'string', default: '', doc: 'A fixed user accepted besides the users file (handbook key).' },
  'simpleUpload.authentication.password': { kind: 'string', default: '', secret: true, doc: 'Password of the fixed user (handbook key).' },
  'auth.usersFile': { kind: 'string', default: '', doc: 'Users file with scrypt hashes; empty means <dataDir>/users.json.' },
  'auth.cacheTtl': { kind: 'int', default: 60, min: 0, doc: 'Seconds a successful password check is remembered (keyed by an HMAC, never the password).' },
  'auth.maxFailures': {
    kind: 'int',
    default: 10,
    min: 1,
    doc: 'Authentication attempts allowed per client address and per user within auth.failureWindow before 429: failures plus checks still running, counted as they start (a concurrent burst is throttled like a sequential one).',
  },
  'auth.failureWindow': { kind: 'int', default: 60, min: 1, doc: 'Seconds over which failed authentications are counted.' },
  'auth.hashThreads': {
    kind: 'int',
    default: 1,
    min: 1,
    max: 64,
    doc: 'Password hashes (scrypt, 60-150 ms of one core and 32 MiB each) computed at once, on threads of their own: never on the thread pool that file I/O uses.',
  },
  'auth.hashQueue': {
    kind: 'int',
    default: 64,
    min: 1,
    doc: 'Password checks that may wait for a hash thread, all clients together (served round-robin by client address); beyond, 503 with Retry-After. Cached checks never wait.',
  },
  'limits.maxFileSize': {
    kind: 'int',
    default: 900 * MiB,
    min: 1,
    doc: 'Largest file accepted, bytes (also tus Tus-Max-Size). uWebSockets.js v20.30 refuses a single request with Content-Length >= 1e9: larger files need chunked transfer or resumable uploads (tus, in chunks).',
  },
  'limits.maxDownloads': { kind: 'int', default: 1000, min: 1, doc: 'Largest maxDownloads a simple upload may ask for.' },
  'limits.maxTtl': { kind: 'int', default: 30 * 86400, min: 1, doc: 'Largest ttl a request may ask for, seconds.' },
  'limits.maxJsonBody': { kind: 'int', default: 16 * 1024, min: 64, doc: 'Largest JSON request body, bytes.' },
  'limits.maxFields': { kind: 'int', default: 16, min: 1, doc: 'Most non-file fields in a multipart upload.' },
  'limits.maxFieldSize': { kind: 'int', default: 1024, min: 16, doc: 'Largest non-file multipart field, bytes.' },
  'limits.maxNameLength': {
    kind: 'int',
    default: 255,
    min: 1,
    doc: 'Longest file name kept, bytes of UTF-8: longer names are cut on a character boundary (JSON and multipart alike), never refused.',
  },
  'limits.maxUploadsPerUser': { kind: 'int', default: 32, min: 1, doc: 'Concurrent uploads one user may have in flight on one gateway.' },
  'limits.maxHeaderBytes': { kind: 'int', default: 8192, min: 1024, doc: 'Largest total size of request headers, bytes (431 beyond).' },
  'limits.maxUrlLength': { kind: 'int', default: 2048, min: 256, doc: 'Longest request URL, bytes (414 beyond).' },
  'cache.maxBytes': {
    kind: 'int',
    default: 32 * MiB,
    min: 0,
    doc: 'Memory the gateway may use to keep small files (blobs are immutable, so a cached copy is never stale); 0 turns the cache off.',
  },
  'cache.maxItemBytes': { kind: 'int', default: 64 * 1024, min: 0, doc: 'Largest file kept in the small-file cache, bytes.' },
  'cache.records': {
    kind: 'int',
    default: 10_000,
    min: 0,
    doc: 'Records kept in memory by the processes that read them most, each: a gateway its upload records (downloads then need no storage round trip), the tokens service its ready session files (token issues and downloads check them). Forgotten on delete and expiry events (a gateway serves a kept record only after a NATS ping, so a delete answered anywhere is never served from it), and when the bus connection drops; 0 turns both off.',
  },
  'cache.recordMaxAge': {
    kind: 'int',
    default: 2,
    min: 1,
    doc: 'Seconds a kept record (cache.records) is trusted before it is read again: the bound for a process that missed a delete event without noticing.',
  },
  dataDir: { kind: 'string', default: './data', doc: 'Where the fs blob backend, SQLite database, users file and TLS pair live.' },
  'store.kind': { kind: 'enum', values: ['sqlite', 'redis'], default: 'sqlite', doc: 'Metadata and token store.' },
  'store.sqlitePath': { kind: 'string', default: '', doc: 'SQLite file; empty means <dataDir>/fileshare.db.' },
  'store.redisUrl': { kind: 'string', default: 'redis://127.0.0.1:6379', doc: 'Redis URL (store.kind=redis).' },
  'bus.kind': { kind: 'enum', values: ['local', 'nats'], default: 'local', doc: 'Message bus: in-process (all-in-one only) or NATS.' },
  'bus.natsUrl': { kind: 'list', default: ['nats://127.0.0.1:4222'], doc: 'NATS server URLs, comma separated.' },
  'bus.requestTimeout': { kind: 'int', default: 4000, min: 100, doc: 'Milliseconds a bus request waits before answering 503.' },
  'blob.kind': { kind: 'enum', values: ['fs', 's3'], default: 'fs', doc: 'Where file bytes live.' },
  'blob.fs.inlineMaxBytes': {
    kind: 'int',
    default: 64 * 1024,
    min: 0,
    max: MiB,
    doc: "fs blobs up to this size are kept in SQLite instead of one file each (all-in-one: in the record store's fileshare.db, so an upload's bytes and record are one transaction; a storage process: <dataDir>/blobs.db): one shared fsync per batch instead of a file, a rename and two fsyncs per blob. 0: every blob is a file.",
  },
  'blob.fs.gatewayReads': {
    kind: 'bool',
    default: true,
    doc: "A standalone gateway reads finished fs blobs from <dataDir>/blobs itself when it finds them there (gateway and storage on one host, or sharing a volume mounted as the same data directory) instead of streaming them through storage's data plane; a blob it does not find there whole comes from storage. Off: every download goes through storage.",
  },
  'blob.fs.gatewayWrites': {
    kind: 'bool',
    default: true,
    doc: "A standalone gateway writes the bytes of large uploads and resumable chunks (declared 1 MiB or more, or chunked) onto the data directory itself, as storage would (a temp file in <dataDir>/tmp, fsynced, renamed into <dataDir>/blobs; a resumable upload's growing file appended), once a probe shows storage sees the files it writes there (same host, or the data directory's volume mounted read-write in both); storage keeps the orphan guard, the upload's lock and offset, and the record. Until then, and for smaller bodies, bytes go through storage's data plane. Gateway and storage run as the same user (as `npm run start:cluster` does): each appends to resumable uploads' files the other created (mode 0640). Off: every upload goes through storage.",
  },
  'blob.s3.endpoint': { kind: 'string', default: '', doc: 'S3 endpoint URL (empty: AWS).' },
  'blob.s3.region': { kind: 'string', default: 'us-east-1', doc: 'S3 region.' },
  'blob.s3.bucket': { kind: 'string', default: 'fileshare', doc: 'S3 bucket.' },
  'blob.s3.prefix': { kind: 'string', default: 'blobs/', doc: 'Key prefix inside the bucket.' },
  'blob.s3.forcePathStyle': { kind: 'bool', default: true, doc: 'Path-style addressing (MinIO, Ceph, s3rver).' },
  'blob.s3.createBucket': { kind: 'bool', default: false, doc: 'Create the bucket at start when it does not exist.' },
  'blob.s3.partSize': { kind: 'int', default: 8 * MiB, min: 5 * MiB, doc: 'Multipart upload part size, bytes.' },
  'blob.s3.queueSize': { kind: 'int', default: 4, min: 1, doc: 'Parts uploaded concurrently per file.' },
  'internal.host': {
    kind: 'string',
    default: '0.0.0.0',
    doc: 'Address the internal listeners bind to: the storage data plane and the health/metrics ports of standalone storage, tokens and expiry processes.',
  },
  'storage.port': { kind: 'int', default: 7001, min: 0, max: 65535, doc: 'Storage data-plane port; also serves its /healthz, /readyz and /metrics.' },
  'storage.urls': { kind: 'list', default: ['http://127.0.0.1:7001'], doc: 'Storage data-plane URLs the gateway streams bytes to (distributed mode).' },
  'storage.minFreeBytes': {
    kind: 'int',
    default: 64 * MiB,
    min: 0,
    doc: 'fs blobs: free bytes on the data directory below which /readyz reports not ready (a balancer then sends uploads elsewhere; downloads keep working). 0: no floor. A write that still finds the disk full is answered 507.',
  },
  'metrics.public': {
    kind: 'bool',
    default: false,
    doc: "Serve the gateway's /metrics to anyone. Off: /metrics on the public port needs HTTP Basic credentials of a configured user (Prometheus: basic_auth); the standalone services' internal ports always serve it.",
  },
  'internal.secret': { kind: 'string', default: '', secret: true, doc: 'Shared secret required on the storage data plane (recommended in distributed mode).' },
  'tokens.maxAttempts': {
    kind: 'int',
    default: 5,
    min: 1,
    doc: 'Deliveries of a one-time link that may start and not complete (a dropped connection, a link-preview bot reading the first bytes) before it answers 410.',
  },
  'tokens.port': { kind: 'int', default: 7002, min: 0, max: 65535, doc: 'Health and metrics port of a standalone tokens process.' },
  'expiry.port': { kind: 'int', default: 7003, min: 0, max: 65535, doc: 'Health and metrics port of a standalone expiry process.' },
  'expiry.interval': { kind: 'int', default: 60, min: 1, doc: 'Seconds between expiry sweeps.' },
  'expiry.tombstoneTtl': { kind: 'int', default: 604800, min: 1, doc: 'Seconds an expired item keeps answering 410 instead of 404.' },
  'expiry.batch': { kind: 'int', default: 500, min: 1, doc: 'Most items one sweep claims at a time.' },
  'expiry.lease': { kind: 'int', default: 300, min: 1, doc: 'Seconds a claimed item stays with the replica that claimed it before another may retry it.' },
  'expiry.orphanGrace': { kind: 'int', default: 3600, min: 1, doc: 'Seconds after which bytes never committed to a record (crashed upload) are deleted.' },
  'log.level': { kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', doc: 'Log level.' },
  'log.pretty': { kind: 'enum', values: ['auto', 'true', 'false'], default: 'auto', doc: 'Human-readable logs (auto: when stdout is a terminal).' },
  'shutdown.deadline': { kind: 'int', default: 10, min: 0, doc: 'Seconds in-flight requests get to finish after SIGTERM.' },
} as const satisfies Record<string, KeyDef>;

export type ConfigKey = keyof typeof SCHEMA;
type ValueOf<K extends ConfigKey> = (typeof SCHEMA)[K]['kind'] extends 'int'
  ? number
  : (typeof SCHEMA)[K]['kind'] extends 'bool'
    ? boolean
    : (typeof SCHEMA)[K]['kind'] extends 'list'
      ? string[]
      : string;
export type Config = { readonly [K in ConfigKey]: ValueOf<K> };

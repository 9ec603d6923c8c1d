import { Agent, request } from 'node:http';
import { AppError } from '../errors.js';
import { isId } from '../ids.js';
import { metrics } from '../metrics.js';
import type { ResumableState, StoredBlob, UploadMeta, UploadRecord } from '../records.js';
import { BlobReader } from './blob-reader.js';
import { putWhole, putWriter, type PutOptions } from './blob-upload.js';
import { ConnectionPool } from './connections.js';
import type { PlacedAppend, VolumeBooks } from './shared-volume.js';
import {
  CHECKSUM_ALGORITHMS,
  type AppendOptions,
  type AppendWriter,
  type BlobSink,
  type BlobWriter,
  type ByteRange,
  type ChunkChecksum,
  type DataPlane,
  type UploadWriter,
} from './dataplane.js';

export const INTERNAL_SECRET_HEADER = 'x-fileshare-internal';
export const MAX_BYTES_HEADER = 'x-fileshare-max-bytes';
/** `PUT /resumable/<id>`: where the chunk starts, the declared total, the owner (base64url). */
export const APPEND_HEADERS = {
  offset: 'x-fileshare-offset',
  length: 'x-fileshare-length',
  owner: 'x-fileshare-owner',
  checksum: 'x-fileshare-checksum',
  complete: 'x-fileshare-complete',
  session: 'x-fileshare-session',
} as const;

/** The append options a `PUT /resumable/<id>` carries; malformed ones are a 400 (storage keeps nothing). */
export function decodeAppend(id: string, headers: Record<string, string | string[] | undefined>, maxBytes: number): AppendOptions {
  const h = (name: string) => (typeof headers[name] === 'string' ? headers[name] : undefined);
  const offset = Number(h(APPEND_HEADERS.offset));
  const length = h(APPEND_HEADERS.length);
  const owner = Buffer.from(h(APPEND_HEADERS.owner) ?? '', 'base64url').toString('utf8');
  if (!Number.isSafeInteger(offset) || offset < 0 || !owner || (length !== undefined && !/^\d{1,15}$/.test(length))) {
    throw new AppError('bad_request', 'missing or malformed append headers');
  }
  const sum = h(APPEND_HEADERS.checksum);
  const sessionId = h(APPEND_HEADERS.session);
  if (sessionId !== undefined && !isId(sessionId)) throw new AppError('bad_request', 'malformed append headers');
  return {
    id,
    owner,
    offset,
    length: length === undefined ? undefined : Number(length),
    maxBytes,
    checksum: sum === undefined ? undefined : parseChecksum(sum),
    complete: h(APPEND_HEADERS.complete) === '1',
    sessionId,
  };
}

/** The headers of `PUT /resumable/<id>` (and of a chunk a gateway appends on the volume) for `o`. */
function appendHeaders(o: AppendOptions): string[] {
  const headers = [`${APPEND_HEADERS.offset}: ${o.offset}`, `${APPEND_HEADERS.owner}: ${Buffer.from(o.owner).toString('base64url')}`];
  if (o.length !== undefined) headers.push(`${APPEND_HEADERS.length}: ${o.length}`);
  if (o.checksum) headers.push(`${APPEND_HEADERS.checksum}: ${o.checksum.algorithm} ${o.checksum.digest}`);
  if (o.complete) headers.push(`${APPEND_HEADERS.complete}: 1`);
  if (o.sessionId) headers.push(`${APPEND_HEADERS.session}: ${o.sessionId}`);
  return headers;
}

/** `<algorithm> <base64 digest>` (tus `Upload-Checksum`, and the data plane's header): `checksum_unsupported` for another algorithm. */
export function parseChecksum(value: string): ChunkChecksum {
  const [algorithm, digest, extra] = value.trim().split(' ');
  if (!(CHECKSUM_ALGORITHMS as readonly string[]).includes(algorithm)) throw new AppError('checksum_unsupported');
  if (extra !== undefined || !digest || !/^[A-Za-z0-9+/]+={0,2}$/.test(digest)) throw new AppError('bad_request', 'malformed upload-checksum');
  return { algorithm: algorithm as ChunkChecksum['algorithm'], digest };
}

/**
 * The trailer of `PUT /blobs` and `PUT /uploads` with the body's sha256 (hex), computed by the
 * gateway while it sent the body: storage then hashes nothing (the busier process on a large
 * upload; the bytes are the ones it received). Announced in the request's `Trailer` header; a
 * request that does not announce it is hashed by storage.
 */
export const DIGEST_TRAILER = 'x-fileshare-sha256';

/** `PUT /volume/...`: the probe's token, and a placed blob's size and sha256 (hex). */
export const VOLUME_HEADERS = { probe: 'x-fileshare-probe', size: 'x-fileshare-size', sha256: 'x-fileshare-sha256' } as const;

/** The trailer of `PUT /uploads`: the upload's record fields, base64url of their JSON. */
export const UPLOAD_TRAILER = 'x-fileshare-upload';

const encodeUploadMeta = (m: UploadMeta): string =>
  Buffer.from(JSON.stringify({ owner: m.owner, name: m.name, contentType: m.contentType, ttl: m.ttl, maxDownloads: m.maxDownloads, sha256: m.sha256 })).toString('base64url');

/** The trailer's fields, checked; a missing or malformed trailer is a 400 (storage keeps nothing). */
export function decodeUploadMeta(value: string | undefined): UploadMeta {
  let m: Partial<UploadMeta> | undefined;
  try {
    m = JSON.parse(Buffer.from(value ?? '', 'base64url').toString('utf8')) as Partial<UploadMeta>;
  } catch {
    m = undefined;
  }
  if (!m || typeof m.owner !== 'string' || !m.owner || typeof m.name !== 'string' || typeof m.contentType !== 'string' || !Number.isSafeInteger(m.ttl) || m.ttl! < 1) {
    throw new AppError('bad_request', `missing or malformed ${UPLOAD_TRAILER} trailer`);
  }
  if ((m.maxDownloads !== undefined && (!Number.isSafeInteger(m.maxDownloads) || m.maxDownloads < 1)) || (m.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(m.sha256))) {
    throw new AppError('bad_request', `malformed ${UPLOAD_TRAILER} trailer`);
  }
  const meta: UploadMeta = { owner: m.owner, name: m.name, contentType: m.contentType, ttl: m.ttl! };
  if (m.maxDownloads !== undefined) meta.maxDownloads = m.maxDownloads;
  if (m.sha256 !== undefined) meta.sha256 = m.sha256;
  return meta;
}

/**
 * The data plane over internal HTTP/1.1 keep-alive (distributed mode). Protocol, served by
 * the storage service:
 *   PUT /blobs            body = bytes (chunked), then trailer `x-fileshare-sha256` (their
 *                         digest, DIGEST_TRAILER); 201 {key,size,sha256} once durable
 *   PUT /uploads          the same, and trailer `x-fileshare-upload` (the record's fields);
 *                         201 = the upload record, once bytes and record are durable
 *   PUT /resumable/<id>   a chunk of a resumable upload (APPEND_HEADERS); 201 = its new state
 *   GET /blobs/<key>      200/206 bytes; `Range: bytes=a-b` honoured
 *   PUT /volume/probe/<name>   (header VOLUME_HEADERS.probe) 201 {shared}: whether storage's
 *                         tmp/<name> and blobs/<name> hold that token (a gateway writing on the shared volume)
 *   PUT /volume/guard/<key>    201 {}: the orphan guard of a blob the gateway is about to write
 *   PUT /volume/drop/<key>     201 {}: that blob will not be recorded: its bytes and guard go
 *   PUT /volume/uploads/<key>  (headers VOLUME_HEADERS.size, .sha256; trailer `x-fileshare-upload`)
 *                         201 = the upload record of the blob the gateway placed
 *   PUT /volume/append/<id>    (APPEND_HEADERS) 201 PlacedAppend: the upload's lock taken for the
 *                         gateway, which appends the chunk on the volume; 201 {}: append through storage
 *   PUT /volume/renew/<id>     201 {held}: that lock renewed (false: it lapsed)
 *   PUT /volume/appended/<id>  (APPEND_HEADERS, VOLUME_HEADERS.size, .sha256 optional: the whole
 *                         upload's digest) 201 = the upload's new state; the lock goes
 *   PUT /volume/release/<id>   201 {}: the chunk given up; the lock goes
 *   errors                JSON {code,message} with the API's status
 * Several storage URLs are used round robin; one that refuses connections is tried last for a
 * few seconds (a killed replica), so the other replicas keep serving.
 */
export class HttpDataPlane implements DataPlane, VolumeBooks {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4, keepAliveMsecs: 10_000 });
  /** Data-plane connections (uploads and downloads); the agent serves only readiness probes. */
  private readonly pool = new ConnectionPool();
  private readonly reader: BlobReader;
  private readonly secretHeader: string;
  private next = 0;
  private readonly downUntil = new Map<string, number>();

  constructor(
    private readonly urls: string[],
    private readonly secret: string,
  ) {
    if (urls.length === 0) throw new Error('storage.urls is empty');
    if (/[\r\n]/.test(secret)) throw new Error('internal.secret must not contain line breaks');
    this.secretHeader = secret ? `${INTERNAL_SECRET_HEADER}: ${secret}` : '';
    this.reader = new BlobReader(this.pool, this.secretHeader);
  }

  /** Replicas in the order to try: round robin, those recently refusing connections last. */
  private order(): string[] {
    const start = this.next++ % this.urls.length;
    const now = Date.now();
    const ring = [...this.urls.slice(start), ...this.urls.slice(0, start)];
    return [...ring.filter((u) => (this.downUntil.get(u) ?? 0) <= now), ...ring.filter((u) => (this.downUntil.get(u) ?? 0) > now)];
  }

  private markDown(url: string, err: NodeJS.ErrnoException): boolean {
    const connectFailure = ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE'].includes(err.code ?? '');
    if (connectFailure) this.downUntil.set(url, Date.now() + 3000);
    return connectFailure;
  }

  /**
   * Runs `attempt` against each replica in `order()` until one can be reached. A connection
   * failure marks the replica down and moves on; an API error (AppError) or any other failure is
   * the answer. Nobody reachable: 503.
   */
  private async firstReachable<T>(attempt: (url: string) => Promise<T>): Promise<T> {
    let lastErr: unknown;
    for (const url of this.order()) {
      try {
        return await attempt(url);
      } catch (err) {
        if (err instanceof AppError) throw err;
        lastErr = err;
        if (!this.markDown(url, err as NodeJS.ErrnoException)) break;
      }
    }
    throw Object.assign(new AppError('unavailable'), { cause: lastErr });
  }

  createBlob(opts: { maxBytes: number }): BlobWriter {
    const w = this.put<StoredBlob>('/blobs', opts.maxBytes, [], undefined, true);
    return Object.assign(w.writer, { done: w.answer });
  }

  /** `PUT /uploads`: the record's fields follow the bytes as a trailer (the ttl may come last). */
  createUpload(opts: { maxBytes: number; meta: Promise<UploadMeta> }): UploadWriter {
    opts.meta.catch(() => undefined); // awaited only at the end; a refusal before must not go unhandled
    const w = this.put<UploadRecord>('/uploads', opts.maxBytes, [], { name: UPLOAD_TRAILER, value: async () => encodeUploadMeta(await opts.meta) }, true);
    const done = w.answer.then((r): StoredBlob => ({ key: r.blob, size: r.size, sha256: r.sha256 }));
    done.catch(() => undefined);
    return Object.assign(w.writer, { done, record: w.answer });
  }

  /** A small form's bytes: `PUT /uploads` with everything at once (head, one chunk and the trailers in one write). */
  storeUpload(opts: { bytes: Buffer; maxBytes: number; meta: UploadMeta }): Promise<UploadRecord> {
    if (opts.bytes.length > opts.maxBytes) return Promise.reject(new AppError('file_too_large'));
    const { connect, put } = this.putParts(opts.maxBytes, [], { name: UPLOAD_TRAILER, value: () => encodeUploadMeta(opts.meta) }, true);
    return putWhole<UploadRecord>(this.pool, connect, '/uploads', put, opts.bytes);
  }

  /** `PUT /resumable/<id>`: the chunk's bytes; storage checks offset and owner before it takes one. */
  appendUpload(o: AppendOptions): AppendWriter {
    const w = this.put<ResumableState>(`/resumable/${encodeURIComponent(o.id)}`, o.maxBytes, appendHeaders(o));
    return Object.assign(w.writer, { state: w.answer });
  }

  /**
   * A chunked PUT to a replica (blob-upload.ts). The connection is made before a byte is
   * accepted: a replica that refuses (killed, restarting) is skipped for the next one, so no upload
   * fails for a replica that was gone before it began. Once bytes flow, a failure fails the upload
   * (503): the stream cannot be replayed.
   */
  private put<T>(path: string, maxBytes: number, headers: string[] = [], trailer?: { name: string; value: () => Promise<string> | string }, digest = false) {
    const { connect, put } = this.putParts(maxBytes, headers, trailer, digest);
    return putWriter<T>(this.pool, connect, path, put);
  }

  /** The headers, trailers and replica choice of a data-plane PUT (put, storeUpload). */
  private putParts(maxBytes: number, headers: string[], trailer: { name: string; value: () => Promise<string> | string } | undefined, digest: boolean) {
    const lines = ['content-type: application/octet-stream', `${MAX_BYTES_HEADER}: ${maxBytes}`, ...headers];
    // The Trailer header announces exactly the trailers that follow the body.
    const announced = [...(trailer ? [trailer.name] : []), ...(digest ? [DIGEST_TRAILER] : [])];
    if (announced.length > 0) lines.push(`trailer: ${announced.join(', ')}`);
    if (this.secretHeader) lines.push(this.secretHeader);
    const connect = () => this.firstReachable(async (url) => ({ url, conn: (await this.pool.acquire(url)).conn }));
    const trailers = trailer && (async () => [`${trailer.name}: ${await trailer.value()}`]);
    const put: PutOptions = { headers: lines, trailers, digestTrailer: digest ? DIGEST_TRAILER : undefined };
    return { connect, put };
  }

  async probeVolume(name: string, token: string): Promise<boolean> {
    return (await this.volumeRequest<{ shared: boolean }>(`probe/${name}`, [`${VOLUME_HEADERS.probe}: ${token}`])).shared === true;
  }

  async guardPlaced(key: string): Promise<void> {
    await this.volumeRequest(`guard/${key}`);
  }

  async dropPlaced(key: string): Promise<void> {
    await this.volumeRequest(`drop/${key}`);
  }

  recordPlaced(blob: StoredBlob, meta: UploadMeta): Promise<UploadRecord> {
    const headers = [`${VOLUME_HEADERS.size}: ${blob.size}`, `${VOLUME_HEADERS.sha256}: ${blob.sha256}`];
    return this.volumeRequest<UploadRecord>(`uploads/${blob.key}`, headers, { name: UPLOAD_TRAILER, value: () => encodeUploadMeta(meta) });
  }

  async beginAppend(o: AppendOptions): Promise<PlacedAppend | undefined> {
    const placed = await this.volumeRequest<Partial<PlacedAppend>>(`append/${encodeURIComponent(o.id)}`, appendHeaders(o), undefined, o.maxBytes);
    return placed.appendKey === undefined ? undefined : (placed as PlacedAppend);
  }

  async renewAppend(id: string): Promise<boolean> {
    return (await this.volumeRequest<{ held: boolean }>(`renew/${encodeURIComponent(id)}`)).held === true;
  }

  endAppend(o: AppendOptions, chunk: { size: number; sha256?: string }): Promise<ResumableState> {
    // The gateway checked the chunk's checksum: storage gets the whole upload's digest instead.
    const headers = [...appendHeaders({ ...o, checksum: undefined }), `${VOLUME_HEADERS.size}: ${chunk.size}`];
    if (chunk.sha256) headers.push(`${VOLUME_HEADERS.sha256}: ${chunk.sha256}`);
    return this.volumeRequest<ResumableState>(`appended/${encodeURIComponent(o.id)}`, headers, undefined, o.maxBytes);
  }

  async releaseAppend(id: string): Promise<void> {
    await this.volumeRequest(`release/${encodeURIComponent(id)}`);
  }

  /** `PUT /volume/<path>` with no body: head and trailers in one write (putWhole), storage's JSON answer. */
  private volumeRequest<T>(path: string, headers: string[] = [], trailer?: { name: string; value: () => string }, maxBytes = 0): Promise<T> {
    const { connect, put } = this.putParts(maxBytes, headers, trailer, false);
    return putWhole<T>(this.pool, connect, `/volume/${path}`, put, Buffer.alloc(0));
  }

  /**
   * Downloads: `GET /blobs/<key>` with a Range, read by BlobReader into a reused socket buffer (see
   * there). Reads are idempotent: a replica that cannot be reached is skipped for the next one.
   */
  sendBlob(key: string, range: ByteRange, sink: BlobSink): Promise<void> {
    metrics.blobReads.inc({ from: 'storage' });
    return this.firstReachable((url) => this.reader.send(url, key, range, sink));
  }

  async ping(): Promise<void> {
    const url = this.order()[0];
    await new Promise<void>((resolve, reject) => {
      const req = request(`${url}/readyz`, { agent: this.agent, timeout: 2000 }, (res) => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else reject(new AppError('unavailable'));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => reject(new AppError('unavailable')));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
    this.pool.close();
  }
}

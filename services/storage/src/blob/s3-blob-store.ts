/**
 * Blobs in an S3 bucket (AWS, MinIO, Ceph RGW, s3rver). Layout: `<prefix><key>` per blob, one
 * object each, written by a multipart upload fed from the stream (no temp file, no whole-file
 * buffer: at most `queueSize` parts of `partSize` bytes in memory). sha256 is computed while
 * streaming. A failed or aborted write aborts the multipart upload, and where the server
 * cannot abort, the object is deleted in case it was completed. It does not set object ACLs,
 * lifecycle rules or server-side encryption: configure those on the bucket.
 */
import { PassThrough, type Readable } from 'node:stream';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AppError, HashingBlobWriter, isId, type BlobWriter, type ByteRange, type Config, type Logger } from '@fileshare/shared';
import type { BlobStore, CreateBlobOptions } from './blob-store.js';

export interface S3Options {
  bucket: string;
  prefix: string;
  partSize: number;
  queueSize: number;
  createBucket: boolean;
  client: S3ClientConfig;
}

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;

  constructor(
    private readonly opts: S3Options,
    private readonly log: Logger,
  ) {
    this.client = new S3Client({
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...opts.client,
    });
  }

  /** From config; credentials come from the usual AWS environment variables / files. */
  static async fromConfig(cfg: Config, log: Logger): Promise<S3BlobStore> {
    const store = new S3BlobStore(
      {
        bucket: cfg['blob.s3.bucket'],
        prefix: cfg['blob.s3.prefix'],
        partSize: cfg['blob.s3.partSize'],
        queueSize: cfg['blob.s3.queueSize'],
        createBucket: cfg['blob.s3.createBucket'],
        client: {
          region: cfg['blob.s3.region'],
          endpoint: cfg['blob.s3.endpoint'] || undefined,
          forcePathStyle: cfg['blob.s3.forcePathStyle'],
        },
      },
      log,
    );
    await store.init();
    return store;
  }

  /** Checks the bucket (creating it when configured to); the error names what is wrong. */
  async init(): Promise<void> {
    const { bucket } = this.opts;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 && this.opts.createBucket) {
        try {
          await this.client.send(new CreateBucketCommand({ Bucket: bucket }));
          this.log.info({ bucket }, 'created S3 bucket');
        } catch (createErr) {
          // Another replica created it first: fine if it is there now.
          await this.client.send(new HeadBucketCommand({ Bucket: bucket })).catch(() => Promise.reject(createErr as Error));
        }
        return;
      }
      const why =
        status === 404
          ? 'does not exist (set blob.s3.createBucket=true to create it)'
          : status === 403
            ? 'access denied (check AWS credentials)'
            : String((err as Error).message || err);
      throw new Error(
        `S3 bucket "${bucket}" at ${typeof this.opts.client.endpoint === 'string' ? this.opts.client.endpoint : this.opts.client.endpoint ? 'the configured endpoint' : 'AWS'}: ${why}`,
      );
    }
  }

  private objectKey(key: string): string {
    if (!isId(key)) throw new AppError('not_found');
    return this.opts.prefix + key;
  }

  create(key: string, opts: CreateBlobOptions): BlobWriter {
    return new S3BlobWriter(this, this.objectKey(key), key, opts);
  }

  /** Runs the multipart upload of `body` to `objectKey`. */
  upload(objectKey: string, body: Readable): Upload {
    return new Upload({
      client: this.client,
      params: { Bucket: this.opts.bucket, Key: objectKey, Body: body, ContentType: 'application/octet-stream' },
      partSize: this.opts.partSize,
      queueSize: this.opts.queueSize,
      leavePartsOnError: false,
    });
  }

  async open(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.opts.bucket, Key: this.objectKey(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      return out.Body as Readable;
    } catch (err) {
      if (isMissing(err)) throw new AppError('not_found');
      throw err;
    }
  }

  async delete(key: string): Promise<number> {
    const Key = this.objectKey(key);
    let size = 0;
    try {
      size = (await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key }))).ContentLength ?? 0;
    } catch (err) {
      if (!isMissing(err)) throw err;
      return 0;
    }
    await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key }));
    return size;
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.opts.bucket }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** Remove an object that a failed upload may have completed. */
  async discard(objectKey: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: objectKey })).catch(() => undefined);
  }
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/** Bytes -> sha256 + a PassThrough that lib-storage cuts into parts. */
class S3BlobWriter extends HashingBlobWriter {
  private readonly body = new PassThrough({ highWaterMark: 1024 * 1024 });
  private upload?: Upload;
  private uploading?: Promise<unknown>;

  constructor(
    private readonly store: S3BlobStore,
    private readonly objectKey: string,
    key: string,
    opts: CreateBlobOptions,
  ) {
    super(key, opts);
  }

  override _construct(cb: (err?: Error | null) => void): void {
    Promise.resolve(this.opts.onStart?.()).then(() => {
      this.upload = this.store.upload(this.objectKey, this.body);
      this.uploading = this.upload.done();
      this.uploading.catch(() => undefined);
      cb();
    }, cb);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const err = this.account([chunk]);
    if (err) return cb(err);
    // lib-storage holds chunks until a part is full; the caller may reuse one once cb ran.
    if (this.body.write(Buffer.from(chunk))) cb();
    else this.body.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    try {
      this.finishDigest();
    } catch (err) {
      return cb(err as Error);
    }
    this.body.end();
    this.uploading!.then(() => {
      this.commit();
      cb();
    }, cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.committed) return cb(err);
    this.failed(err);
    this.body.destroy();
    const cleanup = async () => {
      await this.upload?.abort().catch(() => undefined); // s3rver cannot abort: the delete below covers it
      await this.uploading?.catch(() => undefined);
      await this.store.discard(this.objectKey);
    };
    cleanup().then(
      () => cb(err),
      () => cb(err),
    );
  }
}

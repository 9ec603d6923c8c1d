import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric, defined once. One registry per process: in the all-in-one mode
 * the four services share it and /metrics shows them all; a standalone service shows its own.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'fileshare_' });

const opts = { registers: [registry] };

/** One label set's HTTP requests not yet handed to the counter (`requestCount`). */
interface Tally {
  labels: { route: string; method: string; status: string };
  n: number;
}
const requestTallies: Tally[] = [];

export const metrics = {
  httpRequests: new Counter({
    ...opts,
    name: 'fileshare_http_requests_total',
    help: 'HTTP requests by route, method and status.',
    labelNames: ['route', 'method', 'status'],
    // Counted in plain numbers (requestCount); handed over whenever the registry is read.
    collect() {
      for (const t of requestTallies)
        if (t.n > 0) {
          this.inc(t.labels, t.n);
          t.n = 0;
        }
    },
  }),
  httpDuration: new Histogram({
    ...opts,
    name: 'fileshare_http_request_duration_seconds',
    help: 'HTTP request latency by route and method.',
    labelNames: ['route', 'method'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  }),
  bytesIn: new Counter({ ...opts, name: 'fileshare_bytes_received_total', help: 'File bytes received from clients.' }),
  bytesOut: new Counter({ ...opts, name: 'fileshare_bytes_sent_total', help: 'File bytes sent to clients.' }),
  uploadsInFlight: new Gauge({ ...opts, name: 'fileshare_uploads_in_flight', help: 'Uploads being received.' }),
  blobReads: new Counter({
    ...opts,
    name: 'fileshare_blob_reads_total',
    help: "Blob reads of a standalone gateway (downloads, and small files read once into its cache), by where the bytes came from: the fs blobs on its data directory (volume; blob.fs.gatewayReads) or storage's data plane (storage).",
    labelNames: ['from'] as const,
  }),
  blobWrites: new Counter({
    ...opts,
    name: 'fileshare_blob_writes_total',
    help: "New blobs and resumable chunks of a standalone gateway on the fs blobs' volume (uploads, session files, PATCHes), by where their bytes were written: onto the volume by the gateway (volume; blob.fs.gatewayWrites) or by storage through its data plane (storage).",
    labelNames: ['to'] as const,
  }),
  volumeShared: new Gauge({
    ...opts,
    name: 'fileshare_blob_volume_shared',
    help: "1 while storage sees the files a standalone gateway writes on the fs blobs' volume (its last probe; blob.fs.gatewayWrites): large uploads and resumable chunks are written there by the gateway; 0: through storage.",
  }),
  downloadsInFlight: new Gauge({ ...opts, name: 'fileshare_downloads_in_flight', help: 'Downloads being sent.' }),
  tokens: new Counter({ ...opts, name: 'fileshare_tokens_total', help: 'Download tokens by outcome (issued, consumed, refused).', labelNames: ['outcome'] }),
  expirySweeps: new Counter({ ...opts, name: 'fileshare_expiry_sweeps_total', help: 'Expiry sweeps run.' }),
  expiryDeleted: new Counter({ ...opts, name: 'fileshare_expiry_items_deleted_total', help: 'Items deleted by expiry, by kind.', labelNames: ['kind'] }),
  expiryBytes: new Counter({ ...opts, name: 'fileshare_expiry_bytes_deleted_total', help: 'Bytes deleted by expiry.' }),
  expiryErrors: new Counter({ ...opts, name: 'fileshare_expiry_errors_total', help: 'Expiry items that failed and will be retried.' }),
  busDuration: new Histogram({
    ...opts,
    name: 'fileshare_bus_request_duration_seconds',
    help: 'Bus request latency by subject.',
    labelNames: ['subject'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
  }),
  busErrors: new Counter({ ...opts, name: 'fileshare_bus_request_errors_total', help: 'Bus requests that failed, by subject and error code.', labelNames: ['subject', 'code'] }),
  authFailures: new Counter({ ...opts, name: 'fileshare_auth_failures_total', help: 'Failed authentications.' }),
  storageFull: new Counter({ ...opts, name: 'fileshare_storage_full_total', help: 'Writes refused because the disk, quota or bucket is full (answered 507).' }),
  authRefused: new Counter({
    ...opts,
    name: 'fileshare_auth_refused_total',
    help: 'Authentications refused before any password check: throttled (429) or verifier queue full (503).',
    labelNames: ['reason'] as const,
  }),
};

/**
 * The request counter of one (route, method, status), for a caller that resolves it once and
 * counts every request: a plain number, handed to `fileshare_http_requests_total` when /metrics is
 * read. (prom-client builds and looks up a hash of the label object on every `inc`: ~2 % of a 4 KiB
 * GET's samples.)
 */
export function requestCount(route: string, method: string, status: string): { inc(): void } {
  const t: Tally = { labels: { route, method, status }, n: 0 };
  requestTallies.push(t);
  return {
    inc: () => {
      t.n++;
    },
  };
}

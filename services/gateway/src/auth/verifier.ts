import { Worker } from 'node:worker_threads';
import { AppError, SCRYPT_MAXMEM, metrics, parseHash, type Logger } from '@fileshare/shared';

/** Nice value of the hash threads (0 normal, 19 lowest). */
const NICE = 10;

/**
 * The worker's whole program: scrypt run synchronously on the worker's own thread. Not on libuv's
 * thread pool (4 threads), which the fs blob store's reads and writes need: a burst of password
 * checks there stalled every upload and download of the process (17-21 s for a 4 KiB upload).
 * Eval'd, so it needs no file beside the compiled one.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync, timingSafeEqual } = require('node:crypto');
// Lower this thread's priority (on Linux, setpriority(0) is per thread): when the cores are busy,
// serving requests goes before checking strangers' passwords.
try { require('node:os').setPriority(0, ${NICE}); } catch {}
parentPort.on('message', ({ id, password, N, r, p, salt, expected, maxmem }) => {
  let ok = false;
  try {
    const actual = scryptSync(password, Buffer.from(salt), expected.length, { N, r, p, maxmem });
    ok = timingSafeEqual(actual, Buffer.from(expected));
  } catch {
    ok = false;
  }
  parentPort.postMessage({ id, ok });
});
`;

interface Job {
  password: string;
  hash: string;
  resolve(ok: boolean): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  job?: Job;
  id: number;
}

export interface VerifierOptions {
  /** Worker threads computing hashes at once (each ~32 MiB while it runs). */
  threads: number;
  /** Checks that may wait for a thread, all clients together; more are refused with 503. */
  queue: number;
}

/**
 * Password checks with their own bounded concurrency: `threads` workers, and a queue of at most
 * `queue` waiting checks served round-robin by client address, so that one address with many
 * checks waiting delays another address's check by at most one hash per waiting address. A full
 * queue answers 503 `auth_busy` with Retry-After. Workers are started on first use and replaced
 * if one dies.
 */
export class PasswordVerifier {
  private readonly slots: Slot[] = [];
  /** Waiting checks per client address, in arrival order of the addresses. */
  private readonly waiting = new Map<string, Job[]>();
  private queued = 0;
  private seq = 0;
  private closed = false;

  constructor(
    private readonly opts: VerifierOptions,
    private readonly log: Logger,
  ) {}

  /** Whether `password` matches the encoded hash; false for a malformed hash. Throws 503 when full. */
  verify(password: string, hash: string, client: string): Promise<boolean> {
    if (this.closed) return Promise.reject(new AppError('unavailable'));
    if (this.queued >= this.opts.queue) {
      metrics.authRefused.inc({ reason: 'busy' });
      return Promise.reject(new AppError('auth_busy', undefined, { 'Retry-After': '1' }));
    }
    return new Promise<boolean>((resolve, reject) => {
      let list = this.waiting.get(client);
      if (!list) this.waiting.set(client, (list = []));
      list.push({ password, hash, resolve, reject });
      this.queued++;
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const list of this.waiting.values()) for (const j of list) j.reject(new AppError('unavailable'));
    this.waiting.clear();
    this.queued = 0;
    for (const s of this.slots) s.job?.reject(new AppError('unavailable'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queued > 0) {
      const slot = this.freeSlot();
      if (!slot) return;
      // Round robin: the first address in the map gives one job and moves to the back.
      const [client, list] = this.waiting.entries().next().value!;
      const job = list.shift()!;
      this.waiting.delete(client);
      if (list.length) this.waiting.set(client, list);
      this.queued--;
      this.run(slot, job);
    }
  }

  private freeSlot(): Slot | undefined {
    const idle = this.slots.find((s) => !s.job);
    if (idle) return idle;
    if (this.slots.length < this.opts.threads) return this.spawn();
    return undefined;
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, name: 'password-verifier' });
    worker.unref();
    const slot: Slot = { worker, id: 0 };
    worker.on('message', (m: { id: number; ok: boolean }) => {
      const job = slot.job;
      if (!job || m.id !== slot.id) return;
      slot.job = undefined;
      job.resolve(m.ok);
      this.dispatch();
    });
    worker.on('error', (err) => this.lost(slot, err));
    worker.on('exit', (code) => {
      if (!this.closed) this.lost(slot, new Error(`password verifier exited with code ${code}`));
    });
    this.slots.push(slot);
    return slot;
  }

  private lost(slot: Slot, err: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    this.log.error({ err: String(err) }, 'password verifier thread lost; starting another');
    slot.job?.reject(err);
    slot.job = undefined;
    void slot.worker.terminate();
    this.dispatch();
  }

  private run(slot: Slot, job: Job): void {
    const h = parseHash(job.hash);
    if (!h) return job.resolve(false);
    slot.job = job;
    slot.id = ++this.seq;
    slot.worker.postMessage({ id: slot.id, password: job.password, N: h.N, r: h.r, p: h.p, salt: h.salt, expected: h.expected, maxmem: SCRYPT_MAXMEM });
  }
}

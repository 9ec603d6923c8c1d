import { createHash, type Hash } from 'node:crypto';
import { BoundedMap } from '../bounded-map.js';

/** Growing blobs whose hash state a process keeps at once; past this the oldest is dropped (its completion reads the bytes instead). */
const MAX_CARRIED = 10_000;

/**
 * The sha256 state of each growing blob (a resumable upload's bytes on an Appendable store),
 * carried in this process from one append to the next, so completion needs no second pass over
 * the bytes. Node cannot export a hash state, so it cannot go into the record: when consecutive
 * chunks reach different storage replicas (or gateways appending on the shared volume), or the
 * process restarted, the state is missing or behind, and completion hashes by reading the blob once
 * (docs/resumable-uploads.md has both costs). A state moves only when its append was durable: each
 * append works on a copy.
 *
 * Storage keeps states of its own appends and, for a gateway's appends on the volume, the digest
 * that gateway carried (`keepDigest`): enough to seal there, not to continue from.
 */
export class CarriedHashes {
  private readonly states = new BoundedMap<string, { at: number; hash?: Hash; digest?: string }>(MAX_CARRIED);

  /** A hash to continue at byte `at`: fresh at 0, a copy of the carried one, or none. */
  from(key: string, at: number): Hash | undefined {
    if (at === 0) return createHash('sha256');
    const s = this.states.get(key);
    return s?.at === at ? s.hash?.copy() : undefined;
  }

  /** The state after a durable append that ended at `at`. */
  keep(key: string, at: number, hash: Hash): void {
    this.states.set(key, { at, hash });
  }

  /** The hex digest of the first `at` bytes, as another process carried it (undefined: none, forget any). */
  keepDigest(key: string, at: number, digest: string | undefined): void {
    if (digest === undefined) this.states.delete(key);
    else this.states.set(key, { at, digest });
  }

  /** The digest of the first `length` bytes, when the carried state is exactly there; forgets it. */
  take(key: string, length: number): string | undefined {
    const s = this.states.get(key);
    this.states.delete(key);
    if (s?.at !== length) return undefined;
    return s.digest ?? s.hash?.digest('hex');
  }

  forget(key: string): void {
    this.states.delete(key);
  }
}

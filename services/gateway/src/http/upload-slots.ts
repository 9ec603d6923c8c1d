import { AppError, metrics } from '@fileshare/shared';

/**
 * Uploads in flight per user on this gateway (`limits.maxUploadsPerUser`): one user cannot take
 * every connection's worth of disk bandwidth. Per gateway, not global: the limit is against
 * accidents and greed, not a quota.
 */
export class UploadSlots {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly perUser: number) {}

  /** Reserve a slot for `user` (429 `too_many_uploads` when none is left); the returned function releases it, once. */
  begin(user: string): () => void {
    const n = this.inFlight.get(user) ?? 0;
    if (n >= this.perUser) throw new AppError('too_many_uploads');
    this.inFlight.set(user, n + 1);
    metrics.uploadsInFlight.inc();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      metrics.uploadsInFlight.dec();
      const left = (this.inFlight.get(user) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(user);
      else this.inFlight.set(user, left);
    };
  }
}

/**
 * Counts authentication attempts per client address and per user name in a fixed window: the
 * failures so far plus the checks still in flight. An attempt is counted when it starts, before
 * its hash is computed, so a concurrent burst is throttled as a sequential one is: with
 * `max` = 10, an address with 10 checks running or failed gets 429 on the 11th at once.
 * Bounded memory: at most `MAX_KEYS` keys, oldest dropped first (keys with checks in flight are
 * kept).
 */
const MAX_KEYS = 50_000;

interface Count {
  failures: number;
  inFlight: number;
  resetAt: number;
}

export interface Blocked {
  /** Seconds until the address or user may try again (0: allowed). */
  client: number;
  user: number;
}

export class FailureThrottle {
  private readonly counts = new Map<string, Count>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  private keys(client: string, user?: string): string[] {
    return user ? [`ip:${client}`, `user:${user}`] : [`ip:${client}`];
  }

  /** How long the client address and the user are blocked (seconds; 0 when allowed). */
  blockedFor(client: string, user?: string): Blocked {
    return { client: this.wait(`ip:${client}`), user: user ? this.wait(`user:${user}`) : 0 };
  }

  private wait(key: string): number {
    const c = this.counts.get(key);
    if (!c) return 0;
    const now = Date.now();
    const failures = c.resetAt > now ? c.failures : 0;
    if (failures + c.inFlight < this.max) return 0;
    // Blocked by checks still running only: they end within a hash's time.
    return failures >= this.max ? Math.max(1, Math.ceil((c.resetAt - now) / 1000)) : 1;
  }

  /** An attempt starts (counted against both until `end`). */
  begin(client: string, user?: string): void {
    for (const k of this.keys(client, user)) this.entry(k).inFlight++;
  }

  /** The attempt started by `begin` is over; `failed` counts it as a failure in the window. */
  end(client: string, user: string | undefined, failed: boolean): void {
    const now = Date.now();
    for (const k of this.keys(client, user)) {
      const c = this.entry(k);
      c.inFlight = Math.max(0, c.inFlight - 1);
      if (!failed) continue;
      if (c.resetAt <= now) {
        c.failures = 0;
        c.resetAt = now + this.windowMs;
      }
      c.failures++;
    }
  }

  private entry(key: string): Count {
    let c = this.counts.get(key);
    if (c) return c;
    if (this.counts.size >= MAX_KEYS) {
      for (const [k, v] of this.counts) {
        if (v.inFlight === 0) {
          this.counts.delete(k);
          break;
        }
      }
    }
    c = { failures: 0, inFlight: 0, resetAt: Date.now() + this.windowMs };
    this.counts.set(key, c);
    return c;
  }
}

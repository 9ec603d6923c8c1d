/**
 * Counts failed authentications per client address and per user name in a fixed window.
 * Bounded memory: at most `MAX_KEYS` keys, oldest dropped first.
 */
const MAX_KEYS = 50_000;

export class FailureThrottle {
  private readonly counts = new Map<string, { n: number; resetAt: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  private keys(client: string, user?: string): string[] {
    return user ? [`ip:${client}`, `user:${user}`] : [`ip:${client}`];
  }

  /** Seconds until this client/user may try again; 0 when allowed. */
  blockedFor(client: string, user?: string): number {
    const now = Date.now();
    let wait = 0;
    for (const k of this.keys(client, user)) {
      const c = this.counts.get(k);
      if (c && c.resetAt > now && c.n >= this.max) wait = Math.max(wait, Math.ceil((c.resetAt - now) / 1000));
    }
    return wait;
  }

  fail(client: string, user?: string): void {
    const now = Date.now();
    for (const k of this.keys(client, user)) {
      let c = this.counts.get(k);
      if (!c || c.resetAt <= now) {
        this.counts.delete(k);
        c = { n: 0, resetAt: now + this.windowMs };
        if (this.counts.size >= MAX_KEYS) this.counts.delete(this.counts.keys().next().value!);
        this.counts.set(k, c);
      }
      c.n++;
    }
  }
}

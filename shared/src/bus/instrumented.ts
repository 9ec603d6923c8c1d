import { isAppError } from '../errors.js';
import { metrics } from '../metrics.js';
import type { Bus, CommandSubject, Protocol, ReplyOf, RequestOf } from './bus.js';

/**
 * Wraps a bus so every request is timed and every failure counted (by subject and error code).
 * Each subject's histogram child is resolved once: prom-client hashes a label object on every
 * call otherwise, on every request of the hot paths.
 */
export function instrumented<P extends Protocol>(bus: Bus<P>): Bus<P> {
  const timers = new Map<string, { observe(seconds: number): void }>();
  const timer = (subject: string) => {
    let t = timers.get(subject);
    if (!t) timers.set(subject, (t = metrics.busDuration.labels(subject)));
    return t;
  };
  return {
    async request<S extends CommandSubject<P>>(subject: S, body: RequestOf<P, S>, timeoutMs?: number): Promise<ReplyOf<P, S>> {
      const started = performance.now();
      try {
        return await bus.request(subject, body, timeoutMs);
      } catch (err) {
        metrics.busErrors.inc({ subject, code: isAppError(err) ? err.code : 'unknown' });
        throw err;
      } finally {
        timer(subject).observe((performance.now() - started) / 1000);
      }
    },
    serve: (s, q, h) => bus.serve(s, q, h),
    publish: (s, e) => bus.publish(s, e),
    announce: (s, e) => bus.announce(s, e),
    subscribe: (s, g, h) => bus.subscribe(s, g, h),
    watch: (s, w, gap) => bus.watch(s, w, gap),
    caughtUp: () => bus.caughtUp(),
    caughtUpNow: () => bus.caughtUpNow(),
    ping: () => bus.ping(),
    close: () => bus.close(),
  };
}

import { isAppError } from '../errors.js';
import { metrics } from '../metrics.js';
import type { Bus } from './bus.js';

/** Wraps a bus so every request is timed and every failure counted (by subject and error code). */
export function instrumented(bus: Bus): Bus {
  return {
    async request<T>(subject: string, body: unknown, timeoutMs?: number): Promise<T> {
      const end = metrics.busDuration.startTimer({ subject });
      try {
        return await bus.request<T>(subject, body, timeoutMs);
      } catch (err) {
        metrics.busErrors.inc({ subject, code: isAppError(err) ? err.code : 'unknown' });
        throw err;
      } finally {
        end();
      }
    },
    serve: (s, q, h) => bus.serve(s, q, h),
    publish: (s, e) => bus.publish(s, e),
    subscribe: (s, g, h) => bus.subscribe(s, g, h),
    ping: () => bus.ping(),
    close: () => bus.close(),
  };
}

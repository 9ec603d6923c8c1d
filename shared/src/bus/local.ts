import type { Logger } from 'pino';
import { AppError, toAppError } from '../errors.js';
import type { FileshareProtocol } from '../protocol.js';
import {
  stamped,
  subjectMatches,
  type Bus,
  type CommandHandler,
  type CommandSubject,
  type EventHandler,
  type EventSubject,
  type EventWatcher,
  type Protocol,
  type ReplyOf,
  type RequestOf,
  type WireEventHandler,
  type WireHandler,
  type WireWatcher,
} from './bus.js';

/**
 * In-process bus for the all-in-one mode. Commands call the handler directly (round robin
 * among handlers of one subject); events are delivered after the current tick to one handler
 * per group; watchers are told at once, before `publish` returns. Nothing is persisted: in this mode the process is the whole system.
 */
export class LocalBus<P extends Protocol = FileshareProtocol> implements Bus<P> {
  private readonly handlers = new Map<string, WireHandler[]>();
  private readonly next = new Map<string, number>();
  private readonly groups = new Map<string, { subject: string; handlers: WireEventHandler[]; next: number }>();
  private readonly watchers: { subject: string; watcher: WireWatcher }[] = [];
  private inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly log?: Logger) {}

  async request<S extends CommandSubject<P>>(subject: S, body: RequestOf<P, S>): Promise<ReplyOf<P, S>> {
    if (this.closed) throw new AppError('unavailable');
    const list = this.handlers.get(subject);
    if (!list || list.length === 0) throw new AppError('unavailable');
    const i = (this.next.get(subject) ?? 0) % list.length;
    this.next.set(subject, i + 1);
    const p = list[i](body);
    this.inFlight.add(p);
    try {
      return await p;
    } catch (err) {
      // A full disk under a record write is 507 like one under a blob write; the rest is internal.
      throw toAppError(err, this.log, { subject, on: 'command handler' });
    } finally {
      this.inFlight.delete(p);
    }
  }

  serve<S extends CommandSubject<P>>(subject: S, _queue: string, handler: CommandHandler<P, S>): void {
    const list = this.handlers.get(subject) ?? [];
    list.push(handler);
    this.handlers.set(subject, list);
  }

  async publish<S extends EventSubject<P>>(subject: S, event: P['events'][S]): Promise<void> {
    if (this.closed) throw new AppError('unavailable');
    const wire = stamped(event);
    for (const w of this.watchers) {
      if (!subjectMatches(w.subject, subject)) continue;
      try {
        w.watcher(wire, subject);
      } catch (err) {
        this.log?.error({ err, subject }, 'event watcher failed');
      }
    }
    for (const g of this.groups.values()) {
      if (!subjectMatches(g.subject, subject) || g.handlers.length === 0) continue;
      const h = g.handlers[g.next++ % g.handlers.length];
      const p = Promise.resolve()
        .then(() => h(wire, subject))
        .catch((err) => this.log?.error({ err, subject }, 'event handler failed'))
        .finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
  }

  announce<S extends EventSubject<P>>(subject: S, event: P['events'][S]): void {
    this.publish(subject, event).catch((err) => this.log?.error({ err, subject }, 'event not published'));
  }

  async subscribe<S extends string>(subject: S, group: string, handler: EventHandler<P, S>): Promise<void> {
    const key = `${group}\u0000${subject}`;
    const g = this.groups.get(key) ?? { subject, handlers: [], next: 0 };
    g.handlers.push(handler as WireEventHandler);
    this.groups.set(key, g);
  }

  /** Nothing is ever missed in one process: `onGap` is never told. */
  async watch<S extends string>(subject: S, watcher: EventWatcher<P, S>): Promise<void> {
    this.watchers.push({ subject, watcher: watcher as WireWatcher });
  }

  /** Watchers are told inside `publish`: nothing to wait for. */
  caughtUp(): Promise<void> {
    return this.closed ? Promise.reject(new AppError('unavailable')) : Promise.resolve();
  }

  caughtUpNow(): boolean {
    return !this.closed;
  }

  async ping(): Promise<void> {
    if (this.closed) throw new AppError('unavailable');
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
  }
}

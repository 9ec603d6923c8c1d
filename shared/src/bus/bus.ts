import { newId } from '../ids.js';
/**
 * The message bus: the seam between services. Same service code runs on the in-process
 * implementation (all-in-one) and on NATS (distributed); `test/contracts/bus.contract.ts`
 * runs against both.
 */

import type { FileshareProtocol } from '../protocol.js';

/**
 * What travels on a bus: each command subject with its request and reply, each event subject
 * with its payload. `FileshareProtocol` (protocol.ts) is the product's; tests declare their own.
 */
export interface Protocol {
  commands: { [subject: string]: { request: unknown; reply: unknown } };
  events: { [subject: string]: object };
}

export type CommandSubject<P extends Protocol = FileshareProtocol> = keyof P['commands'] & string;
export type EventSubject<P extends Protocol = FileshareProtocol> = keyof P['events'] & string;
export type RequestOf<P extends Protocol, S extends CommandSubject<P>> = P['commands'][S]['request'];
export type ReplyOf<P extends Protocol, S extends CommandSubject<P>> = P['commands'][S]['reply'];
/** The payload of events matching `pattern`: one subject's own, or any event's for a wildcard. */
export type EventOf<P extends Protocol, S extends string> = S extends EventSubject<P> ? P['events'][S] : P['events'][EventSubject<P>];

/** Answers one command. Throw `AppError` to answer with that error; anything else is `internal`. */
export type CommandHandler<P extends Protocol, S extends CommandSubject<P>> = (body: RequestOf<P, S>) => Promise<ReplyOf<P, S>>;
export type EventHandler<P extends Protocol, S extends string> = (event: EventOf<P, S>, subject: EventSubject<P>) => Promise<void>;

/** Told each watched event as it passes (synchronous: a watcher keeps no work, it updates state). */
export type EventWatcher<P extends Protocol, S extends string> = (event: EventOf<P, S>, subject: EventSubject<P>) => void;

/** How implementations keep handlers: the wire carries untyped JSON, `Bus` types both ends. */
export type WireHandler = (body: unknown) => Promise<unknown>;
export type WireEventHandler = (event: unknown, subject: string) => Promise<void>;
export type WireWatcher = (event: unknown, subject: string) => void;

export interface Bus<P extends Protocol = FileshareProtocol> {
  /**
   * Send a command to one replica of the serving service and wait for its answer.
   * Rejects with the `AppError` the handler threw, or `unavailable` (503) when no replica
   * answers within `timeoutMs` (default: `bus.requestTimeout`) or the bus is disconnected.
   */
  request<S extends CommandSubject<P>>(subject: S, body: RequestOf<P, S>, timeoutMs?: number): Promise<ReplyOf<P, S>>;
  /** Answer `subject`; replicas serving with the same `queue` share the load, each command goes to one. */
  serve<S extends CommandSubject<P>>(subject: S, queue: string, handler: CommandHandler<P, S>): void;
  /**
   * Publish an event (subject under `fileshare.evt.`) and wait until the bus holds it durably
   * (JetStream ack on NATS); rejects `unavailable` when it does not. Events carry ids, owner and
   * time; never bytes or secrets.
   */
  publish<S extends EventSubject<P>>(subject: S, event: P['events'][S]): Promise<void>;
  /**
   * Publish without waiting, for callers whose answer must not wait on the event stream (a
   * request's hot path): a failure is logged, `close()` waits for announcements in flight.
   */
  announce<S extends EventSubject<P>>(subject: S, event: P['events'][S]): void;
  /**
   * Receive events matching `subject` (NATS wildcards allowed). Each event goes to one member of
   * `group` (a durable consumer on NATS), at least once; the handler's rejection redelivers it.
   * Only events published after the group first subscribed are delivered.
   */
  subscribe<S extends string>(subject: S, group: string, handler: EventHandler<P, S>): Promise<void>;
  /**
   * Watch events matching `subject` as they are published: every watcher gets every event from
   * the time `watch` resolves, while it is connected, and nothing is kept for a watcher that is
   * away; `onGap` is told when some may have been missed (the connection dropped or came back).
   * For caches that must forget what other processes delete, not for work (that is `subscribe`).
   * The in-process bus tells watchers before `publish`/`announce` returns.
   */
  watch<S extends string>(subject: S, watcher: EventWatcher<P, S>, onGap?: () => void): Promise<void>;
  /**
   * Resolves once this process's watchers have been told every event whose `publish` had
   * returned before the call: what a cache awaits before serving a kept record, so a delete
   * whose answer a client has already seen is never served from it. Rejects (`unavailable`)
   * when that cannot be known (the connection is down).
   * The in-process bus tells watchers inside `publish`: at once.
   */
  caughtUp(): Promise<void>;
  /**
   * Whether `caughtUp` would resolve at once, so that a kept record may be served in the same
   * turn, without a promise: the in-process bus while open. NATS: never (only a PING tells).
   */
  caughtUpNow(): boolean;
  /** Rejects when the bus is not usable (for /readyz). */
  ping(): Promise<void>;
  /** Stop receiving, let in-flight handlers answer and announcements go out, then disconnect. */
  close(): Promise<void>;
}

/** NATS-style subject match: `*` one token, `>` the rest. */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/** The version of every event's payload (docs/events.md); a change that breaks a consumer makes it 2. */
export const EVENT_VERSION = 1;

/**
 * What goes on the wire for an event: its payload with `v` (EVENT_VERSION) and `id` (unique per
 * event: a consumer that may see a redelivery drops repeats by it). Both buses publish this.
 */
export const stamped = <T extends object>(event: T): T & { v: number; id: string } => ({ v: EVENT_VERSION, id: newId(), ...event });

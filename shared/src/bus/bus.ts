/**
 * The message bus: the seam between services. Same service code runs on the in-process
 * implementation (all-in-one) and on NATS (distributed); `test/contracts/bus.contract.ts`
 * runs against both.
 */

/** Answers one command. Throw `AppError` to answer with that error; anything else is `internal`. */
export type CommandHandler = (body: any) => Promise<unknown>;
export type EventHandler = (event: any, subject: string) => Promise<void>;

export interface Bus {
  /**
   * Send a command to one replica of the serving service and wait for its answer.
   * Rejects with the `AppError` the handler threw, or `unavailable` (503) when no replica
   * answers within `timeoutMs` (default: `bus.requestTimeout`) or the bus is disconnected.
   */
  request<T = unknown>(subject: string, body: unknown, timeoutMs?: number): Promise<T>;
  /** Answer `subject`; replicas serving with the same `queue` share the load, each command goes to one. */
  serve(subject: string, queue: string, handler: CommandHandler): void;
  /**
   * Publish an event (subject under `fileshare.evt.`). Resolves once the bus holds it
   * durably (JetStream ack on NATS). Events carry ids, owner and time; never bytes or secrets.
   */
  publish(subject: string, event: Record<string, unknown>): Promise<void>;
  /**
   * Receive events matching `subject` (NATS wildcards allowed). Each event goes to one member of
   * `group` (a durable consumer on NATS), at least once; the handler's rejection redelivers it.
   * Only events published after the group first subscribed are delivered.
   */
  subscribe(subject: string, group: string, handler: EventHandler): Promise<void>;
  /** Rejects when the bus is not usable (for /readyz). */
  ping(): Promise<void>;
  /** Stop receiving, let in-flight handlers answer, then disconnect. */
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

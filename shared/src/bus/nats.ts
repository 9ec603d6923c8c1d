import {
  AckPolicy,
  DeliverPolicy,
  Events,
  connect,
  headers as natsHeaders,
  type ConsumerMessages,
  type JetStreamClient,
  type Msg,
  type NatsConnection,
  type Subscription,
} from 'nats';
import type { Logger } from 'pino';
import { AppError, errorFromWire, toAppError } from '../errors.js';
import { EVENT_PREFIX, EVENT_STREAM } from '../protocol.js';
import type { FileshareProtocol } from '../protocol.js';
import { Requests } from './nats-requests.js';
import {
  stamped,
  type Bus,
  type CommandHandler,
  type CommandSubject,
  type EventHandler,
  type EventSubject,
  type EventWatcher,
  type Protocol,
  type ReplyOf,
  type RequestOf,
  type WireWatcher,
} from './bus.js';

const ERROR_CODE_HEADER = 'Fileshare-Error-Code';
const ERROR_MESSAGE_HEADER = 'Fileshare-Error-Message';
const enc = new TextEncoder();
const dec = new TextDecoder();
const encode = (v: unknown) => enc.encode(v === undefined ? '' : JSON.stringify(v));
const decode = (d: Uint8Array): unknown => (d.length === 0 ? undefined : JSON.parse(dec.decode(d)));

export interface NatsBusOptions {
  servers: string[];
  /** Connection name shown by the NATS server (`fileshare-<service>`). */
  name: string;
  requestTimeout: number;
  log: Logger;
}

/**
 * NATS implementation. Commands are core request/reply with queue groups (load shared by
 * replicas, errors as code+message headers, a throwing handler still answers). Events go to
 * the JetStream stream FILESHARE_EVENTS (file storage, 7 days), so a consumer that is down
 * gets them later. While the connection is down, requests fail fast with 503 instead of
 * waiting for a server that is not there; the client reconnects forever on its own.
 */
export class NatsBus<P extends Protocol = FileshareProtocol> implements Bus<P> {
  private connected = true;
  private readonly subs: Subscription[] = [];
  private readonly consumers: ConsumerMessages[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly requests: Requests;
  /** Watchers' `onGap`: told when the connection drops and when it comes back. */
  private readonly gaps: (() => void)[] = [];
  /** `caughtUp`: the PING out, and the one its callers' successors wait for. */
  private pingOut: Promise<void> | undefined;
  private pingNext: Promise<void> | undefined;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly opts: NatsBusOptions,
  ) {
    void this.watchStatus();
    this.requests = new Requests(nc, opts.log);
  }

  /** Connects (retrying until `connectTimeoutMs`), and makes sure the event stream exists. */
  static async connect<P extends Protocol = FileshareProtocol>(opts: NatsBusOptions, connectTimeoutMs = 30_000): Promise<NatsBus<P>> {
    const deadline = Date.now() + connectTimeoutMs;
    let lastErr: unknown;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      try {
        const nc = await connect({
          servers: opts.servers,
          name: opts.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          waitOnFirstConnect: false,
          pingInterval: 5_000,
          maxPingOut: 2,
          // An Error per request for async stack traces costs measurable CPU on the hot path.
          noAsyncTraces: true,
        });
        const jsm = await nc.jetstreamManager({ timeout: opts.requestTimeout });
        try {
          await jsm.streams.info(EVENT_STREAM);
        } catch {
          await jsm.streams.add({ name: EVENT_STREAM, subjects: [`${EVENT_PREFIX}>`], max_age: 7 * 86400 * 1e9 }).catch(async (err) => {
            // Another replica created it first.
            await jsm.streams.info(EVENT_STREAM).catch(() => Promise.reject(err as Error));
          });
        }
        return new NatsBus<P>(nc, nc.jetstream({ timeout: opts.requestTimeout }), opts);
      } catch (err) {
        lastErr = err;
        opts.log.warn({ err: String(err), servers: opts.servers, attempt }, 'nats not reachable yet, retrying');
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
      }
    }
    throw new Error(`cannot connect to NATS at ${opts.servers.join(',')}: ${String(lastErr)}`);
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === Events.Disconnect) {
        this.connected = false;
        this.opts.log.warn({ server: s.data }, 'nats disconnected');
        this.tellGaps();
      } else if (s.type === Events.Reconnect) {
        this.connected = true;
        this.opts.log.info({ server: s.data }, 'nats reconnected');
        this.tellGaps();
      }
    }
  }

  /** One request; rejects 503 on timeout, when nobody listens, or while disconnected. */
  private exchange(subject: string, data: Uint8Array, timeoutMs: number, now = false): Promise<Msg> {
    if (!this.connected || this.nc.isClosed()) return Promise.reject(new AppError('unavailable'));
    return this.requests.send(subject, data, timeoutMs, now);
  }

  async request<S extends CommandSubject<P>>(subject: S, body: RequestOf<P, S>, timeoutMs?: number): Promise<ReplyOf<P, S>> {
    const msg = await this.exchange(subject, encode(body), timeoutMs ?? this.opts.requestTimeout);
    const errCode = msg.headers?.get(ERROR_CODE_HEADER);
    if (errCode) throw errorFromWire(errCode, msg.headers?.get(ERROR_MESSAGE_HEADER));
    return decode(msg.data);
  }

  serve<S extends CommandSubject<P>>(subject: S, queue: string, handler: CommandHandler<P, S>): void {
    const sub = this.nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err) {
          this.opts.log.error({ err: String(err), subject }, 'subscription error');
          return;
        }
        const p = (async () => {
          try {
            const result = await handler(decode(msg.data));
            msg.respond(encode(result));
          } catch (e) {
            // A full disk under a record write is 507 like one under a blob write; the rest is internal.
            const appErr = toAppError(e, this.opts.log, { subject, on: 'command handler' });
            const h = natsHeaders();
            h.set(ERROR_CODE_HEADER, appErr.code);
            h.set(ERROR_MESSAGE_HEADER, appErr.message);
            msg.respond(new Uint8Array(0), { headers: h });
          }
        })();
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p));
      },
    });
    this.subs.push(sub);
  }

  /**
   * A JetStream publish is a request whose reply is the stream's acknowledgement
   * (`{"stream","seq"}` or `{"error"}`); sent on the shared inbox like every request, but at once:
   * an event goes out before the reply of the command that caused it, so a gateway watching it
   * (a delete) hears it before the client who asked can ask that gateway anything.
   */
  async publish<S extends EventSubject<P>>(subject: S, event: P['events'][S]): Promise<void> {
    let ack: { stream?: string; error?: { description?: string } } | undefined;
    try {
      ack = decode((await this.exchange(subject, encode(stamped(event)), this.opts.requestTimeout, true)).data) as typeof ack;
    } catch (err) {
      this.opts.log.error({ err: String(err), subject }, 'event publish failed');
      throw new AppError('unavailable');
    }
    if (!ack?.stream || ack.error) {
      this.opts.log.error({ subject, error: ack?.error?.description ?? 'no stream acknowledged it' }, 'event publish failed');
      throw new AppError('unavailable');
    }
  }

  /** Logged by `publish` when it fails; `close()` waits for it like for a command in flight. */
  announce<S extends EventSubject<P>>(subject: S, event: P['events'][S]): void {
    const p = this.publish(subject, event).catch(() => undefined);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  async subscribe<S extends string>(subject: S, group: string, handler: EventHandler<P, S>): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    const durable = group.replace(/[^A-Za-z0-9_-]/g, '_');
    await jsm.consumers
      .add(EVENT_STREAM, {
        durable_name: durable,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        ack_wait: 30e9,
      })
      .catch(() => undefined); // exists already: same definition from another replica
    const consumer = await this.js.consumers.get(EVENT_STREAM, durable);
    const messages = await consumer.consume();
    this.consumers.push(messages);
    void (async () => {
      for await (const m of messages) {
        try {
          await handler(decode(m.data) as Parameters<EventHandler<P, S>>[0], m.subject);
          m.ack();
        } catch (err) {
          this.opts.log.error({ err, subject: m.subject }, 'event handler failed; will be redelivered');
          m.nak(1000);
        }
      }
    })();
  }

  /**
   * A core subscription (no queue group, no consumer): every watcher gets every event the stream
   * is sent while it is connected. Resolves once the server has the subscription.
   */
  async watch<S extends string>(subject: S, watcher: EventWatcher<P, S>, onGap?: () => void): Promise<void> {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          this.opts.log.error({ err: String(err), subject }, 'watch subscription error');
          onGap?.();
          return;
        }
        try {
          (watcher as WireWatcher)(decode(msg.data), msg.subject);
        } catch (e) {
          this.opts.log.error({ err: e, subject: msg.subject }, 'event watcher failed');
        }
      },
    });
    this.subs.push(sub);
    if (onGap) this.gaps.push(onGap);
    await this.nc.flush();
  }

  private tellGaps(): void {
    for (const g of this.gaps) {
      try {
        g();
      } catch (err) {
        this.opts.log.error({ err }, 'event watcher failed');
      }
    }
  }

  /**
   * One PING to the server: its PONG is queued for this connection behind every message already
   * queued for it, and a watched event is queued for every watcher before the server acknowledges
   * the publish, hence before the publisher can answer anyone. Callers share PINGs: those who
   * arrive while one is out wait for the next (one sent earlier may predate what they must see),
   * so at most two are out whatever the load.
   * Exact with one NATS server; across a cluster an event that crosses a route can still trail
   * a PONG by the route's latency.
   */
  caughtUp(): Promise<void> {
    if (!this.connected || this.nc.isClosed()) return Promise.reject(new AppError('unavailable'));
    if (!this.pingOut) return (this.pingOut = this.pingOnce());
    return (this.pingNext ??= this.pingOut.then(
      () => this.nextPing(),
      () => this.nextPing(),
    ));
  }

  /** Only the server can say (a PING): never at once. */
  caughtUpNow(): boolean {
    return false;
  }

  private nextPing(): Promise<void> {
    this.pingNext = undefined;
    return (this.pingOut = this.pingOnce());
  }

  private pingOnce(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const pong: Promise<void> = Promise.race([
      this.nc.flush(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no PONG')), this.opts.requestTimeout))),
    ]).then(
      () => {
        clearTimeout(timer);
        if (this.pingOut === pong) this.pingOut = undefined;
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (this.pingOut === pong) this.pingOut = undefined;
        this.opts.log.warn({ err: String(err) }, 'nats ping for caught-up watchers failed');
        throw new AppError('unavailable');
      },
    );
    return pong;
  }

  async ping(): Promise<void> {
    if (!this.connected || this.nc.isClosed()) throw new AppError('unavailable');
    await this.nc.flush();
  }

  async close(): Promise<void> {
    for (const c of this.consumers) await c.close();
    for (const s of this.subs) s.unsubscribe();
    await Promise.allSettled([...this.inFlight]);
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
    this.requests.abandon();
  }
}

/**
 * Events on Services (and the objects providers own, such as IPPools), deduplicated: the same (object,
 * type, reason, message) is recorded at most once per window, so a failing Service retried with backoff doesn't flood the API. Recording never blocks or
 * fails a sync: Events go through a queue with a few in flight and a bounded backlog; beyond it they are
 * dropped, counted and logged (client-go's broadcaster drops too, at 1000), so a storm costs bounded memory
 * and connections.
 *
 * Normal Events yield to the syncs users wait for: while the controller says it is busy (Services wait
 * for a worker, or a sync began within the last second), a Normal Event is held and goes once it is not,
 * or after HOLD_MAX_MS; a Warning goes at once, with what is held for its own object. An Event costs the
 * apiserver about as much as the two Service writes of a sync together (bench/controllers.ts, local provider:
 * 1000 EnsuredLoadBalancer Events were 5 of its 19 CPU-s and a quarter of the burst's time), so in a burst
 * they now follow the addresses instead of delaying them. At most half the backlog's bound is held; beyond
 * it a Normal Event is sent as before, so holding never drops one.
 */
import * as k8s from '@kubernetes/client-node';
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import type { ServiceObject } from '../model/objects.ts';
import { describeApiError } from './api-error.ts';
import { sendPlain } from './plain-request.ts';

export type EventType = 'Normal' | 'Warning';

/** The object an Event is about. A cluster-scoped one has no namespace: its Events go to `default`. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid: string;
}

export interface EventSink {
  record(svc: ServiceObject, type: EventType, reason: string, message: string): void;
}

export interface EventRecorderOptions {
  component: string;
  instance: string;
  log: Logger;
  windowMs?: number;
  maxKeys?: number;
  /** Events in flight at once; a burst waits in a bounded backlog instead of opening a connection each */
  concurrency?: number;
  maxBacklog?: number;
  /** true while syncs keep coming (the controller's say): Normal Events are held until it is false (or HOLD_MAX_MS) */
  busy?: () => boolean;
  /** how long a Normal Event may be held at most (ms) */
  holdMaxMs?: number;
}

/** How long a Normal Event waits at most for the syncs to drain: a burst's Events then trail by this much. */
export const HOLD_MAX_MS = 30_000;
/** How often held Events look whether the syncs have drained. */
const HOLD_POLL_MS = 100;

interface HeldEvent {
  at: number;
  event: k8s.CoreV1Event;
}

export class EventRecorder implements EventSink {
  private readonly kc: k8s.KubeConfig;
  private readonly seen = new Map<string, number>();
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly options: EventRecorderOptions;
  private enabled = true;
  private readonly sending: PQueue;
  private readonly maxBacklog: number;
  /** Normal Events waiting for the syncs to drain, oldest first */
  private held: HeldEvent[] = [];
  private holdTimer: NodeJS.Timeout | undefined;
  /** Events dropped because the backlog was full (logged once per burst) */
  dropped = 0;
  /** drops since the backlog last had room, for the one log line per burst */
  private droppedInBurst = 0;
  /** events accepted for writing (for tests and benchmarks) */
  written = 0;

  constructor(kc: k8s.KubeConfig, options: EventRecorderOptions) {
    this.kc = kc;
    this.options = options;
    this.windowMs = options.windowMs ?? 10 * 60_000;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.sending = new PQueue({ concurrency: options.concurrency ?? 4 });
    this.maxBacklog = options.maxBacklog ?? 2000;
  }

  /** A replica that lost the lease writes nothing, Events included: what is still queued goes too. */
  disable(): void {
    this.enabled = false;
    this.held = [];
    this.stopHoldTimer();
    this.sending.clear();
  }

  /** Resolves once every accepted Event has been sent (or has failed): held ones are sent now. */
  async idle(): Promise<void> {
    this.release(() => true);
    await this.sending.onIdle();
  }

  /** Events held or queued for sending, not yet sent (for tests and benchmarks) */
  get backlog(): number {
    return this.held.length + this.sending.size + this.sending.pending;
  }

  enable(): void {
    this.enabled = true;
  }

  record(svc: ServiceObject, type: EventType, reason: string, message: string): void {
    const meta = svc.metadata ?? {};
    this.recordOn(
      {
        apiVersion: 'v1',
        kind: 'Service',
        name: meta.name ?? '',
        namespace: meta.namespace ?? '',
        uid: meta.uid ?? '',
      },
      type,
      reason,
      message,
    );
  }

  recordOn(involved: InvolvedObject, type: EventType, reason: string, message: string): void {
    if (!this.enabled) return;
    if (this.sending.size >= this.maxBacklog) {
      this.drop(reason);
      return;
    }
    const key = `${involved.uid}\u0000${type}\u0000${reason}\u0000${message}`;
    const now = Date.now();
    const last = this.seen.get(key);
    if (last !== undefined && now - last < this.windowMs) return;
    this.seen.set(key, now);
    if (this.seen.size > this.maxKeys) this.evict(now);
    const ts = new Date(now);
    const event: k8s.CoreV1Event = {
      // client-go's recorder puts a cluster-scoped object's Events in the default namespace too
      metadata: {
        generateName: `${involved.name || involved.kind.toLowerCase()}.`,
        namespace: involved.namespace || 'default',
      },
      involvedObject: { ...involved },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: ts,
      lastTimestamp: ts,
      source: { component: this.options.component },
      reportingComponent: this.options.component,
      reportingInstance: this.options.instance,
    };
    this.written++;
    if (type === 'Normal' && this.held.length < this.maxBacklog / 2 && this.options.busy?.()) {
      this.held.push({ at: now, event });
      this.holdTimer ??= setInterval(() => this.releaseDue(), HOLD_POLL_MS).unref();
      return;
    }
    // what is held for the same object goes with it: no Warning is seen without the Events before it
    this.release((h) => h.event.involvedObject.uid === involved.uid);
    this.send(event);
  }

  /** Held Events go once the controller is not busy, or once they have waited holdMaxMs. */
  private releaseDue(): void {
    const limit = this.options.busy?.() ? Date.now() - (this.options.holdMaxMs ?? HOLD_MAX_MS) : Infinity;
    this.release((h) => h.at <= limit);
  }

  /** Send the held Events `which` picks, oldest first; the rest stay held. */
  private release(which: (h: HeldEvent) => boolean): void {
    const out = this.held.filter(which);
    if (out.length === 0) return;
    this.held = this.held.filter((h) => !which(h));
    if (this.held.length === 0) this.stopHoldTimer();
    for (const h of out) this.send(h.event);
  }

  private stopHoldTimer(): void {
    if (this.holdTimer) clearInterval(this.holdTimer);
    this.holdTimer = undefined;
  }

  private send(event: k8s.CoreV1Event): void {
    void this.sending.add(async () => {
      try {
        // the answer is not read: sent without client-node's model (de)serialization (plain-request.ts)
        await sendPlain(
          this.kc,
          'POST',
          `/api/v1/namespaces/${encodeURIComponent(event.metadata.namespace ?? 'default')}/events`,
          event,
        );
      } catch (err) {
        this.options.log.warn({ err: describeApiError(err), reason: event.reason }, 'could not record event');
      }
      this.endBurst();
    });
  }

  private drop(reason: string): void {
    this.dropped++;
    if (this.droppedInBurst++ === 0)
      this.options.log.warn(
        { reason, backlog: this.maxBacklog },
        'dropping Events: the backlog is full (the apiserver is slow or unreachable)',
      );
  }

  /** Once the backlog has room again, say how many a burst lost. */
  private endBurst(): void {
    if (this.droppedInBurst === 0 || this.sending.size >= this.maxBacklog / 2) return;
    this.options.log.warn({ dropped: this.droppedInBurst, droppedTotal: this.dropped }, 'dropped Events');
    this.droppedInBurst = 0;
  }

  private evict(now: number): void {
    for (const [k, t] of this.seen) if (now - t >= this.windowMs) this.seen.delete(k);
    // still too many: drop the oldest half
    if (this.seen.size > this.maxKeys) {
      const keys = [...this.seen.keys()].slice(0, Math.floor(this.seen.size / 2));
      keys.forEach((k) => this.seen.delete(k));
    }
  }
}

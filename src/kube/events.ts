/**
 * Events on Services (and the objects providers own, such as IPPools), deduplicated: the same (object,
 * type, reason, message) is recorded at most once per window, so a failing Service retried with backoff doesn't flood the API. Recording never blocks or
 * fails a sync: Events go through a queue with a few in flight and a bounded backlog; beyond it they are
 * dropped, counted and logged (client-go's broadcaster drops too, at 1000), so a storm costs bounded memory
 * and connections.
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
    this.sending.clear();
  }

  /** Resolves once every accepted Event has been sent (or has failed). */
  async idle(): Promise<void> {
    await this.sending.onIdle();
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
        this.options.log.warn({ err: describeApiError(err), reason }, 'could not record event');
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

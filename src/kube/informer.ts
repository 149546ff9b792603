/**
 * An informer that survives. client-node's ListWatch stops on most errors (anything but 410 Gone and its
 * own inactivity timeout): this wrapper restarts it with jittered backoff, so watch errors and apiserver
 * restarts only delay events. After a restart the ListWatch relists as needed and reports what changed.
 * A `transform` trims each object before the cache keeps it (client-go's SetTransform), listed or watched.
 * It lists and watches by plain requests over the controller's own connections (transport.ts), so a listed
 * object is plain JSON as a watched one is (times are strings).
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiStatusCode, describeApiError } from './api-error.ts';
import { plainJson } from './plain-request.ts';
import { PlainWatch } from './transport.ts';

export interface InformerHandlers<T> {
  onAdd?: (obj: T) => void;
  onUpdate?: (obj: T) => void;
  onDelete?: (obj: T) => void;
}

export interface InformerOptions<T = unknown> {
  name: string;
  log: Logger;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** trims an object before it is cached and handed to the handlers (what the controller never reads) */
  transform?: (obj: T) => T;
}

export class ResilientInformer<T extends k8s.KubernetesObject> {
  private readonly lw: k8s.ListWatch<T>;
  private readonly log: Logger;
  private readonly name: string;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private backoffMs: number;
  private stopped = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private failedSinceStart = false;
  private synced = false;
  private readonly syncWaiters: (() => void)[] = [];
  /** counts restarts after errors, for tests and metrics */
  restarts = 0;

  /** Lists and watches `path` (a collection, cluster-wide or in one namespace). */
  constructor(kc: k8s.KubeConfig, path: string, handlers: InformerHandlers<T>, options: InformerOptions<T>) {
    this.name = options.name;
    this.log = options.log.child({ informer: options.name });
    this.minBackoffMs = options.minBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.backoffMs = this.minBackoffMs;
    const transform = options.transform;
    // client-node's ListWatch drives any object with its Watch's `watch` method
    const watch = new PlainWatch(kc) as unknown as k8s.Watch;
    // the list as the apiserver wrote it, as the watch's events are (plain-request.ts)
    const list = () => plainJson<k8s.KubernetesListObject<T>>(kc, 'GET', path);
    let listFn = list;
    if (transform) {
      const watchFn = watch.watch.bind(watch);
      watch.watch = (p, params, callback, done) =>
        watchFn(p, params, (phase, obj: unknown, raw) => callback(phase, trimmed(phase, obj, transform), raw), done);
      listFn = async () => {
        const l = await list();
        l.items = l.items.map(transform);
        return l;
      };
    }
    this.lw = new k8s.ListWatch<T>(path, watch, listFn, false);
    if (handlers.onAdd) this.lw.on(k8s.ADD, handlers.onAdd);
    if (handlers.onUpdate) this.lw.on(k8s.UPDATE, handlers.onUpdate);
    if (handlers.onDelete) this.lw.on(k8s.DELETE, handlers.onDelete);
    this.lw.on(k8s.ERROR, (err: unknown) => this.onError(err));
  }

  /** Start and resolve once the first full list has been delivered. */
  async start(): Promise<void> {
    this.stopped = false;
    void this.run();
    await this.waitForSync();
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  list(): readonly T[] {
    return this.lw.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.lw.stop();
  }

  private async run(): Promise<void> {
    this.failedSinceStart = false;
    try {
      await this.lw.start();
    } catch (err) {
      this.onError(err);
      return;
    }
    if (!this.failedSinceStart && !this.stopped) {
      this.backoffMs = this.minBackoffMs;
      if (!this.synced) {
        this.synced = true;
        this.syncWaiters.splice(0).forEach((w) => w());
      }
    }
  }

  private onError(err: unknown): void {
    this.failedSinceStart = true;
    if (this.stopped || this.restartTimer) return;
    const delay = Math.round(this.backoffMs * (0.8 + Math.random() * 0.4));
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
    // 429 is the apiserver asking us to come back (e.g. a CRD's storage still initialising): not a problem
    const level = apiStatusCode(err) === 429 ? 'info' : 'warn';
    this.log[level]({ err: describeApiError(err), retryInMs: delay }, `${this.name} watch failed; restarting`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      this.restarts++;
      void this.run();
    }, delay);
    this.restartTimer.unref();
  }
}

/** A watch event's object through the transform; an ERROR's Status passes as it is. */
function trimmed<T>(phase: string, obj: unknown, transform: (obj: T) => T): unknown {
  return phase === 'ERROR' || typeof obj !== 'object' || obj === null ? obj : transform(obj as T);
}

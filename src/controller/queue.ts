/**
 * A work queue with client-go semantics: a key is never handed to two workers at once; a key added
 * while in flight is processed again after; duplicates collapse; delayed adds keep the earliest time;
 * per-key exponential backoff (5 s doubling to 300 s by default); graceful drain on shutdown.
 *
 * Keys wait in one of two lanes, each with its own workers: 'full' (Service syncs, bounded by --workers)
 * and 'targets' (targets-only syncs after a node change: I/O-bound provider calls whose real limit is the
 * provider's own rate buckets, so they get a larger concurrency of their own). The lanes share the
 * in-flight set, so a key is still never processed twice at once, whichever lane it came from; a key
 * waiting in 'targets' that is added to 'full' moves there (the stronger reason wins, as with intents).
 */

/** Which workers take a key: 'full' syncs or 'targets'-only syncs. */
export type Lane = 'full' | 'targets';

/** Targets-only syncs at once unless configured (--node-sync-concurrency). */
export const DEFAULT_NODE_SYNC_CONCURRENCY = 128;

interface DelayedAdd {
  at: number;
  lane: Lane;
  fire: (() => void)[];
  timer: NodeJS.Timeout;
}

export interface QueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** observe how long a key waited between add and get (metrics) */
  onLatency?: (ms: number) => void;
  onDepth?: (depth: number) => void;
}

export class WorkQueue {
  private readonly lanes: Record<Lane, string[]> = { full: [], targets: [] };
  private readonly waiters: Record<Lane, ((key: string | undefined) => void)[]> = { full: [], targets: [] };
  /** the lane each dirty key will be handed to */
  private readonly dirty = new Map<string, Lane>();
  private readonly processing = new Set<string>();
  private readonly addedAt = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, DelayedAdd>();
  private readonly idleWaiters: (() => void)[] = [];
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly options: QueueOptions;

  constructor(options: QueueOptions = {}) {
    this.options = options;
    this.baseDelayMs = options.baseDelayMs ?? 5_000;
    this.maxDelayMs = options.maxDelayMs ?? 300_000;
  }

  get length(): number {
    return this.lanes.full.length + this.lanes.targets.length;
  }

  add(key: string, lane: Lane = 'full'): void {
    if (this.shuttingDown) return;
    const pending = this.dirty.get(key);
    if (pending !== undefined) {
      if (pending === 'targets' && lane === 'full') this.promote(key);
      return;
    }
    this.dirty.set(key, lane);
    this.addedAt.set(key, Date.now());
    if (this.processing.has(key)) return;
    this.hand(key, lane);
  }

  /**
   * Add after a delay; an earlier pending time for the same key wins (and a 'full' lane over 'targets'),
   * and the key's next sync cancels it. `onFire` runs when the delay ends, just before the add (a recheck
   * records why the key is queued then, not now: a sync before then must not inherit it); the callbacks of
   * merged delayed adds all run.
   */
  addAfter(key: string, delayMs: number, lane: Lane = 'full', onFire?: () => void): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      onFire?.();
      this.add(key, lane);
      return;
    }
    const at = Date.now() + delayMs;
    const pending = this.timers.get(key);
    const laneOf = pending?.lane === 'full' ? 'full' : lane;
    const fire = [...(pending?.fire ?? []), ...(onFire ? [onFire] : [])];
    if (pending && pending.at <= at) {
      pending.lane = laneOf;
      pending.fire = fire;
      return;
    }
    if (pending) clearTimeout(pending.timer);
    const entry: DelayedAdd = {
      at,
      lane: laneOf,
      fire,
      timer: setTimeout(() => {
        this.timers.delete(key);
        for (const f of entry.fire) f();
        this.add(key, entry.lane);
      }, delayMs),
    };
    entry.timer.unref();
    this.timers.set(key, entry);
  }

  /** Add with per-key exponential backoff; returns the delay chosen. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: reset its backoff. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Wait for the next key of a lane; undefined once shut down and drained. */
  get(lane: Lane = 'full'): Promise<string | undefined> {
    const key = this.lanes[lane].shift();
    if (key !== undefined) {
      this.take(key);
      this.options.onDepth?.(this.length);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters[lane].push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    const lane = this.dirty.get(key);
    if (lane !== undefined) this.hand(key, lane);
    else if (this.processing.size === 0 && this.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
  }

  /** Stop accepting keys; workers finish what they hold, then get() returns undefined. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.lanes.full.length = 0;
    this.lanes.targets.length = 0;
    this.dirty.clear();
    for (const waiting of Object.values(this.waiters)) waiting.splice(0).forEach((w) => w(undefined));
  }

  /** Keys waiting on a delayed add (a backoff, a recheck): they sync again without a new event. */
  scheduled(): string[] {
    return [...this.timers.keys()];
  }

  /** Resolves once nothing is queued or in flight (delayed adds do not count). */
  idle(): Promise<void> {
    if (this.processing.size === 0 && this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A dirty key not in flight: to a worker of its lane waiting for one, or to the back of the lane. */
  private hand(key: string, lane: Lane): void {
    const waiter = this.waiters[lane].shift();
    if (waiter) {
      this.take(key);
      waiter(key);
      return;
    }
    this.lanes[lane].push(key);
    this.options.onDepth?.(this.length);
  }

  /** A key pending for 'targets' is added for a full sync: the full workers take it. */
  private promote(key: string): void {
    this.dirty.set(key, 'full');
    if (this.processing.has(key)) return; // handed to 'full' when its current sync is done
    const waiting = this.lanes.targets;
    waiting.splice(waiting.indexOf(key), 1);
    this.hand(key, 'full');
  }

  private take(key: string): void {
    // a sync starting now reads everything afresh and decides its own next step: a pending delayed add
    // (a recheck, a backoff) for this key is superseded, so it would only repeat this sync
    const pending = this.timers.get(key);
    if (pending) {
      clearTimeout(pending.timer);
      this.timers.delete(key);
    }
    this.dirty.delete(key);
    this.processing.add(key);
    const at = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (at !== undefined) this.options.onLatency?.(Date.now() - at);
  }
}

/** Run `workers` loops taking keys from a lane; resolves once the queue is shut down and drained. */
export async function runWorkers(
  queue: WorkQueue,
  workers: number,
  handle: (key: string) => Promise<void>,
  lane: Lane = 'full',
): Promise<void> {
  const loop = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get(lane);
      if (key === undefined) return;
      try {
        await handle(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
}

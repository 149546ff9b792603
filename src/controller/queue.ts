/**
 * A work queue with client-go semantics: a key is never handed to two workers at once; a key added
 * while in flight is processed again after; duplicates collapse; delayed adds keep the earliest time;
 * per-key exponential backoff (5 s doubling to 300 s by default); graceful drain on shutdown.
 */

export interface QueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** observe how long a key waited between add and get (metrics) */
  onLatency?: (ms: number) => void;
  onDepth?: (depth: number) => void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly addedAt = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
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
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, Date.now());
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.take(key);
      waiter(key);
      return;
    }
    this.queue.push(key);
    this.options.onDepth?.(this.queue.length);
  }

  /** Add after a delay; an earlier pending time for the same key wins, and the key's next sync cancels it. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
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

  /** Wait for the next key; undefined once shut down and drained. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.take(key);
      this.options.onDepth?.(this.queue.length);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      const waiter = this.waiters.shift();
      if (waiter) {
        this.take(key);
        waiter(key);
      } else {
        this.queue.push(key);
        this.options.onDepth?.(this.queue.length);
      }
    } else if (this.processing.size === 0 && this.queue.length === 0) {
      this.idleWaiters.splice(0).forEach((w) => w());
    }
  }

  /** Stop accepting keys; workers finish what they hold, then get() returns undefined. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    this.dirty.clear();
    this.waiters.splice(0).forEach((w) => w(undefined));
  }

  /** Keys waiting on a delayed add (a backoff, a recheck): they sync again without a new event. */
  scheduled(): string[] {
    return [...this.timers.keys()];
  }

  /** Resolves once nothing is queued or in flight (delayed adds do not count). */
  idle(): Promise<void> {
    if (this.processing.size === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
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

/** Run `workers` loops taking keys from the queue; resolves once the queue is shut down and drained. */
export async function runWorkers(
  queue: WorkQueue,
  workers: number,
  handle: (key: string) => Promise<void>,
): Promise<void> {
  const loop = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get();
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

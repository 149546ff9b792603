/**
 * When a node change reaches the load balancers. The first change after a quiet period syncs at once (on
 * the next turn of the event loop, so the events of the same tick go together); changes within the window
 * after a sync are coalesced into one more sync at the window's end, which opens the next window. A fixed
 * delay in front of every change would cost each single change the whole window (a node added, a node
 * gone) to save calls only in bursts.
 */

export interface NodeChangesOptions {
  /** the coalescing window after each sync, ms */
  windowMs: number;
  /** the sync: hand every load balancer whose targets differ to the queue (synchronous) */
  sync: () => void;
}

export class NodeChanges {
  private readonly windowMs: number;
  private readonly sync: () => void;
  /** the next sync or the end of the current window; none while quiet */
  private timer: NodeJS.Timeout | undefined;
  private unsynced = false;
  private waiters: (() => void)[] = [];

  constructor(options: NodeChangesOptions) {
    this.windowMs = options.windowMs;
    this.sync = options.sync;
  }

  /** Whether a change has been noted that no sync has taken yet. */
  get pending(): boolean {
    return this.unsynced;
  }

  /** A node changed in a way targets read. */
  note(): void {
    this.unsynced = true;
    // a sync is already due (this tick's) or a window is open: that timer takes this change
    if (!this.timer) this.arm(0);
  }

  /** Resolves once every change noted so far has been synced (or cancelled). */
  synced(): Promise<void> {
    if (!this.unsynced) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Leadership lost or stopping: nothing pending syncs; the next change starts from quiet. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.unsynced = false;
    this.release();
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), ms);
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    if (!this.unsynced) return; // a window passed without a change: quiet again
    this.unsynced = false;
    this.arm(this.windowMs);
    try {
      this.sync();
    } finally {
      this.release();
    }
  }

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

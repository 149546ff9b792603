/**
 * Who is alive, from the speakers' UDP heartbeats (not from the apiserver: Lease renewals fast enough for
 * sub-second failover would cost every node several API writes a second). Pure bookkeeping with the clock
 * passed in; heartbeat.ts does the sockets.
 *
 * - A peer is alive while its heartbeats keep arriving within the timeout, and a member (it may announce)
 *   once it says it is ready (caches synced, its own start-up wait over).
 * - A peer that says goodbye (clean shutdown) is dead at once, and it is no longer expected: its absence is
 *   not a sign that we are cut off.
 * - Isolated: we have heard peers and now hear none of them. An isolated speaker announces nothing (a node
 *   cut off from the others must not keep answering: they have elected someone else). A speaker that never
 *   heard a peer (a one-node cluster) is not isolated. A peer whose Node is gone or not Ready is no longer
 *   expected, so the survivors of a real node failure do not count themselves cut off forever.
 */
export interface Heartbeat {
  node: string;
  /** the sender's start time (ms): a restarted speaker starts a new incarnation and its sequence again */
  incarnation: number;
  seq: number;
  /** caches synced and start-up wait over: it may announce */
  ready: boolean;
  /** it reaches the apiserver */
  apiserver: boolean;
  /** shutting down: take over now */
  leaving: boolean;
  interfaces: string[];
}

export type HeardResult = 'joined' | 'changed' | 'same' | 'left' | 'stale';

export class Membership {
  readonly self: string;
  readonly timeoutMs: number;
  /** the newest heartbeat of every peer ever heard: older ones (replays, reordering) are ignored */
  readonly #last = new Map<string, Heartbeat>();
  /** alive peers: when each was last heard */
  readonly #heardAt = new Map<string, number>();
  /** peers heard since we started that have not said goodbye or been forgotten */
  readonly #expected = new Set<string>();

  constructor(self: string, timeoutMs: number) {
    this.self = self;
    this.timeoutMs = timeoutMs;
  }

  /** Records a heartbeat. */
  heard(hb: Heartbeat, now: number): HeardResult {
    if (hb.node === this.self) return 'stale';
    const before = this.#last.get(hb.node);
    if (before && !newer(hb, before)) return 'stale';
    this.#last.set(hb.node, hb);
    const wasAlive = this.#heardAt.delete(hb.node);
    if (hb.leaving) return this.#expected.delete(hb.node) || wasAlive ? 'left' : 'stale';
    this.#heardAt.set(hb.node, now);
    this.#expected.add(hb.node);
    if (!wasAlive || !before) return 'joined';
    const same =
      before.ready === hb.ready &&
      before.apiserver === hb.apiserver &&
      before.interfaces.join(',') === hb.interfaces.join(',');
    return same ? 'same' : 'changed';
  }

  /** Drops peers not heard within the timeout; returns their names. */
  expire(now: number): string[] {
    const gone: string[] = [];
    for (const [node, heardAt] of this.#heardAt) {
      if (now - heardAt > this.timeoutMs) {
        this.#heardAt.delete(node);
        gone.push(node);
      }
    }
    return gone;
  }

  /** A peer whose Node was deleted or is not Ready: its silence no longer means we are cut off. */
  forget(node: string): boolean {
    const had = this.#expected.delete(node);
    return this.#heardAt.delete(node) || had;
  }

  get isolated(): boolean {
    return this.#expected.size > 0 && this.#heardAt.size === 0;
  }

  /** Peers heard within the timeout (ready or not). */
  alivePeers(): string[] {
    return [...this.#heardAt.keys()].sort();
  }

  /** Peers that may announce: alive and ready. */
  readyPeers(): Heartbeat[] {
    return [...this.#heardAt.keys()]
      .map((node) => this.#last.get(node)!)
      .filter((hb) => hb.ready)
      .sort((a, b) => (a.node < b.node ? -1 : 1));
  }

  expectedPeers(): string[] {
    return [...this.#expected].sort();
  }
}

function newer(hb: Heartbeat, than: Heartbeat): boolean {
  return hb.incarnation > than.incarnation || (hb.incarnation === than.incarnation && hb.seq > than.seq);
}

/**
 * ClientIP session affinity for the userspace proxy: a table of client address -> node and when the client
 * was last seen, one per Service port (like kube-proxy and our nftables back end, whose affinity sets are per
 * port: ports may have different healthy targets). A client keeps its node while it keeps talking within the
 * Service's timeout and while the node stays a target; a new client, one whose entry expired, or one whose
 * node left gets the next node of the normal spread and a fresh entry. Clients whose node stays never move.
 *
 * How worker threads agree: the main thread owns the authoritative tables (AffinityBroker in
 * userspace-backend.ts). Sharding clients to workers is not possible here: SO_REUSEPORT spreads connections
 * by 4-tuple hash, Node can't attach a reuseport BPF program to steer by source address, and a socket can't
 * be handed between threads. So each worker keeps a cache of the answers it got: a connection (or UDP flow)
 * of a client the worker knows costs one Map lookup, and only an unknown client, an expired entry or a node
 * that left costs a message round trip to the main thread (one per client, not per connection). Workers
 * report what their clients did (touches) in one batch per TOUCH_FLUSH_MS, and the main thread keeps an entry
 * TOUCH_FLUSH_MS * 2 past the timeout, so it never expires an entry a worker may still use; when it gives a
 * client a different node (its node failed a connect) or evicts it for space, it tells every worker to forget
 * it. Everything here is pure (the clock is a parameter) so it is tested alone.
 */
import { plainAddress, RoundRobin } from './userspace-balance.ts';
import type { ProxyService } from './types.ts';

/** How often workers report their clients' activity to the main thread. */
export const TOUCH_FLUSH_MS = 1_000;
/** Entries per table and thread; the size nftables gives a dynamic set by default. */
export const DEFAULT_MAX_ENTRIES = 65_536;

interface Entry {
  node: string;
  lastSeen: number;
}

export interface AffinityTableOptions {
  timeoutMs: number;
  maxEntries?: number;
  /** how long past the timeout an entry is still honoured (the main thread's allowance for batched touches) */
  graceMs?: number;
}

export interface Assignment {
  node: string | undefined;
  /** the client had a live entry for another node: workers that cached it must forget it */
  replaced: boolean;
  /** clients dropped to make room */
  evicted: string[];
}

export class AffinityTable {
  timeoutMs: number;
  readonly #max: number;
  readonly #graceMs: number;
  /** in order of last use, least recent first, so eviction takes the first */
  readonly #entries = new Map<string, Entry>();
  readonly #rr = new RoundRobin();
  /** the port's current targets; undefined until known (then anything goes) */
  #nodes: ReadonlySet<string> | undefined;

  constructor(options: AffinityTableOptions) {
    this.timeoutMs = options.timeoutMs;
    this.#max = Math.max(1, options.maxEntries ?? DEFAULT_MAX_ENTRIES);
    this.#graceMs = options.graceMs ?? 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  #live(e: Entry, now: number): boolean {
    return now - e.lastSeen <= this.timeoutMs + this.#graceMs && (this.#nodes?.has(e.node) ?? true);
  }

  #set(client: string, node: string, at: number): string[] {
    this.#entries.delete(client);
    this.#entries.set(client, { node, lastSeen: at });
    const evicted: string[] = [];
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
      evicted.push(oldest);
    }
    return evicted;
  }

  /** The client's node if its entry is live and `allowed` accepts the node; doesn't count as activity. */
  lookup(client: string, now: number, allowed: (node: string) => boolean = () => true): string | undefined {
    const e = this.#entries.get(plainAddress(client));
    return e !== undefined && this.#live(e, now) && allowed(e.node) ? e.node : undefined;
  }

  /**
   * The authoritative decision: the client's live node if it is one of `candidates`, else the next candidate
   * of the spread; either way the entry is refreshed to `now`.
   */
  assign(client: string, candidates: readonly string[], now: number): Assignment {
    const c = plainAddress(client);
    const known = this.#nodes;
    const current = known === undefined ? candidates : candidates.filter((n) => known.has(n));
    const pool = current.length > 0 ? current : candidates; // a worker ahead of us (apply in flight)
    const e = this.#entries.get(c);
    if (e !== undefined && this.#live(e, now) && pool.includes(e.node)) {
      return { node: e.node, replaced: false, evicted: this.#set(c, e.node, now) };
    }
    const node = this.#rr.pick(pool);
    if (node === undefined) return { node, replaced: false, evicted: [] };
    const replaced = e !== undefined && this.#live(e, now) && e.node !== node;
    return { node, replaced, evicted: this.#set(c, node, now) };
  }

  /** Records the client's node (a worker caching the main thread's answer). */
  remember(client: string, node: string, now: number): void {
    this.#set(plainAddress(client), node, now);
  }

  /**
   * The client talked to `node` at `at`: refresh its entry. An absent or expired entry is taken up again if
   * the node is still a target (the main thread evicted it while a worker still used it); an entry for
   * another node wins (the client was moved meanwhile). Returns whether the entry now says `node`.
   */
  touch(client: string, node: string, at: number): boolean {
    const c = plainAddress(client);
    const e = this.#entries.get(c);
    if (e !== undefined && e.node !== node && this.#live(e, at)) return false;
    if (this.#nodes !== undefined && !this.#nodes.has(node)) return false;
    this.#set(c, node, Math.max(at, e?.node === node ? e.lastSeen : at));
    return true;
  }

  forget(client: string): void {
    this.#entries.delete(plainAddress(client));
  }

  /** The port's targets changed: clients of nodes that left lose their entries; the others keep theirs. */
  retain(nodes: Iterable<string>): void {
    this.#nodes = new Set(nodes);
    for (const [k, e] of this.#entries) if (!this.#nodes.has(e.node)) this.#entries.delete(k);
  }

  /** Drops expired entries; returns how many. */
  sweep(now: number): number {
    let n = 0;
    for (const [k, e] of this.#entries) {
      if (now - e.lastSeen > this.timeoutMs + this.#graceMs) {
        this.#entries.delete(k);
        n++;
      }
    }
    return n;
  }
}

/** The table of one Service port: `namespace/name|TCP|80`. */
export function affinityTableKey(serviceKey: string, protocol: string, port: number): string {
  return `${serviceKey}|${protocol}|${port}`;
}

/** Worker -> main: which node for this client (candidates: the worker's targets, minus nodes that failed). */
export interface AffinityAsk {
  type: 'affinityAsk';
  id: number;
  table: string;
  client: string;
  candidates: string[];
}
/** Main -> worker. */
export interface AffinityAnswer {
  type: 'affinityAnswer';
  id: number;
  node: string | undefined;
}
/** Worker -> main: [table, client, node, time] the client opened or closed a connection / flow. */
export interface AffinityTouches {
  type: 'affinityTouches';
  touches: [string, string, string, number][];
}
/** Main -> workers: drop these cached entries ([table, client]). */
export interface AffinityForget {
  type: 'affinityForget';
  entries: [string, string][];
}

export type FromWorker = AffinityAsk | AffinityTouches;
export type ToWorker = AffinityAnswer | AffinityForget;

export interface AffinityPort {
  table: string;
  timeoutMs: number;
  nodes: string[];
}

/** The affinity tables the Services ask for, with their timeouts and current targets. */
export function affinityPorts(services: readonly ProxyService[]): AffinityPort[] {
  return services
    .filter((s) => s.affinity.type === 'ClientIP')
    .flatMap((s) =>
      s.ports.map((p) => ({
        table: affinityTableKey(s.key, p.protocol, p.port),
        timeoutMs: s.affinity.timeoutSeconds * 1000,
        nodes: p.targets.map((t) => t.name),
      })),
    );
}

function syncTables(
  tables: Map<string, AffinityTable>,
  ports: readonly AffinityPort[],
  make: (timeoutMs: number) => AffinityTable,
): void {
  const wanted = new Set(ports.map((p) => p.table));
  for (const k of tables.keys()) if (!wanted.has(k)) tables.delete(k);
  for (const p of ports) {
    let t = tables.get(p.table);
    if (t === undefined) tables.set(p.table, (t = make(p.timeoutMs)));
    t.timeoutMs = p.timeoutMs;
    t.retain(p.nodes);
  }
}

/** The main thread's side: the authoritative tables, answering workers' asks and taking their touches. */
export class AffinityBroker {
  readonly #tables = new Map<string, AffinityTable>();
  readonly #maxEntries: number | undefined;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries;
    this.#now = options.now ?? Date.now;
  }

  sync(services: readonly ProxyService[]): void {
    syncTables(
      this.#tables,
      affinityPorts(services),
      (timeoutMs) => new AffinityTable({ timeoutMs, maxEntries: this.#maxEntries, graceMs: 2 * TOUCH_FLUSH_MS }),
    );
  }

  table(key: string): AffinityTable | undefined {
    return this.#tables.get(key);
  }

  /** Answers an ask; `forget` lists cached entries every worker must drop (moved or evicted clients). */
  ask(m: AffinityAsk): { answer: AffinityAnswer; forget: [string, string][] } {
    const t = this.#tables.get(m.table);
    if (t === undefined) return { answer: { type: 'affinityAnswer', id: m.id, node: undefined }, forget: [] };
    const a = t.assign(m.client, m.candidates, this.#now());
    const forget: [string, string][] = a.evicted.map((c) => [m.table, c]);
    if (a.replaced) forget.push([m.table, plainAddress(m.client)]);
    return { answer: { type: 'affinityAnswer', id: m.id, node: a.node }, forget };
  }

  touches(m: AffinityTouches): void {
    for (const [table, client, node, at] of m.touches) this.#tables.get(table)?.touch(client, node, at);
  }

  sweep(): void {
    const now = this.#now();
    for (const t of this.#tables.values()) t.sweep(now);
  }
}

export interface WorkerAffinityOptions {
  post: (m: FromWorker) => void;
  now?: () => number;
  maxEntries?: number;
  /** a main thread that doesn't answer within this long: the caller falls back to the plain spread */
  askTimeoutMs?: number;
}

/** A worker's side: a cache of the main thread's answers, and the activity it has yet to report. */
export class WorkerAffinity {
  readonly #tables = new Map<string, AffinityTable>();
  readonly #touches = new Map<string, [string, string, string, number]>();
  readonly #asks = new Map<number, (node: string | undefined) => void>();
  readonly #inflight = new Map<string, Promise<string | undefined>>();
  readonly #post: (m: FromWorker) => void;
  readonly #now: () => number;
  readonly #maxEntries: number | undefined;
  readonly #askTimeoutMs: number;
  #nextId = 1;

  constructor(options: WorkerAffinityOptions) {
    this.#post = options.post;
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries;
    this.#askTimeoutMs = options.askTimeoutMs ?? 2_000;
  }

  sync(ports: readonly AffinityPort[]): void {
    syncTables(this.#tables, ports, (timeoutMs) => new AffinityTable({ timeoutMs, maxEntries: this.#maxEntries }));
  }

  /**
   * The client's node among `candidates`: synchronously from the cache (the hot path), else a promise of the
   * main thread's answer (undefined: no answer, use the plain spread).
   */
  choose(table: string, client: string, candidates: readonly string[]): string | Promise<string | undefined> {
    const now = this.#now();
    const node = this.#tables.get(table)?.lookup(client, now, (n) => candidates.includes(n));
    if (node !== undefined) {
      this.touch(table, client, node, now);
      return node;
    }
    const key = `${table}\0${client}\0${candidates.join(',')}`;
    let p = this.#inflight.get(key);
    if (p === undefined) {
      const id = this.#nextId++;
      p = new Promise<string | undefined>((resolve) => {
        const timer = setTimeout(() => this.#answer(id, undefined), this.#askTimeoutMs);
        timer.unref();
        this.#asks.set(id, (n) => {
          clearTimeout(timer);
          this.#inflight.delete(key);
          if (n !== undefined) this.#tables.get(table)?.remember(client, n, this.#now());
          resolve(n);
        });
      });
      this.#inflight.set(key, p);
      this.#post({ type: 'affinityAsk', id, table, client, candidates: [...candidates] });
    }
    return p;
  }

  /** The client opened or closed a connection (or flow) to `node` at `at`. */
  touch(table: string, client: string, node: string, at = this.#now()): void {
    if (this.#tables.get(table)?.touch(client, node, at) !== true) return;
    this.#touches.set(`${table}\0${client}`, [table, client, node, at]);
  }

  /** Reports pending activity to the main thread (every TOUCH_FLUSH_MS). */
  flush(): void {
    if (this.#touches.size === 0) return;
    this.#post({ type: 'affinityTouches', touches: [...this.#touches.values()] });
    this.#touches.clear();
  }

  sweep(): void {
    const now = this.#now();
    for (const t of this.#tables.values()) t.sweep(now);
  }

  #answer(id: number, node: string | undefined): void {
    this.#asks.get(id)?.(node);
    this.#asks.delete(id);
  }

  onMessage(m: ToWorker): void {
    if (m.type === 'affinityAnswer') this.#answer(m.id, m.node);
    else for (const [table, client] of m.entries) this.#tables.get(table)?.forget(client);
  }
}

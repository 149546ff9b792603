/**
 * The portable back end: worker threads that each run the TCP/UDP proxy on every VIP:port (SO_REUSEPORT),
 * as many as the machine has cores by default, like HAProxy's nbthread. A worker that dies is replaced and
 * given the last applied state. The main thread keeps the ClientIP affinity tables (see userspace-affinity.ts)
 * and answers the workers' asks about clients they don't know yet.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { silentLogger } from './types.ts';
import { AffinityBroker } from './userspace-affinity.ts';
import type { FromWorker, ToWorker } from './userspace-affinity.ts';
import type { DataplaneLogger, ProxyBackend, ProxyService } from './types.ts';

export interface UserspaceBackendOptions {
  workers?: number;
  /** UDP flows with no datagram for this long are forgotten */
  udpIdleMs?: number;
  /** ClientIP affinity entries kept per Service port (and per worker cache); the least recent go first */
  affinityMaxEntries?: number;
  logger?: DataplaneLogger;
}

interface Reply {
  type: string;
  id: number;
  errors?: string[];
}

const isFromWorker = (m: Reply | FromWorker): m is FromWorker =>
  m.type === 'affinityAsk' || m.type === 'affinityTouches';

export class UserspaceBackend implements ProxyBackend {
  readonly name = 'userspace' as const;
  readonly #count: number;
  readonly #udpIdleMs: number;
  readonly #log: DataplaneLogger;
  readonly #affinity: AffinityBroker;
  readonly #affinityMax: number | undefined;
  #sweep: ReturnType<typeof setInterval> | undefined;
  readonly #workers: (Worker | undefined)[] = [];
  readonly #pending = new Map<number, (r: Reply) => void>();
  #nextId = 1;
  #last: ProxyService[] = [];
  #closing = false;

  constructor(options: UserspaceBackendOptions = {}) {
    this.#count = Math.max(1, options.workers ?? availableParallelism());
    this.#udpIdleMs = options.udpIdleMs ?? 60_000;
    this.#log = options.logger ?? silentLogger;
    this.#affinityMax = options.affinityMaxEntries;
    this.#affinity = new AffinityBroker({ maxEntries: options.affinityMaxEntries });
  }

  #fromWorker(w: Worker, m: FromWorker): void {
    if (m.type === 'affinityTouches') {
      this.#affinity.touches(m);
      return;
    }
    const { answer, forget } = this.#affinity.ask(m);
    w.postMessage(answer satisfies ToWorker);
    if (forget.length === 0) return;
    const msg: ToWorker = { type: 'affinityForget', entries: forget };
    for (const other of this.#workers) other?.postMessage(msg);
  }

  #spawn(index: number): Worker {
    const w = new Worker(new URL('./userspace-worker.ts', import.meta.url), {
      workerData: { index, udpIdleMs: this.#udpIdleMs, affinityMaxEntries: this.#affinityMax },
    });
    w.on('message', (r: Reply | FromWorker) => {
      if (isFromWorker(r)) {
        this.#fromWorker(w, r);
        return;
      }
      this.#pending.get(r.id)?.(r);
      this.#pending.delete(r.id);
    });
    w.on('error', (err: Error) =>
      this.#log.error({ worker: index, err: err.message }, 'userspace proxy worker failed'),
    );
    w.on('exit', (code) => {
      if (this.#closing || this.#workers[index] !== w) return;
      this.#log.warn({ worker: index, code }, 'userspace proxy worker exited; restarting it');
      const next = this.#spawn(index);
      this.#workers[index] = next;
      void this.#send(next, { type: 'apply', services: this.#last }).catch(() => {});
    });
    return w;
  }

  #send(w: Worker, msg: { type: string; services?: ProxyService[] }): Promise<Reply> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      w.postMessage({ ...msg, id });
    });
  }

  async apply(services: ProxyService[]): Promise<void> {
    for (let i = 0; i < this.#count; i++) this.#workers[i] ??= this.#spawn(i);
    this.#last = services;
    this.#affinity.sync(services); // before the workers hear of it: their asks then meet the new targets
    if (this.#sweep === undefined) {
      this.#sweep = setInterval(() => this.#affinity.sweep(), 10_000);
      this.#sweep.unref();
    }
    const replies = await Promise.all(this.#workers.map((w) => this.#send(w!, { type: 'apply', services })));
    // every worker binds the same sockets, so the first worker's errors say it all
    const errors = replies[0]?.errors ?? [];
    if (errors.length > 0) throw new Error(`userspace proxy could not listen: ${errors.join('; ')}`);
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    const workers = this.#workers.filter((w): w is Worker => w !== undefined);
    await Promise.all(workers.map((w) => this.#send(w, { type: 'close' })));
    await Promise.all(workers.map((w) => w.terminate()));
    this.#workers.length = 0;
  }
}

/**
 * The portable back end: worker threads that each run the TCP/UDP proxy on every VIP:port (SO_REUSEPORT),
 * as many as the machine has cores by default, like HAProxy's nbthread. A worker that dies is replaced and
 * given the last applied state. The main thread keeps the ClientIP affinity tables (see userspace-affinity.ts)
 * and answers the workers' asks about clients they don't know yet.
 */
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { silentLogger } from './types.ts';
import { AffinityBroker } from './userspace-affinity.ts';
import type { FromWorker, ToWorker } from './userspace-affinity.ts';
import type { DataplaneLogger, ProxyBackend, ProxyService } from './types.ts';

/** the worker's module beside this one: .ts in the sources, .js in the image's compiled tree (Dockerfile) */
const WORKER_MODULE = new URL(`./userspace-worker${extname(import.meta.url)}`, import.meta.url);

export interface UserspaceBackendOptions {
  workers?: number;
  /** UDP flows with no datagram for this long are forgotten */
  udpIdleMs?: number;
  /** ClientIP affinity entries kept per Service port (and per worker cache); the least recent go first */
  affinityMaxEntries?: number;
  logger?: DataplaneLogger;
  /** the worker thread's module; the one beside this file unless a test starts one that fails */
  workerModule?: URL;
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
  readonly #workerModule: URL;
  #sweep: ReturnType<typeof setInterval> | undefined;
  readonly #workers: (Worker | undefined)[] = [];
  /** workers that have answered at least once: they started, so one that exits is restarted at once */
  readonly #answered = new WeakSet<Worker>();
  /** requests awaiting their worker's reply, by id */
  readonly #pending = new Map<number, { worker: Worker; resolve: (r: Reply) => void }>();
  #nextId = 1;
  #last: ProxyService[] = [];
  #closing = false;

  constructor(options: UserspaceBackendOptions = {}) {
    this.#count = Math.max(1, options.workers ?? availableParallelism());
    this.#udpIdleMs = options.udpIdleMs ?? 60_000;
    this.#log = options.logger ?? silentLogger;
    this.#affinityMax = options.affinityMaxEntries;
    this.#workerModule = options.workerModule ?? WORKER_MODULE;
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
    const w = new Worker(this.#workerModule, {
      workerData: { index, udpIdleMs: this.#udpIdleMs, affinityMaxEntries: this.#affinityMax },
    });
    w.on('message', (r: Reply | FromWorker) => {
      if (isFromWorker(r)) {
        this.#fromWorker(w, r);
        return;
      }
      this.#answered.add(w);
      this.#pending.get(r.id)?.resolve(r);
      this.#pending.delete(r.id);
    });
    let failure = '';
    w.on('error', (err: Error) => {
      failure = `: ${err.message}`;
      this.#log.error({ worker: index, err: err.message }, 'userspace proxy worker failed');
    });
    w.on('exit', (code) => {
      // a worker that dies (or never starts: a module it can't load) answers what it was asked with its death,
      // so apply() fails with the reason instead of waiting forever
      for (const [id, p] of this.#pending) {
        if (p.worker !== w) continue;
        this.#pending.delete(id);
        p.resolve({ type: 'exited', id, errors: [`worker ${index} exited with code ${code}${failure}`] });
      }
      if (this.#closing || this.#workers[index] !== w) return;
      if (this.#answered.has(w)) {
        this.#log.warn({ worker: index, code }, 'userspace proxy worker exited; restarting it');
        this.#restart(index);
        return;
      }
      // one that never answered would fail again at once: pause rather than spin (the next apply() retries too)
      this.#log.error({ worker: index, code }, 'userspace proxy worker could not start; retrying in 5 s');
      this.#workers[index] = undefined;
      setTimeout(() => {
        if (!this.#closing && this.#workers[index] === undefined) this.#restart(index);
      }, 5_000).unref();
    });
    return w;
  }

  #restart(index: number): void {
    const next = this.#spawn(index);
    this.#workers[index] = next;
    void this.#send(next, { type: 'apply', services: this.#last }).catch(() => {});
  }

  #send(w: Worker, msg: { type: string; services?: ProxyService[] }): Promise<Reply> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, { worker: w, resolve });
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

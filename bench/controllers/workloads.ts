/**
 * The workloads, for one contender at a time: burst-create N Services and time each one's address from a
 * watch (client-side timestamps), node churn (a node added, then removed: time until every load balancer
 * was updated), and a restart (time until every Service was synced again, and the writes that cost).
 * Requests are attributed from the audit log by the contender's user, within each phase's time window.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isWrite, requestsOf, tally, type RequestTally } from '../lib/audit.ts';
import { inParallel } from '../lib/kube-http.ts';
import { controlPlanePids, cpuSeconds, memoryMB } from '../lib/proc.ts';
import { sumOf, type Sample } from '../lib/prom-text.ts';
import { percentile } from '../lib/stats.ts';
import type { Cluster } from './cluster.ts';
import { CALL_LINES_POLL_MS, type Contender, type Running } from './contenders.ts';

/** a phase ends once the contender has written no Service and no Event for this long (or SETTLE_CAP_MS) */
const SETTLE_MS = 3000;
const SETTLE_CAP_MS = 180_000;
const CREATE_CONCURRENCY = 32;

/**
 * Waits until the contender's trailing writes are in: Events sent by a rate-limited broadcaster land long
 * after the sync (the upstream controller at 20 qps needs 100 s for 2000 Events). Lease renewals don't count.
 */
async function settle(cluster: Cluster, user: string): Promise<void> {
  const cap = Date.now() + SETTLE_CAP_MS;
  for (;;) {
    await sleep(500);
    cluster.audit.catchUp();
    let last = 0;
    const all = cluster.audit.requests;
    for (let i = all.length - 1; i >= 0 && i >= all.length - 20_000; i--) {
      const r = all[i]!;
      if (r.user === user && isWrite(r.verb) && !r.resource.startsWith('leases')) {
        last = r.receivedMs;
        break;
      }
    }
    if (Date.now() - last > SETTLE_MS || Date.now() > cap) return;
  }
}

export interface BurstResult {
  services: number;
  addressed: number;
  /** first create request -> last address, ms */
  totalMs: number;
  p50Ms: number;
  p99Ms: number;
  /** ms since the first create request at which each Service got its address */
  addressedAtMs: number[];
  requests: RequestTally;
  /** apiserver_request_total by verb over the phase (every client, the benchmark's creates included) */
  apiserverByVerb: Record<string, number>;
  peakRssMB: number;
  rssAfterMB: number;
  cpuSeconds: number;
  /** CPU seconds of the kube-apiserver and etcd over the same window (absent in older runs) */
  controlPlaneCpuSeconds?: number;
}

interface Service {
  metadata?: { name?: string };
  status?: { loadBalancer?: { ingress?: unknown[] } };
}

function byVerb(before: Sample[], after: Sample[]): Record<string, number> {
  const verbs = new Set(after.filter((s) => s.name === 'apiserver_request_total').map((s) => s.labels['verb'] ?? ''));
  const out: Record<string, number> = {};
  for (const v of verbs) {
    const d =
      sumOf(after, 'apiserver_request_total', { verb: v }) - sumOf(before, 'apiserver_request_total', { verb: v });
    if (d > 0) out[v] = d;
  }
  return out;
}

export async function burst(
  cluster: Cluster,
  c: Contender,
  running: Running,
  ns: string,
  n: number,
  timeoutMs: number,
): Promise<BurstResult> {
  const created = new Map<string, number>();
  const addressed = new Map<string, number>();
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const watch = await cluster.api.listWatch<Service>(`/api/v1/namespaces/${ns}/services`, (e) => {
    const name = e.object.metadata?.name ?? '';
    if (e.type === 'DELETED' || addressed.has(name) || !(e.object.status?.loadBalancer?.ingress?.length ?? 0)) return;
    addressed.set(name, performance.now());
    if (addressed.size === n) allDone();
  });
  try {
    await sleep(300);
    const metricsBefore = await cluster.apiserverMetrics();
    const cpuBefore = cpuSeconds(running.proc.pid);
    const controlPlane = controlPlanePids(Number(new URL(cluster.cp.url).port));
    const controlPlaneBefore = sum(controlPlane.map(cpuSeconds));
    const wallStart = Date.now();
    const start = performance.now();
    await inParallel(
      Array.from({ length: n }, (_, i) => `svc-${i}`),
      CREATE_CONCURRENCY,
      async (name) => {
        created.set(name, performance.now());
        await cluster.api.json('POST', `/api/v1/namespaces/${ns}/services`, {
          metadata: { name, namespace: ns },
          spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }] },
        });
      },
    );
    await Promise.race([done, sleep(timeoutMs, undefined, { ref: false })]);
    const end = Math.max(start, ...addressed.values());
    await settle(cluster, c.user);
    const cpu = cpuSeconds(running.proc.pid) - cpuBefore;
    const controlPlaneCpu = sum(controlPlane.map(cpuSeconds)) - controlPlaneBefore;
    const mem = memoryMB(running.proc.pid);
    const metricsAfter = await cluster.apiserverMetrics();
    cluster.audit.catchUp();
    const latencies = [...addressed].map(([name, t]) => t - (created.get(name) ?? t)).sort((a, b) => a - b);
    return {
      services: n,
      addressed: addressed.size,
      totalMs: addressed.size === n ? end - start : NaN,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      addressedAtMs: [...addressed.values()].map((t) => Math.round(t - start)).sort((a, b) => a - b),
      requests: tally(requestsOf(cluster.audit.requests, { user: c.user, fromMs: wallStart, toMs: Date.now() })),
      apiserverByVerb: byVerb(metricsBefore, metricsAfter),
      peakRssMB: mem.peak,
      rssAfterMB: mem.now,
      cpuSeconds: cpu,
      ...(controlPlane.length ? { controlPlaneCpuSeconds: controlPlaneCpu } : {}),
    };
  } finally {
    watch.stop();
  }
}

export interface ChurnResult {
  /** node added -> as many updates answered as there are load balancers, ms */
  addMs: number;
  /** node removed -> as many updates answered as there are load balancers, ms */
  removeMs: number;
  /** node added -> the phase's last update answered (a follow-up sync included), ms */
  addLastMs: number;
  /** node removed -> the phase's last update answered, ms */
  removeLastMs: number;
  addUpdates: number;
  removeUpdates: number;
  updates: number;
  requests: RequestTally;
  cpuSeconds: number;
}

/** no update answered for this long: a phase's follow-up syncs (ours coalesces for 100 ms) are in */
const UPDATES_QUIET_MS = 1000;

/**
 * When the `target`-th update was answered (its line's arrival), or NaN after the timeout. Every side is
 * timed from its fake cloud's lines, looked at every CALL_LINES_POLL_MS; the poll only decides when we
 * move on, never the time measured.
 */
async function updatedAll(running: Running, target: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const at = running.updatedAt()[target - 1];
    if (at !== undefined) return at;
    if (performance.now() > deadline) return NaN;
    await sleep(CALL_LINES_POLL_MS);
  }
}

/** Waits until no update has been answered for UPDATES_QUIET_MS (or the timeout); returns how many there are. */
async function updatesQuiet(running: Running, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const times = running.updatedAt();
    const last = times.at(-1) ?? -Infinity;
    if (performance.now() - last >= UPDATES_QUIET_MS || performance.now() > deadline) return times.length;
    await sleep(CALL_LINES_POLL_MS);
  }
}

export async function nodeChurn(
  cluster: Cluster,
  c: Contender,
  running: Running,
  n: number,
  node: { name: string; ip: string },
  timeoutMs: number,
): Promise<ChurnResult> {
  const wallStart = Date.now();
  const cpuBefore = cpuSeconds(running.proc.pid);
  const times = () => running.updatedAt();
  const base = times().length;
  const added = performance.now();
  await cluster.createNode(node.name, node.ip);
  const addMs = (await updatedAll(running, base + n, timeoutMs)) - added;
  await settle(cluster, c.user); // quiet before the second change
  const mid = await updatesQuiet(running, timeoutMs);
  const addLastMs = mid > base ? times()[mid - 1]! - added : NaN;
  const removed = performance.now();
  await cluster.deleteNode(node.name);
  const removeMs = (await updatedAll(running, mid + n, timeoutMs)) - removed;
  await settle(cluster, c.user);
  const end = await updatesQuiet(running, timeoutMs);
  const removeLastMs = end > mid ? times()[end - 1]! - removed : NaN;
  cluster.audit.catchUp();
  return {
    addMs,
    removeMs,
    addLastMs,
    removeLastMs,
    addUpdates: mid - base,
    removeUpdates: end - mid,
    updates: end - base,
    requests: tally(requestsOf(cluster.audit.requests, { user: c.user, fromMs: wallStart, toMs: Date.now() })),
    cpuSeconds: cpuSeconds(running.proc.pid) - cpuBefore,
  };
}

export interface RestartResult {
  /** process start -> every Service synced again, ms */
  readyMs: number;
  syncs: number;
  requests: RequestTally;
  peakRssMB: number;
}

/** Stops the contender, starts it again (same flags; the fake cloud answers at once), times its resync. */
export async function restart(
  cluster: Cluster,
  c: Contender,
  running: Running,
  n: number,
  timeoutMs: number,
): Promise<{ result: RestartResult; running: Running }> {
  await running.proc.stop();
  const wallStart = Date.now();
  const t0 = performance.now();
  const fresh = await c.start({ latencyMs: 0 });
  const deadline = t0 + timeoutMs;
  let readyMs = NaN;
  while (performance.now() < deadline) {
    if ((await fresh.counts()).syncs >= n) {
      readyMs = performance.now() - t0;
      break;
    }
    await sleep(fresh.pollMs);
  }
  await settle(cluster, c.user);
  return {
    running: fresh,
    result: {
      readyMs,
      syncs: (await fresh.counts()).syncs,
      requests: tally(requestsOf(cluster.audit.requests, { user: c.user, fromMs: wallStart, toMs: Date.now() })),
      peakRssMB: memoryMB(fresh.proc.pid).peak,
    },
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

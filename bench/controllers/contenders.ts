/**
 * The controllers a round runs, one after the other on the same apiserver: ours (the CLI process, with the
 * fake provider answering after the injected latency, or the local provider), the upstream service
 * controller (its fake cloud answering after the same latency) at 1 worker and at ours, at its shipped
 * client rate and raised, MetalLB's controller, and the floor client. Each runs as its own process under
 * its own ServiceAccount, so the audit log attributes its requests.
 */
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../test/harness/ports.ts';
import { PRODUCTION_MALLOC_ENV } from '../../src/cli/runtime-flags.ts';
import { compiledBin } from '../lib/compiled.ts';
import { parsePromText, sumOf } from '../lib/prom-text.ts';
import { deploymentMemoryLimitMiB, withinMemoryLimit } from '../lib/memory-cgroup.ts';
import { spawnProc, type Proc } from '../lib/proc.ts';
import { METALLB_POD } from './cluster.ts';

/**
 * ours as its image runs it: compiled to JavaScript (bench/lib/compiled.ts); OURS_BIN runs another build
 * (e.g. bin/lb-provisioner.js of the checkout: the .ts sources, with Node's type stripping)
 */
const oursBin = (): string => process.env['OURS_BIN'] ?? compiledBin();
const FLOOR = fileURLToPath(new URL('../floor-client.ts', import.meta.url));

/** client-side rate of the upstream controller: the cloud-controller-manager's defaults, or out of the way */
export const SHIPPED_RATE = { qps: 20, burst: 30 };
export const RAISED_RATE = { qps: 10_000, burst: 10_000 };

export interface Counts {
  /** full syncs done: our reconciles, the upstream cloud's EnsureLoadBalancer calls, MetalLB's reconciles */
  syncs: number;
}

export interface Running {
  readonly proc: Proc;
  counts(): Promise<Counts>;
  /**
   * when each update was answered (performance.now() of the fake cloud's line arriving), in order: node
   * churn is timed from these on every side; empty for contenders that report none
   */
  updatedAt(): readonly number[];
  /** how often the restart asks counts(): reading ours from /metrics costs its process a render, lines nothing */
  readonly pollMs: number;
  /** where its time went, from its own metrics (ours: queue wait and sync time per sync), for the log */
  diagnose?(): Promise<string>;
}

/** how often node churn looks at the update lines, the same for ours and the upstream controller (5 ms) */
export const CALL_LINES_POLL_MS = 5;

export interface Identities {
  ours: string;
  upstream: string;
  metallb: string;
  floor: string;
}

export interface Environment {
  kubeconfigs: Identities;
  serviceController: string;
  metallbController: string;
  /** the address pool every allocating controller gets (same size for all) */
  pool: string;
  metallbNamespace: string;
  log: (line: string) => void;
}

export type Kind = 'ours' | 'upstream' | 'metallb' | 'floor';

export interface Contender {
  id: string;
  label: string;
  kind: Kind;
  /** the ServiceAccount user the audit log names */
  user: string;
  workers: number;
  rate: string;
  latencyMs: number;
  /** measured in node churn (those with load balancers that have targets) */
  churn: boolean;
  /** measured in the restart workload */
  restart: boolean;
  /** memoryLimitMiB: ours runs within it (default: its Deployment's limit), in a memory cgroup */
  start(opts?: { latencyMs?: number; memoryLimitMiB?: number }): Promise<Running>;
}

/** Waits until a started process is ready; one that never gets there is killed. */
async function until(
  what: string,
  proc: Proc,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return;
    if (Date.now() > deadline) {
      await proc.stop(0);
      throw new Error(`${proc.name}: ${what} not seen after ${timeoutMs / 1000}s:\n${proc.tail()}`);
    }
    await sleep(50);
  }
}

/** said once per run: ours runs without a memory cgroup */
let warnedNoCgroup = false;

export const USERS = {
  ours: 'system:serviceaccount:lb-provisioner:lb-provisioner',
  upstream: 'system:serviceaccount:bench-system:upstream-service-controller',
  metallb: 'system:serviceaccount:bench-system:metallb-controller',
  floor: 'system:serviceaccount:bench-system:floor-client',
} as const;

export function ours(
  env: Environment,
  o: { provider: 'fake' | 'local'; workers: number; latencyMs: number },
): Contender {
  const c: Contender = {
    id: `ours-${o.provider}`,
    label: o.provider === 'fake' ? `ours (fake cloud, ${o.latencyMs} ms)` : 'ours (local provider)',
    kind: 'ours',
    user: USERS.ours,
    workers: o.workers,
    rate: 'none (pooled connections)',
    latencyMs: o.provider === 'fake' ? o.latencyMs : 0,
    churn: o.provider === 'fake',
    // the fake provider forgets its load balancers with its process; the local provider restores them
    restart: o.provider === 'local',
    async start(startOpts = {}) {
      const port = await freePort('127.0.0.1');
      // the fake cloud prints each answered call (ensure/updateTargets/delete <ns>/<name> ...), as upstream's does
      const fake = o.provider === 'fake';
      // within the memory limit its Deployment gives it: the heap is sized from that limit (runtime-flags.ts)
      // OURS_MEMORY_LIMIT_MIB for profiling: writing a heap snapshot needs about the heap's size again
      const limitMiB =
        startOpts.memoryLimitMiB ?? (Number(process.env['OURS_MEMORY_LIMIT_MIB']) || deploymentMemoryLimitMiB());
      const { cgroup, nodeOptions } = withinMemoryLimit(`lbp-bench-${c.id}-${process.pid}`, limitMiB);
      if (!cgroup && !warnedNoCgroup) {
        warnedNoCgroup = true;
        env.log(
          `no memory cgroup (root and cgroup v1 or v2 memory needed): ours runs with ${nodeOptions} for its ${limitMiB} MiB limit`,
        );
      }
      let ensures = 0;
      const updatedAt: number[] = [];
      const proc = spawnProc(
        process.execPath,
        [
          oursBin(),
          'run',
          '--kubeconfig',
          env.kubeconfigs.ours,
          '--provider',
          o.provider,
          ...(o.provider === 'local' ? ['--pool', env.pool] : []),
          ...(o.provider === 'fake' ? ['--fake-latency-ms', String(c.latencyMs)] : []),
          '--cluster-name',
          'bench',
          '--workers',
          String(o.workers),
          '--metrics-bind-address',
          `127.0.0.1:${port}`,
          '--log-level',
          'warn',
        ],
        {
          name: c.id,
          // the V8 flags it ships with (Dockerfile, Deployment)
          // OURS_NODE_OPTIONS adds flags for profiling (--cpu-prof, --heapsnapshot-signal=SIGUSR2)
          env: {
            ...process.env,
            ...PRODUCTION_MALLOC_ENV,
            NODE_OPTIONS: `${nodeOptions} ${process.env['OURS_NODE_OPTIONS'] ?? ''}`.trim(),
            ...(fake ? { LBP_FAKE_CALL_LINES: '1' } : {}),
          },
          onLine: (line, at) => {
            if (fake && line.startsWith('updateTargets ')) updatedAt.push(at);
            else if (fake && line.startsWith('ensure ')) ensures++;
            else if (!(fake && line.startsWith('delete '))) env.log(`${c.id}: ${line}`);
          },
          ...(cgroup ? { cgroupProcs: cgroup.procs } : {}),
        },
      );
      void proc.exited.then(() => cgroup?.remove());
      const metrics = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
        return parsePromText(await res.text());
      };
      await until(
        'leading (lbprovisioner_leader 1)',
        proc,
        async () => sumOf(await metrics(), 'lbprovisioner_leader') === 1,
      );
      // what a sync waited in the queue and took, on average (ms): where a per-Service latency goes
      const diagnose = async () => {
        const m = await metrics();
        const mean = (name: string, where: Record<string, string> = {}) =>
          ((1000 * sumOf(m, `${name}_sum`, where)) / Math.max(1, sumOf(m, `${name}_count`, where))).toFixed(0);
        const ensures = { operation: 'ensure' };
        return `${sumOf(m, 'lbprovisioner_workqueue_queue_duration_seconds_count')} keys taken, mean queue wait ${mean('lbprovisioner_workqueue_queue_duration_seconds')} ms; ${sumOf(m, 'lbprovisioner_reconcile_duration_seconds_count', ensures)} ensures, mean ${mean('lbprovisioner_reconcile_duration_seconds', ensures)} ms`;
      };
      if (fake)
        return {
          proc,
          diagnose,
          // the fake cloud's answered ensures stand for the syncs: no /metrics render while polling
          counts: async () => ({ syncs: ensures }),
          updatedAt: () => updatedAt,
          pollMs: 25,
        };
      return {
        proc,
        diagnose,
        async counts() {
          const m = await metrics();
          return { syncs: sumOf(m, 'lbprovisioner_reconcile_duration_seconds_count') };
        },
        updatedAt: () => [],
        pollMs: 100,
      };
    },
  };
  return c;
}

export function upstream(
  env: Environment,
  o: { workers: number; rate: 'shipped' | 'raised'; latencyMs: number },
): Contender {
  const rate = o.rate === 'shipped' ? SHIPPED_RATE : RAISED_RATE;
  const c: Contender = {
    id: `upstream-w${o.workers}-${o.rate}`,
    label: `upstream, ${o.workers} worker${o.workers > 1 ? 's' : ''}, ${o.rate === 'shipped' ? `${rate.qps}/${rate.burst} qps` : 'rate raised'}`,
    kind: 'upstream',
    user: USERS.upstream,
    workers: o.workers,
    rate:
      o.rate === 'shipped' ? `${rate.qps} qps / burst ${rate.burst} (shipped)` : `${rate.qps} / ${rate.burst} (raised)`,
    latencyMs: o.latencyMs,
    churn: true,
    restart: true,
    async start(startOpts = {}) {
      let syncs = 0;
      const updatedAt: number[] = [];
      let synced = false;
      const proc = spawnProc(
        env.serviceController,
        [
          '--kubeconfig',
          env.kubeconfigs.upstream,
          `--concurrent-service-syncs=${o.workers}`,
          `--kube-api-qps=${rate.qps}`,
          `--kube-api-burst=${rate.burst}`,
          `--latency=${startOpts.latencyMs ?? o.latencyMs}ms`,
          `--pool=${env.pool}`,
          '--v=0',
        ],
        {
          name: c.id,
          onLine: (line, at) => {
            if (line.startsWith('ensure ')) syncs++;
            else if (line.startsWith('update ')) updatedAt.push(at);
            else if (line === 'synced') synced = true;
          },
        },
      );
      await until('"synced"', proc, () => synced);
      return {
        proc,
        counts: async () => ({ syncs }),
        updatedAt: () => updatedAt,
        pollMs: 25,
      };
    },
  };
  return c;
}

export function metallb(env: Environment): Contender {
  const c: Contender = {
    id: 'metallb',
    label: 'MetalLB controller',
    kind: 'metallb',
    user: USERS.metallb,
    workers: 1,
    // controller-runtime >= 0.15 turns client-go's rate limiter off unless a QPS is set; MetalLB sets none
    rate: 'none (controller-runtime default)',
    latencyMs: 0,
    churn: false,
    restart: true,
    async start() {
      const reconciled = new Set<string>();
      let pools = 0;
      const proc = spawnProc(
        env.metallbController,
        [
          `--namespace=${env.metallbNamespace}`,
          `--pod-name=${METALLB_POD}`,
          '--port=0',
          '--webhook-mode=disabled',
          '--disable-cert-rotation=true',
          `--health-probe-port=${await freePort('127.0.0.1')}`,
          '--log-level=info',
        ],
        {
          name: c.id,
          env: { ...process.env, KUBECONFIG: env.kubeconfigs.metallb },
          onLine: (line) => {
            if (!line.includes('"end reconcile"')) return;
            const m = /"end reconcile":"([^"]+)"/.exec(line);
            if (line.includes('"ServiceReconciler"') && m) reconciled.add(m[1]!);
            else if (line.includes('"PoolReconciler"')) pools++;
          },
        },
      );
      await until('its pool reconciled', proc, () => pools > 0);
      return {
        proc,
        counts: async () => ({ syncs: reconciled.size }),
        updatedAt: () => [],
        pollMs: 25,
      };
    },
  };
  return c;
}

export function floor(env: Environment, o: { workers: number; latencyMs: number }): Contender {
  const c: Contender = {
    id: `floor-${o.latencyMs}ms`,
    label: `floor client${o.latencyMs ? `, ${o.latencyMs} ms` : ''}`,
    kind: 'floor',
    user: USERS.floor,
    workers: o.workers,
    rate: 'none',
    latencyMs: o.latencyMs,
    churn: false,
    restart: false,
    async start() {
      let ready = false;
      let done = 0;
      const proc = spawnProc(
        process.execPath,
        [
          FLOOR,
          '--kubeconfig',
          env.kubeconfigs.floor,
          `--concurrency=${o.workers}`,
          `--latency-ms=${o.latencyMs}`,
          `--pool=${env.pool}`,
        ],
        {
          name: c.id,
          onLine: (line) => {
            if (line === 'ready') ready = true;
            else if (line.startsWith('done ')) done++;
            else env.log(`${c.id}: ${line}`);
          },
        },
      );
      await until('"ready"', proc, () => ready);
      return { proc, counts: async () => ({ syncs: done }), updatedAt: () => [], pollMs: 25 };
    },
  };
  return c;
}

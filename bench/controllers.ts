/**
 * Workloads 1-4 of the anchors benchmark (issue 12): ours and the anchors on one apiserver, one after the
 * other, on identical fresh workloads, in rounds whose order rotates; ratios are taken within a round.
 *
 *   node bench/controllers.ts [--quick] [--out <dir>]
 *     SERVICES (1000; 100 quick)  NODES (100)  ROUNDS (3; 1 quick)  LATENCY_MS (50)  WORKERS (8)
 *     BIG_SERVICES (10000; 0 quick: workload 4 off)  BIG_MEMORY_LIMIT_MIB (512: ours' limit in workload 4)
 *     ONLY (comma-separated contender ids)
 *     PHASES (burst,churn,restart: the phases of each turn; churn and restart need the burst, which always runs)
 *     profiling ours: OURS_NODE_OPTIONS (added to its NODE_OPTIONS), OURS_BIN (another build of it),
 *     BENCH_SIGNAL_OURS (a signal sent to it after the burst, e.g. SIGUSR2 with --heapsnapshot-signal),
 *     OURS_MEMORY_LIMIT_MIB (its memory limit in place of the Deployment's: a heap snapshot needs room)
 *
 * Ours runs in a memory cgroup of its Deployment's limit (root; else with the old space that limit gives).
 * Per contender and round: burst-create SERVICES LoadBalancer Services (each one's address timed from a
 * watch), then node churn (a node added, then removed), then a restart (those two as PHASES says), then its
 * Services are removed.
 * Writes controllers.json, controllers.md and burst.svg into the output directory.
 */
import { parsePhases, type Phase } from './lib/phases.ts';
import { floorApiserverOf, runtimeFloor } from './lib/runtime-floor.ts';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { lineChartSvg } from './lib/chart.ts';
import { machine, now } from './lib/machine.ts';
import { seconds } from './lib/markdown.ts';
import { startCluster, type Cluster } from './controllers/cluster.ts';
import {
  floor,
  metallb,
  ours,
  upstream,
  type Contender,
  type Environment,
  type Running,
} from './controllers/contenders.ts';
import {
  bigTable,
  burstTable,
  churnTable,
  controllerTargets,
  requestMixTable,
  restartTable,
  targetsTable,
  type ControllersRun,
  type TurnResult,
} from './controllers/report.ts';
import { burst, nodeChurn, restart } from './controllers/workloads.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } } });
const QUICK = values.quick;
const env = (name: string, full: number, quick = full): number => Number(process.env[name] ?? (QUICK ? quick : full));
const SERVICES = env('SERVICES', 1000, 100);
const NODES = env('NODES', 100);
const ROUNDS = env('ROUNDS', 3, 1);
const LATENCY_MS = env('LATENCY_MS', 50);
const WORKERS = env('WORKERS', 8);
const BIG = env('BIG_SERVICES', 10_000, 0);
/** the memory limit ours gets for workload 4: its Deployment's, raised as the README says to for 10,000 */
const BIG_MEMORY_LIMIT_MIB = env('BIG_MEMORY_LIMIT_MIB', 512, 512);
const ONLY = process.env['ONLY']?.split(',');
const PHASES: Phase[] = (() => {
  try {
    return parsePhases(process.env['PHASES']);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(2);
  }
})();
/** 16,382 addresses: room for the 10,000-Service workload; every allocating controller gets one this size */
const POOL = '10.64.0.0/18';
const OUT =
  values.out ??
  fileURLToPath(new URL(`./results/${now().slice(0, 10)}-local${QUICK ? '-quick' : ''}/`, import.meta.url));
const log = (line: string) => console.error(`bench: ${line}`);

async function buildAnchors(): Promise<Record<string, string>> {
  log('building the anchors (first run: from the Go module proxy, several minutes)');
  const script = fileURLToPath(new URL('./anchors/build-anchors.sh', import.meta.url));
  const child = run('bash', [script, 'service-controller', 'metallb'], { maxBuffer: 64 << 20 });
  child.child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
  const { stdout } = await child;
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' ') as [string, string]),
  );
}

const timeoutFor = (n: number) => 60_000 + n * 600;

async function turn(
  cluster: Cluster,
  c: Contender,
  round: number,
  ns: string,
  n: number,
  phases: { churn: boolean; restart: boolean; memoryLimitMiB?: number },
): Promise<TurnResult> {
  await cluster.api.json('POST', '/api/v1/namespaces', { metadata: { name: ns } });
  const result: TurnResult = { contender: c.id, round };
  let running: Running | undefined;
  try {
    running = await c.start(phases.memoryLimitMiB ? { memoryLimitMiB: phases.memoryLimitMiB } : {});
    const b = await burst(cluster, c, running, ns, n, timeoutFor(n));
    result.burst = b;
    log(
      `${c.id}: ${b.addressed}/${n} addressed in ${seconds(b.totalMs)} (p99 ${seconds(b.p99Ms)}), ${(b.requests.serviceWrites / n).toFixed(2)} Service writes/Service, peak RSS ${b.peakRssMB.toFixed(0)} MB, CPU ${b.cpuSeconds.toFixed(1)} s, apiserver + etcd CPU ${b.controlPlaneCpuSeconds?.toFixed(1) ?? '?'} s`,
    );
    if (running.diagnose) log(`${c.id}: ${await running.diagnose().catch((err: unknown) => String(err))}`);
    // profiling: e.g. OURS_NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2 BENCH_SIGNAL_OURS=SIGUSR2 for a heap snapshot
    const signal = process.env['BENCH_SIGNAL_OURS'];
    if (signal && c.kind === 'ours') {
      process.kill(running.proc.pid, signal as NodeJS.Signals);
      await new Promise((r) => setTimeout(r, 10_000));
    }
    const complete = b.addressed === n;
    if (complete && phases.churn && c.churn) {
      result.churn = await nodeChurn(
        cluster,
        c,
        running,
        n,
        { name: `churn-${ns}`, ip: `10.201.${round}.${(cluster.audit.requests.length % 250) + 1}` },
        60_000 + n * c.latencyMs * 3,
      );
      log(
        `${c.id}: node added -> all updated ${seconds(result.churn.addMs)} (last ${seconds(result.churn.addLastMs)}, ${result.churn.addUpdates} updates), removed -> ${seconds(result.churn.removeMs)} (last ${seconds(result.churn.removeLastMs)}, ${result.churn.removeUpdates} updates)`,
      );
    }
    if (complete && phases.restart && c.restart) {
      const r = await restart(cluster, c, running, n, timeoutFor(n));
      running = r.running;
      result.restart = r.result;
      const q = r.result.requests;
      log(
        `${c.id}: restarted, all ${n} synced after ${seconds(r.result.readyMs)}: ${q.serviceWrites} Service writes, ${q.eventWrites} Event writes, ${q.otherWrites} other writes`,
      );
    }
  } catch (err) {
    result.error = String(err instanceof Error ? err.message : err);
    log(`${c.id}: ${result.error}`);
  } finally {
    await running?.proc.stop();
    await cluster.emptyNamespace(ns);
  }
  return result;
}

async function main(): Promise<void> {
  const bins = await buildAnchors();
  const cluster = await startCluster({ nodes: NODES, pool: POOL, log });
  try {
    const environment: Environment = {
      kubeconfigs: cluster.kubeconfigs,
      serviceController: bins['service-controller']!,
      metallbController: bins['metallb']!,
      pool: POOL,
      metallbNamespace: cluster.metallbNamespace,
      log,
    };
    const all: Contender[] = [
      ours(environment, { provider: 'fake', workers: WORKERS, latencyMs: LATENCY_MS }),
      upstream(environment, { workers: 1, rate: 'shipped', latencyMs: LATENCY_MS }),
      upstream(environment, { workers: WORKERS, rate: 'shipped', latencyMs: LATENCY_MS }),
      upstream(environment, { workers: 1, rate: 'raised', latencyMs: LATENCY_MS }),
      upstream(environment, { workers: WORKERS, rate: 'raised', latencyMs: LATENCY_MS }),
      floor(environment, { workers: WORKERS, latencyMs: LATENCY_MS }),
      ours(environment, { provider: 'local', workers: WORKERS, latencyMs: 0 }),
      metallb(environment),
      floor(environment, { workers: WORKERS, latencyMs: 0 }),
    ];
    const contenders = ONLY ? all.filter((c) => ONLY.includes(c.id)) : all;
    const info = (c: Contender) => ({
      id: c.id,
      label: c.label,
      kind: c.kind,
      workers: c.workers,
      rate: c.rate,
      latencyMs: c.latencyMs,
    });
    const result: ControllersRun = {
      machine: machine(),
      date: now(),
      quick: QUICK,
      services: SERVICES,
      nodes: NODES,
      latencyMs: LATENCY_MS,
      workers: WORKERS,
      rounds: ROUNDS,
      pool: POOL,
      contenders: contenders.map(info),
      phases: PHASES,
      turns: [],
      runtimeFloor: await runtimeFloor(await floorApiserverOf(cluster.kubeconfigs.ours)),
      oursBuild: process.env['OURS_BIN']
        ? `run from OURS_BIN (${process.env['OURS_BIN']})`
        : 'compiled to JavaScript as its image is (Dockerfile build stage)',
    };
    for (let round = 0; round < ROUNDS; round++) {
      const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!);
      log(`round ${round + 1}/${ROUNDS}: ${order.map((c) => c.id).join(', ')}`);
      for (const c of order)
        result.turns.push(
          await turn(cluster, c, round, `r${round}-${c.id}`, SERVICES, {
            churn: PHASES.includes('churn'),
            restart: PHASES.includes('restart'),
          }),
        );
    }
    if (BIG > 0) {
      const ids = ['ours-local', 'ours-fake', `upstream-w${WORKERS}-raised`, 'metallb', 'floor-0ms'];
      const big = contenders.filter((c) => ids.includes(c.id));
      result.big = { services: BIG, contenders: big.map(info), turns: [], oursMemoryLimitMiB: BIG_MEMORY_LIMIT_MIB };
      for (const c of big) {
        log(`workload 4: ${c.id} with ${BIG} Services`);
        result.big.turns.push(
          await turn(cluster, c, 0, `big-${c.id}`, BIG, {
            churn: false,
            restart: false,
            memoryLimitMiB: BIG_MEMORY_LIMIT_MIB,
          }),
        );
      }
    }
    write(result);
  } finally {
    await cluster.stop();
  }
}

function write(r: ControllersRun): void {
  mkdirSync(OUT, { recursive: true });
  // per-Service times only for the chart's round; the JSON stays small
  const chartRound = r.rounds - 1;
  const series = r.contenders.flatMap((c) => {
    const t = r.turns.find((x) => x.contender === c.id && x.round === chartRound)?.burst;
    return t ? [{ label: c.label, times: t.addressedAtMs }] : [];
  });
  writeFileSync(
    join(OUT, 'burst.svg'),
    lineChartSvg(series, {
      title: `Addresses assigned over time: ${r.services} Services, ${r.nodes} Nodes (round ${chartRound + 1})`,
    }),
  );
  const slim = {
    ...r,
    turns: r.turns.map((t) =>
      t.burst ? { ...t, burst: { ...t.burst, addressedAtMs: t.round === chartRound ? t.burst.addressedAtMs : [] } } : t,
    ),
    big: r.big && {
      ...r.big,
      turns: r.big.turns.map((t) => (t.burst ? { ...t, burst: { ...t.burst, addressedAtMs: [] } } : t)),
    },
  };
  writeFileSync(join(OUT, 'controllers.json'), JSON.stringify(slim, null, 1) + '\n');
  writeFileSync(join(OUT, 'controllers.md'), markdown(r));
  log(`wrote controllers.md, controllers.json and burst.svg into ${OUT}`);
  console.log(markdown(r));
}

export function markdown(r: ControllersRun): string {
  const errors = [...r.turns, ...(r.big?.turns ?? [])].filter((t) => t.error);
  const notRun = `Not run in this run (PHASES=${(r.phases ?? []).join(',')}).`;
  const ran = (phase: Phase) => !r.phases || r.phases.includes(phase);
  const roundWorkloads =
    r.rounds > 0
      ? [
          `### Workload 1: burst-create ${r.services} Services with ${r.nodes} Nodes`,
          '',
          `${r.rounds} round(s), contenders in rotating order, each alone on the apiserver; fake clouds answer every call after ${r.latencyMs} ms; ${r.workers} workers for ours; pool ${r.pool} for every allocating controller; ours ${r.oursBuild ?? 'from its .ts sources (type stripping)'}. Ratios are ours / this contender within each round: median (range). Writes and requests from the apiserver's audit log (the contender's ServiceAccount).`,
          '',
          burstTable(r),
          '',
          '![addresses assigned over time](burst.svg)',
          '',
          `Requests per Service in the last round:`,
          '',
          requestMixTable(r),
          '',
          `### Workload 2: node churn with ${r.services} Services`,
          '',
          "A Node added (the object, then its status as a kubelet writes it), then (after the writes settled and 1 s without an update) removed: the time until as many update calls were answered as there are load balancers, and until the last update of the phase (a follow-up sync included). Both sides are timed alike, from the line their fake cloud prints when a call is answered (our fake provider's `updateTargets` lines, `LBP_FAKE_CALL_LINES=1`; the upstream fake cloud's `UpdateLoadBalancer` lines), read every 5 ms.",
          '',
          ran('churn') ? churnTable(r) : notRun,
          '',
          `### Workload 3: restart with ${r.services} Services`,
          '',
          "The controller stopped (SIGTERM) and started again with the same flags (fake clouds answer at once): time from the start of the process until every Service was synced again (our reconciles, the upstream cloud's `EnsureLoadBalancer` calls, MetalLB's service reconciles), and what it wrote.",
          '',
          ran('restart') ? restartTable(r) : notRun,
          '',
        ]
      : ['Workloads 1-3: not run in this run (ROUNDS=0).', ''];
  return [
    ...roundWorkloads,
    ...(r.big
      ? [
          `### Workload 4: ${r.big.services} Services`,
          '',
          ...(r.big.oursMemoryLimitMiB
            ? [
                `Ours runs within a memory limit of ${r.big.oursMemoryLimitMiB} MiB (a memory cgroup; its Deployment's limit raised, nothing else changed: the heap follows the limit).`,
                '',
              ]
            : []),
          bigTable(r),
          '',
        ]
      : []),
    '### Targets (controllers)',
    '',
    targetsTable(controllerTargets(r)),
    '',
    ...(errors.length
      ? ['Errors:', '', ...errors.map((t) => `- ${t.contender} round ${t.round + 1}: ${t.error}`), '']
      : []),
    `Measured ${r.date} on ${r.machine}.`,
    '',
  ].join('\n');
}

// a run only when started as a program: importing markdown() (to render a saved run) starts nothing
if (import.meta.main) await main();

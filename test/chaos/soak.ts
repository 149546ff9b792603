/**
 * The chaos soak (issue 13): `lb-provisioner run` as two replicas with leader election against the dev
 * apiserver, random operations and random faults between them, and the invariants checked after each
 * round has been left to converge. Seeded: the seed is printed, and CHAOS_SEED=<n> replays the choices.
 */
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SERVICE_NODE_PORT_RANGE } from '../../src/devcluster/components.ts';
import { startChaosCluster, type ChaosCluster } from './cluster.ts';
import {
  addressOf,
  checkApiserverBudget,
  checkState,
  Checks,
  type PoolObject,
  type ProviderProbe,
} from './invariants.ts';
import { Replica, type ExitRecord } from './replicas.ts';
import { Rng } from './rng.ts';
import { applyOp, ClusterWriter, FLAG_POOL, NAMESPACE, World, type Op, type ProviderName } from './world.ts';

export type FaultKind =
  'sigkill-leader' | 'sigkill-leader-mid-call' | 'sigterm-leader' | 'apiserver-restart' | 'cloud-faults';

/** What a provider adds to a run: flags, environment, a probe of its state, faults of its own. */
export interface ProviderRig {
  name: ProviderName;
  args: string[];
  env: Record<string, string>;
  /** strings that must never appear in a log line (credentials; read again for every line) */
  readonly secrets: string[];
  probe: ProviderProbe;
  providerID(instance: number): string | undefined;
  instances: number;
  /** resolves when a provider call of the leader is in flight (to aim a SIGKILL at), or after timeoutMs */
  callInFlight?(timeoutMs: number): Promise<boolean>;
  /** cloud fault injection on/off (off resolves once no faulted call is still open) */
  setFaults?(on: boolean): void | Promise<void>;
  faultCounts?(): Record<string, number>;
  /** a controller process started (it holds a full token bucket) */
  processStarted?(at: number): void;
  /** invariant 5, the cloud side */
  checkBudget?(checks: Checks): void;
  /** where a replica runs (a command prefix, e.g. `ip netns exec <ns>`) and the kubeconfig it reaches the apiserver with from there */
  command?(identity: string): string[];
  kubeconfig?: string;
  /** faults of the rig's own (a network partition of the leader), by kind; each resolves once healed */
  faults?: Record<string, (note: (line: string) => void, leader: string | undefined) => Promise<void>>;
  stop(): Promise<void>;
}

export interface SoakOptions {
  seed: number;
  providers: ProviderName[];
  /** stop starting rounds after this long */
  durationMs: number;
  /** at least this many rounds, whatever the duration */
  minRounds?: number;
  opsPerRound?: [number, number];
  /** chance of a fault after each operation */
  faultRate?: number;
  convergeTimeoutMs?: number;
  log: (line: string) => void;
  /** builds a provider's rig (aws: moto behind the fault proxy) */
  rigs?: Partial<
    Record<ProviderName, (cluster: ChaosCluster, rng: Rng, log: (l: string) => void) => Promise<ProviderRig>>
  >;
  /** built before the control plane, which then also serves on its host address (the proxy data plane's namespaces) */
  network?: { bridgeAddress: string; build(): Promise<void>; destroy(): Promise<void> };
}

export interface SoakReport {
  seed: number;
  rounds: number;
  operations: number;
  operationsByKind: Record<string, number>;
  faultsByKind: Record<string, number>;
  cloudFaultsByKind: Record<string, number>;
  checksPassed: number;
  /** per round with a fault: ms from the last fault until every invariant held */
  convergeMs: number[];
  replicaExits: ExitRecord[];
  logLines: number;
  debugLines: number;
}

export class ChaosViolation extends Error {}

const LEASE = { namespace: 'lb-provisioner', name: 'lb-provisioner' };

function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function summarize(r: SoakReport): string {
  const kinds = (m: Record<string, number>) =>
    Object.entries(m)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  return [
    `seed ${r.seed} (replay: CHAOS_SEED=${r.seed})`,
    `rounds ${r.rounds}, operations ${r.operations}: ${kinds(r.operationsByKind)}`,
    `faults: ${kinds(r.faultsByKind)}`,
    `cloud faults answered: ${kinds(r.cloudFaultsByKind)}`,
    `invariant checks passed: ${r.checksPassed}`,
    `converged after the last fault: p50 ${(percentile(r.convergeMs, 50) / 1000).toFixed(1)} s, max ${((r.convergeMs.length ? Math.max(...r.convergeMs) : NaN) / 1000).toFixed(1)} s over ${r.convergeMs.length} rounds`,
    `replica exits: ${r.replicaExits.length} (${r.replicaExits.filter((e) => e.byFault).length} by a fault); log lines ${r.logLines} (${r.debugLines} at debug)`,
  ].join('\n');
}

async function retrying<T>(what: string, fn: () => Promise<T>, attempts = 40): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: number }).code;
      // 4xx other than conflict/throttle are the soak's own bug: fail loudly
      if (i >= attempts || (code !== undefined && code >= 400 && code < 500 && code !== 409 && code !== 429))
        throw new Error(`${what}: ${String((err as Error).message ?? err).slice(0, 500)}`, { cause: err });
      await sleep(500);
    }
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const rng = new Rng(o.seed);
  const started = Date.now();
  const log = o.log;
  log(`chaos: seed ${o.seed} (replay with CHAOS_SEED=${o.seed}), providers ${o.providers.join(',')}`);
  const opsPerRound = o.opsPerRound ?? [4, 10];
  const faultRate = o.faultRate ?? 0.25;
  const convergeTimeoutMs = o.convergeTimeoutMs ?? 60_000;
  const report: SoakReport = {
    seed: o.seed,
    rounds: 0,
    operations: 0,
    operationsByKind: {},
    faultsByKind: {},
    cloudFaultsByKind: {},
    checksPassed: 0,
    convergeMs: [],
    replicaExits: [],
    logLines: 0,
    debugLines: 0,
  };
  const opLog: string[] = [];
  const note = (line: string) => {
    const entry = `+${((Date.now() - started) / 1000).toFixed(1)}s ${line}`;
    opLog.push(entry);
    if (process.env['CHAOS_VERBOSE']) log(`chaos: ${entry}`);
  };

  await o.network?.build();
  const cluster = await startChaosCluster((l) => log(`chaos: ${l}`), o.network?.bridgeAddress).catch(
    async (err: unknown) => {
      await o.network?.destroy();
      throw err;
    },
  );
  const rigs: ProviderRig[] = [];
  const replicas: Replica[] = [];
  const leaks: string[] = [];
  let sawLeader = false;
  /** the replicas' logs: kept for a failed run (its report names them), removed after one that passed */
  let logDir: string | undefined;
  let passed = false;
  try {
    for (const p of o.providers) {
      const make = o.rigs?.[p];
      if (make) rigs.push(await make(cluster, rng, log));
    }
    const rigOf = (p: ProviderName) => rigs.find((r) => r.name === p);
    const instances = Math.max(6, ...rigs.map((r) => r.instances));
    const world = new World(
      {
        providers: o.providers,
        defaultProvider: o.providers[0]!,
        maxServices: 10,
        maxNodes: Math.min(6, instances),
        instances,
      },
      rng,
    );
    const writer = new ClusterWriter(cluster.admin, (i) => rigOf('aws')?.providerID(i));
    await writer.ensureNamespace();
    if (o.providers.includes('local')) await writer.writePools(world.pools);
    for (let i = 0; i < 3; i++) {
      const op = world.nextOpOf('node-add');
      await applyOp(world, writer, op);
    }

    // credentials the replicas get and must never print (a rig's list may grow: tokens issued as it runs)
    const secrets = () => [cluster.controllerToken, ...rigs.flatMap((r) => r.secrets)];
    const onLine = (identity: string, line: string) => {
      report.logLines++;
      if (line.includes('"level":20')) report.debugLines++;
      if (line.includes('"msg":"became leader"')) sawLeader = true;
      for (const s of secrets()) if (line.includes(s)) leaks.push(`${identity}: ${line.slice(0, 300)}`);
    };
    logDir = mkdtempSync(join(tmpdir(), 'lbp-chaos-logs-'));
    log(`chaos: replica logs in ${logDir} (kept if the run fails)`);
    const args = (identity: string) => [
      '--kubeconfig',
      rigs.find((r) => r.kubeconfig)?.kubeconfig ?? cluster.controllerKubeconfig,
      '--provider',
      o.providers.join(','),
      '--default-provider',
      o.providers[0]!,
      ...(o.providers.includes('local') ? ['--pool', FLAG_POOL] : []),
      '--cluster-name',
      'chaos',
      '--leader-elect-identity',
      identity,
      '--leader-elect-lease-duration',
      '4s',
      '--leader-elect-renew-deadline',
      '3s',
      '--leader-elect-retry-period',
      '500ms',
      '--metrics-bind-address',
      '0',
      '--log-level',
      'debug',
      '--resync-period',
      '0',
      '--workers',
      '4',
      '--node-port-range',
      SERVICE_NODE_PORT_RANGE,
      ...rigs.flatMap((r) => r.args),
    ];
    const env: NodeJS.ProcessEnv = { ...process.env, ...Object.assign({}, ...rigs.map((r) => r.env)) };
    delete env['NODE_OPTIONS'];
    for (const identity of ['replica-a', 'replica-b']) {
      const r = new Replica({
        identity,
        args: args(identity),
        command: rigs.find((r) => r.command)?.command?.(identity),
        env,
        logDir,
        onLine,
        onStart: () => {
          for (const rig of rigs) rig.processStarted?.(Date.now());
        },
        onExit: (e) => {
          report.replicaExits.push(e);
          note(`exit ${e.identity} code=${e.code} signal=${e.signal}${e.byFault ? ' (fault)' : ''}`);
        },
      });
      r.start();
      replicas.push(r);
    }

    const coord = cluster.admin.makeApiClient(k8s.CoordinationV1Api);
    const leader = async (): Promise<Replica | undefined> => {
      try {
        const lease = await coord.readNamespacedLease(LEASE);
        const holder = lease.spec?.holderIdentity;
        return replicas.find((r) => r.identity === holder && r.pid !== undefined);
      } catch {
        return undefined;
      }
    };

    const rigFaults = new Map(rigs.flatMap((r) => Object.entries(r.faults ?? {})));
    const fault = async (kind: FaultKind | string): Promise<void> => {
      const count = (k: string) => (report.faultsByKind[k] = (report.faultsByKind[k] ?? 0) + 1);
      const own = rigFaults.get(kind);
      if (own) {
        count(kind);
        return own(note, (await leader())?.identity);
      }
      if (kind !== 'sigkill-leader-mid-call') count(kind);
      switch (kind) {
        case 'sigkill-leader':
        case 'sigterm-leader': {
          const l = (await leader()) ?? rng.pick(replicas);
          await sleep(rng.int(0, 300));
          note(`FAULT ${kind} ${l.identity}`);
          await l.signal(kind === 'sigkill-leader' ? 'SIGKILL' : 'SIGTERM');
          return;
        }
        case 'sigkill-leader-mid-call': {
          const aimable = rigs.filter((r) => r.callInFlight);
          const rig = aimable.length > 1 ? rng.pick(aimable) : aimable[0];
          const inFlight = (await rig?.callInFlight?.(3000)) ?? false;
          const l = (await leader()) ?? rng.pick(replicas);
          // counted as aimed only when a mutating cloud call was really in flight
          count(inFlight ? `${kind}-${rig!.name}` : 'sigkill-leader');
          note(
            `FAULT ${kind} ${l.identity}${inFlight ? ` (a mutating ${rig!.name} call in flight)` : ' (no call seen)'}`,
          );
          await l.signal('SIGKILL');
          return;
        }
        case 'apiserver-restart': {
          const graceful = rng.chance(0.5);
          const down = rng.int(500, 4000);
          note(`FAULT apiserver-restart graceful=${graceful} down=${down}ms`);
          await cluster.cp.stopApiserver({ graceful });
          await sleep(down);
          await cluster.cp.startApiserver();
          return;
        }
        case 'cloud-faults':
          return;
      }
    };
    const faultKinds: (FaultKind | string)[] = [
      'sigkill-leader',
      'sigterm-leader',
      'apiserver-restart',
      ...rigFaults.keys(),
    ];
    if (rigs.some((r) => r.callInFlight)) faultKinds.push('sigkill-leader-mid-call', 'sigkill-leader-mid-call');

    const cloud = rigs.filter((r) => r.setFaults);
    for (let round = 0; ; round++) {
      const elapsed = Date.now() - started;
      if (round >= (o.minRounds ?? 1) && elapsed > o.durationMs) break;
      report.rounds++;
      const roundStart = Date.now();
      // cloud faults for the whole of a round, in most rounds
      const cloudOn = cloud.length > 0 && rng.chance(0.75);
      for (const r of cloud) r.setFaults!(cloudOn);
      if (cloudOn) report.faultsByKind['cloud-faults-round'] = (report.faultsByKind['cloud-faults-round'] ?? 0) + 1;
      note(`round ${round}${cloudOn ? ' (cloud faults at 20%)' : ''}`);
      let lastFault: number | undefined = cloudOn ? Date.now() : undefined;
      const n = rng.int(...opsPerRound);
      for (let i = 0; i < n; i++) {
        const op: Op = world.nextOp();
        note(`op ${op.kind} ${op.target} ${op.detail}`);
        await retrying(`${op.kind} ${op.target}`, () => applyOp(world, writer, op));
        report.operations++;
        report.operationsByKind[op.kind] = (report.operationsByKind[op.kind] ?? 0) + 1;
        if (rng.chance(faultRate)) {
          await fault(rng.pick(faultKinds));
          lastFault = Date.now();
        } else {
          await sleep(rng.int(20, 400));
        }
      }
      if (cloudOn) {
        // the calls the round's operations cause come after them: keep answering 20% with faults a while
        await sleep(rng.int(4000, 10_000));
        await Promise.all(cloud.map((r) => r.setFaults!(false)));
        note('cloud faults off');
        lastFault = Date.now();
      }
      const lastEvent = Date.now();

      // converge: every invariant holds, within the bound after the last fault or operation
      let result: Checks | undefined;
      const deadline = lastEvent + convergeTimeoutMs;
      for (;;) {
        result = await (async () =>
          checkState(
            world,
            await listServices(cluster),
            o.providers.includes('local') ? await listPools(cluster) : [],
            rigs.map((r) => r.probe),
          ))().catch((err: unknown) => {
          const c = new Checks();
          c.violations.push(`check failed: ${String(err)}`);
          return c;
        });
        if (result.violations.length === 0 || Date.now() > deadline) break;
        await sleep(500);
      }
      if (result.violations.length) {
        throw new ChaosViolation(
          await violationReport(
            o.seed,
            opLog,
            result.violations,
            world,
            cluster,
            `round ${round}: not converged ${convergeTimeoutMs} ms after the last change`,
          ),
        );
      }
      const convergedAt = Date.now();
      if (lastFault !== undefined) report.convergeMs.push(convergedAt - lastFault);
      report.checksPassed += result.passed;
      note(`round ${round} converged ${convergedAt - lastEvent} ms after its last change; ${result.passed} checks`);

      // no hot loop: nothing written while nothing changes; budgets held
      await sleep(3500);
      const budget = checkApiserverBudget(
        cluster.audit.catchUp(),
        new Map([...world.services].map(([k, v]) => [k, v.ops])),
        Object.values(report.faultsByKind).reduce((a, b) => a + b, 0),
        { from: convergedAt + 500, to: Date.now() },
      );
      for (const r of rigs) r.checkBudget?.(budget);
      if (budget.violations.length)
        throw new ChaosViolation(
          await violationReport(o.seed, opLog, budget.violations, world, cluster, `round ${round}: budget`),
        );
      report.checksPassed += budget.passed;
      const now = await retrying('list Services', () => listServices(cluster));
      for (const [name, rec] of world.services) {
        const svc = now.find((s) => s.metadata?.name === name);
        rec.address = svc ? addressOf(svc) : undefined;
        rec.addressMayChange = false;
      }
      note(`round ${round} done in ${((Date.now() - roundStart) / 1000).toFixed(1)} s`);
    }

    // security: no credential in any line the replicas wrote (at debug level), and the grep saw lines at all
    const sec = new Checks();
    sec.that(
      report.logLines > 0 && sawLeader,
      () => 'security: the replicas logged nothing (no "became leader"), so the credential grep proved nothing',
    );
    sec.that(leaks.length === 0, () => `security: credentials in the logs:\n${leaks.slice(0, 5).join('\n')}`);
    if (sec.violations.length)
      throw new ChaosViolation(await violationReport(o.seed, opLog, sec.violations, world, cluster, 'security'));
    report.checksPassed += sec.passed;
    for (const r of rigs) Object.assign(report.cloudFaultsByKind, r.faultCounts?.() ?? {});
    passed = true;
    return report;
  } finally {
    await Promise.all(replicas.map((r) => r.stop(5000)));
    for (const r of rigs) await r.stop().catch(() => {});
    await cluster.stop({ keepAuditLog: !passed });
    if (passed && logDir) rmSync(logDir, { recursive: true, force: true });
    await o.network?.destroy();
  }
}

async function listServices(cluster: ChaosCluster): Promise<k8s.V1Service[]> {
  return (await cluster.core.listNamespacedService({ namespace: NAMESPACE })).items;
}

async function listPools(cluster: ChaosCluster): Promise<PoolObject[]> {
  const list = (await cluster.custom.listClusterCustomObject({
    group: 'lbprovisioner.io',
    version: 'v1alpha1',
    plural: 'ippools',
  })) as { items: PoolObject[] };
  return list.items;
}

async function violationReport(
  seed: number,
  opLog: string[],
  violations: string[],
  world: World,
  cluster: ChaosCluster,
  what: string,
): Promise<string> {
  const names = new Set(violations.flatMap((v) => v.match(/svc-\d+/g) ?? []));
  const services = await listServices(cluster).catch(() => []);
  const diff = [...names].map((name) => {
    const want = world.services.get(name);
    const s = services.find((x) => x.metadata?.name === name);
    return [
      `--- ${name}`,
      `want: ${want ? JSON.stringify({ ...want.spec, owner: world.ownerOf(want.spec), address: want.address }) : 'deleted'}`,
      `have: ${
        s
          ? JSON.stringify({
              type: s.spec?.type,
              class: s.spec?.loadBalancerClass,
              ports: s.spec?.ports?.map((p) => `${p.port}/${p.protocol}:${p.nodePort}`),
              etp: s.spec?.externalTrafficPolicy,
              finalizers: s.metadata?.finalizers,
              annotations: s.metadata?.annotations,
              deleting: s.metadata?.deletionTimestamp,
              status: s.status,
            })
          : 'absent'
      }`,
    ].join('\n');
  });
  return [
    `chaos invariant violated (${what}); seed ${seed}: replay with CHAOS_SEED=${seed}`,
    ...violations.map((v) => `  ${v}`),
    'state diff:',
    ...diff,
    'operation log (last 150):',
    ...opLog.slice(-150),
  ].join('\n');
}

export function randomSecret(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex').toUpperCase()}`;
}

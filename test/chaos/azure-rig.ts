/**
 * The Azure side of the soak: the project's fake ARM over HTTPS (test/azure-fake), reached through the fake
 * authority with a client secret made for this run, its own fault hook answering 20% of ARM calls with
 * 429 + Retry-After, a 5xx or no answer at all, a probe that reads the fake's store (no provider code), and
 * the API-budget check over the fake's call log.
 */
import type * as k8s from '@kubernetes/client-node';
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { uidOfChild, uidOfSecurityRule } from '../../providers/azure/names.ts';
import { ownedBy } from '../azure-fake/inventory.ts';
import type { Call, FakeArm, Fault } from '../azure-fake/server.ts';
import type { Json } from '../azure-fake/state.ts';
import { startFakeArmWorld } from '../azure-fake/world.ts';
import { CLOUD_FAULT_RATE, CLUSTER_NAME } from './aws-rig.ts';
import type { Checks, ProviderProbe } from './invariants.ts';
import { Rng } from './rng.ts';
import type { ProviderRig } from './soak.ts';
import type { World } from './world.ts';

export type ArmFaultKind = 'throttle' | '5xx' | 'hang';

/** A 429 the fake answered to a write: no write of the process that got it may reach ARM before `until`. */
export interface ThrottleAnswer {
  at: number;
  until: number;
}

/** the controller's --azure-request-timeout in the soak, and how long turning faults off waits for hung calls */
const REQUEST_TIMEOUT = '4s';
const HUNG_WAIT_MS = 8000;
/** after the last hung call was given up: time for the controller to take in its error */
const SETTLE_MS = 1000;
/** the write gate is checked before a write is sent: one already past it may arrive just after a 429 */
const GATE_SLACK_MS = 300;
const MUTATING = new Set(['PUT', 'DELETE', 'PATCH']);
const props = (x: Json | undefined): Json => (x?.['properties'] as Json | undefined) ?? {};
const list = (x: unknown): Json[] => (Array.isArray(x) ? (x as Json[]) : []);
const idOf = (x: unknown): string => String((x as Json | undefined)?.['id'] ?? '').toLowerCase();
const nameOf = (x: Json): string => String(x['name']);

/**
 * Invariant 5, Azure side. The provider has no client-side token buckets for ARM; what it promises is the
 * write gate (a 429 stops every write of the subscription until its Retry-After has passed) and that an
 * unchanged Service writes nothing. So: no write inside a Retry-After, unless a controller process started
 * after the 429 (it never saw it); and no write while nothing changes (`quietFrom` to now).
 */
export function checkArmBudget(
  calls: readonly Call[],
  throttled: readonly ThrottleAnswer[],
  processStarts: readonly number[],
  quietFrom: number | undefined,
  checks: Checks,
): void {
  const writes = calls.filter((c) => MUTATING.has(c.method));
  for (const t of throttled) {
    const early = writes.filter(
      (w) => w.at > t.at + GATE_SLACK_MS && w.at < t.until && !processStarts.some((s) => s > t.at && s <= w.at),
    );
    checks.that(
      early.length === 0,
      () =>
        `5: ${early.length} ARM writes within the Retry-After of a 429 at ${new Date(t.at).toISOString()} (until ${new Date(t.until).toISOString()}): ${early
          .slice(0, 3)
          .map((w) => `${w.method} ${w.path}`)
          .join(', ')}`,
    );
  }
  if (quietFrom === undefined) return;
  const late = writes.filter((w) => w.at >= quietFrom);
  checks.that(
    late.length === 0,
    () =>
      `5: ${late.length} ARM writes after convergence with nothing changing: ${late
        .slice(0, 5)
        .map((w) => `${w.method} ${w.path}`)
        .join(', ')}`,
  );
}

/** What the fake ARM holds for the cluster, compared with the owned Azure Services (read from its store). */
export class AzureProbe implements ProviderProbe {
  readonly name = 'azure' as const;
  /** when the last check began (the converged one, once the soak moves on to its budget check) */
  lastCheckAt: number | undefined;
  private readonly fake: FakeArm;

  constructor(fake: FakeArm) {
    this.fake = fake;
  }

  check(world: World, owned: k8s.V1Service[], c: Checks): Promise<void> {
    this.lastCheckAt = Date.now();
    const held = ownedBy(this.fake, CLUSTER_NAME);
    const byUid = new Map(owned.map((s) => [s.metadata!.uid!, s]));
    const whose = (uid: string | undefined) => (uid ? byUid.get(uid)?.metadata?.name : undefined);

    // 2: nothing leaked: every child of ours names an owned Azure Service
    const children: [string, Json[]][] = [
      ['frontend', held.frontends],
      ['rule', held.rules],
      ['probe', held.probes],
      ['public IP', held.publicIps],
    ];
    for (const [what, items] of children)
      for (const x of items)
        c.that(
          whose(uidOfChild(nameOf(x))) !== undefined,
          () => `2: ${what} ${nameOf(x)} belongs to no owned Azure Service`,
        );
    for (const r of held.securityRules)
      c.that(
        whose(uidOfSecurityRule(CLUSTER_NAME, nameOf(r))) !== undefined,
        () => `2: NSG rule ${nameOf(r)} (${String(props(r)['description'])}) belongs to no owned Azure Service`,
      );
    for (const lb of held.loadBalancers)
      c.that(
        list(props(lb)['frontendIPConfigurations']).length > 0,
        () => `2: load balancer ${nameOf(lb)} is left with no frontend`,
      );

    // 1: the public load balancer holds exactly each owned Service's frontend, rules, probes; pool = eligible nodes
    const lb = held.loadBalancers.find((l) => nameOf(l) === `${CLUSTER_NAME}-lbp`);
    if (owned.length && !c.that(lb !== undefined, () => `1: no load balancer ${CLUSTER_NAME}-lbp in the fake ARM`))
      return Promise.resolve();
    if (lb) {
      const pools = list(props(lb)['backendAddressPools']);
      const ips = pools.flatMap((p) =>
        list(props(p)['loadBalancerBackendAddresses']).map((a) => props(a)['ipAddress']),
      );
      const eligible = world
        .eligibleNodes()
        .map((n) => n.ip)
        .sort();
      c.that(
        JSON.stringify([...ips].sort()) === JSON.stringify(eligible),
        () => `1: backend pool ${ips.join(' ')}, eligible nodes ${eligible.join(' ')}`,
      );
    }
    for (const s of owned) {
      const name = s.metadata!.name!;
      const uid = s.metadata!.uid!;
      const mine = (items: Json[]) => items.filter((x) => uidOfChild(nameOf(x)) === uid);
      const fronts = mine(held.frontends);
      if (!c.that(fronts.length === 1, () => `1: ${name} has ${fronts.length} frontends`)) continue;
      const front = fronts[0]!;
      const pip = held.publicIps.find((p) => idOf(p) === idOf(props(front)['publicIPAddress']));
      const ip = s.status?.loadBalancer?.ingress?.[0]?.ip;
      c.that(
        pip !== undefined && ip === props(pip)['ipAddress'],
        () =>
          `1: ${name} shows ${ip}, its frontend's public IP is ${pip ? String(props(pip)['ipAddress']) : 'missing'}`,
      );
      const ports = s.spec?.ports ?? [];
      const proto = (p: string | undefined) => ((p ?? 'TCP') === 'UDP' ? 'Udp' : 'Tcp');
      const want = ports.map((p) => `${proto(p.protocol)} ${p.port}->${p.nodePort}`).sort();
      const rules = mine(held.rules);
      const have = rules
        .map(
          (r) =>
            `${String(props(r)['protocol'])} ${String(props(r)['frontendPort'])}->${String(props(r)['backendPort'])}`,
        )
        .sort();
      c.that(
        JSON.stringify(want) === JSON.stringify(have),
        () => `1: ${name} rules ${have.join(', ')}, ports ${want.join(', ')}`,
      );
      for (const r of rules)
        c.that(
          idOf(props(r)['frontendIPConfiguration']).endsWith(
            `/frontendipconfigurations/${nameOf(front).toLowerCase()}`,
          ),
          () => `1: ${name} rule ${nameOf(r)} does not use its frontend`,
        );
      // kube-proxy's /healthz for Cluster, the healthCheckNodePort for Local
      const probePort = s.spec?.externalTrafficPolicy === 'Local' ? s.spec.healthCheckNodePort : 10256;
      const probes = mine(held.probes);
      const probePorts = probes.map((p) => props(p)['port']);
      c.that(
        probes.length === ports.length && probePorts.every((p) => p === probePort),
        () => `1: ${name} probes on ${probePorts.join(' ')}, expected ${ports.length} on ${probePort}`,
      );
      const nsg = held.securityRules
        .filter((r) => uidOfSecurityRule(CLUSTER_NAME, nameOf(r)) === uid)
        .map((r) => `${String(props(r)['protocol'])} ${String(props(r)['destinationPortRange'])}`)
        .sort();
      const wantNsg = ports.map((p) => `${proto(p.protocol)} ${p.nodePort}`).sort();
      c.that(
        JSON.stringify(nsg) === JSON.stringify(wantNsg),
        () => `1: ${name} NSG rules ${nsg.join(', ')}, NodePorts ${wantNsg.join(', ')}`,
      );
    }
    return Promise.resolve();
  }
}

/**
 * The fault hook of the soak: while on, 20% of ARM calls meet a fault (429 with Retry-After, 500/503, or
 * no answer); `armMutating` holds the answer of the next write once the fake has done its work.
 */
class ArmFaults {
  rate = 0;
  readonly counts: Record<ArmFaultKind, number> = { throttle: 0, '5xx': 0, hang: 0 };
  readonly throttled: ThrottleAnswer[] = [];
  private armed: { resolve: (v: boolean) => void; holdMs: number } | undefined;
  private readonly rng: Rng;

  constructor(rng: Rng) {
    this.rng = rng;
  }

  choose(method: string): Fault | undefined {
    if (this.armed && MUTATING.has(method)) {
      const hold = this.armed;
      this.armed = undefined;
      return {
        answerAfter: async () => {
          hold.resolve(true);
          await sleep(hold.holdMs);
        },
      };
    }
    if (this.rate === 0 || !this.rng.chance(this.rate)) return undefined;
    const kind = this.rng.pick<ArmFaultKind>(['throttle', 'throttle', '5xx', 'hang']);
    this.counts[kind]++;
    if (kind === 'hang') return { hang: true };
    if (kind === '5xx') {
      const [status, code] = this.rng.pick([
        [500, 'InternalServerError'],
        [503, 'ServiceUnavailable'],
      ] as const);
      return { status, code };
    }
    const seconds = this.rng.int(1, 3);
    // the gate guards writes: ARM throttles reads in a bucket of their own
    if (MUTATING.has(method)) this.throttled.push({ at: Date.now(), until: Date.now() + seconds * 1000 });
    return { status: 429, code: 'TooManyRequests', retryAfterSeconds: seconds };
  }

  nextMutatingCallDone(timeoutMs: number, holdMs: number): Promise<boolean> {
    this.armed?.resolve(false);
    return new Promise<boolean>((resolve) => {
      const entry = { resolve, holdMs };
      this.armed = entry;
      setTimeout(() => {
        if (this.armed === entry) this.armed = undefined;
        resolve(false);
      }, timeoutMs).unref();
    });
  }
}

export async function azureRig(_cluster: unknown, rng: Rng, log: (line: string) => void): Promise<ProviderRig> {
  const credentials = {
    tenantId: randomUUID(),
    clientId: randomUUID(),
    clientSecret: randomBytes(24).toString('base64url'),
  };
  const arm = await startFakeArmWorld({ ...credentials, latency: { writeMs: 10, operationMs: 100 } });
  // the fault choices come from their own stream, so the soak's operations replay whatever the timing
  const faults = new ArmFaults(new Rng(rng.seed ^ 0x27d4eb2f));
  arm.fake.faultHook = (method) => faults.choose(method);
  log(`chaos: fake ARM at ${arm.fake.endpoint}`);
  const probe = new AzureProbe(arm.fake);
  const processStarts: number[] = [];
  const tokens = arm.fake.authority.tokens;
  return {
    name: 'azure',
    // the fake answers in milliseconds: a hung call is given up after 4 s, not Azure's 20
    args: [...arm.cliArgs(), '--azure-request-timeout', REQUEST_TIMEOUT],
    env: arm.env(),
    // the client secret, and every bearer token the fake authority issued so far
    get secrets() {
      return [credentials.clientSecret, ...tokens];
    },
    probe,
    providerID: () => undefined,
    instances: 6,
    processStarted: (at) => processStarts.push(at),
    callInFlight: (timeoutMs) => faults.nextMutatingCallDone(timeoutMs, 1500),
    setFaults: async (on) => {
      faults.rate = on ? CLOUD_FAULT_RATE : 0;
      if (on) return;
      // a hung call is a fault until its client gives up (the request timeout); then its error settles
      if (arm.fake.hung.size === 0) return;
      const deadline = Date.now() + HUNG_WAIT_MS;
      while (arm.fake.hung.size > 0 && Date.now() < deadline) await sleep(100);
      await sleep(SETTLE_MS);
    },
    faultCounts: () => Object.fromEntries(Object.entries(faults.counts).map(([k, v]) => [`arm-${k}`, v])),
    checkBudget: (checks) =>
      checkArmBudget(
        arm.fake.calls,
        faults.throttled,
        processStarts,
        probe.lastCheckAt === undefined ? undefined : probe.lastCheckAt + 500,
        checks,
      ),
    stop: () => arm.stop(),
  };
}

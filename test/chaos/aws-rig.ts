/**
 * The AWS side of the soak: moto behind the fault proxy, the cluster's EC2 fixture (VPC, tagged subnets,
 * the nodes' security group, instances the Nodes stand for), credentials made for this run, a probe that
 * reads moto with raw SDK clients (no provider code) and the API-budget check over the proxy's record.
 */
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeSecurityGroupsCommand, type SecurityGroup } from '@aws-sdk/client-ec2';
import type * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { apiClass, DEFAULT_RATES, type ApiClass } from '../../providers/aws/throttle.ts';
import { clusterFixture, MOTO_REGION, motoClients, startMoto } from '../harness/moto.ts';
import { tagsOf } from '../aws/moto-inventory.ts';
import { startFaultProxy, type ProxiedCall } from './fault-proxy.ts';
import type { Checks, ProviderProbe } from './invariants.ts';
import { Rng } from './rng.ts';
import type { ProviderRig } from './soak.ts';
import type { World } from './world.ts';

export const CLUSTER_NAME = 'chaos';
const UID_TAG = 'lbprovisioner.io/service-uid';
const CLUSTER_TAG = 'lbprovisioner.io/cluster';
const RESOURCE_TAG = 'lbprovisioner.io/resource';
const INSTANCES = 6;
/** kube-proxy's health port: the node rule every NLB's Cluster health check needs (plan-security.ts) */
const KUBE_PROXY_HEALTH_PORT = 10256;
const HEALTH_PORT_ANNOTATION = 'service.beta.kubernetes.io/aws-load-balancer-healthcheck-port';
/** the share of calls answered with a fault while cloud faults are on (issue 13: 20%) */
export const CLOUD_FAULT_RATE = 0.2;

/**
 * Invariant 5, cloud side: in any window of w seconds, no more calls of a class than one bucket allows
 * (burst + qps * w) per controller process that was alive in it (a new leader starts with a full bucket).
 */
export function checkCallBudget(calls: readonly ProxiedCall[], processStarts: readonly number[], checks: Checks): void {
  const byClass = new Map<ApiClass, number[]>();
  for (const c of calls) {
    if (c.api !== 'ec2' && c.api !== 'elbv2') continue;
    const classes: ApiClass[] = [apiClass(c.api, c.action), ...(c.api === 'elbv2' ? (['elbv2'] as const) : [])];
    for (const k of classes) byClass.set(k, [...(byClass.get(k) ?? []), c.at]);
  }
  for (const [k, times] of byClass) {
    const rate = DEFAULT_RATES[k];
    for (const w of [1, 10, 60]) {
      let worst = { n: 0, bound: 0, at: 0 };
      let j = 0;
      for (let i = 0; i < times.length; i++) {
        while (times[i]! - times[j]! > w * 1000) j++;
        const n = i - j + 1;
        const from = times[i]! - w * 1000;
        // processes that could hold a full bucket in the window: the one running at its start, and each started in it
        const started = processStarts.filter((s) => s > from && s <= times[i]!).length;
        const bound = (1 + started) * rate.burst + rate.qps * w;
        if (n - bound > worst.n - worst.bound) worst = { n, bound, at: times[i]! };
      }
      checks.that(
        worst.n <= worst.bound,
        () =>
          `5: ${worst.n} ${k} calls within ${w} s (bucket ${rate.qps}/s burst ${rate.burst}: at most ${worst.bound}) ending ${new Date(worst.at).toISOString()}`,
      );
    }
  }
}

const tagsOfGroup = (g: SecurityGroup): Record<string, string> =>
  Object.fromEntries((g.Tags ?? []).map((x) => [x.Key!, x.Value ?? '']));

/**
 * Invariant 2 for security-group rules: a rule our provider added (one that admits a group of ours: an
 * NLB's frontend group, or the cluster's backend group on the nodes' NodePorts and health ports) lives
 * only while an owned AWS Service needs it; the backend group itself goes with the last NLB.
 */
export function checkSecurityGroupRules(
  groups: readonly SecurityGroup[],
  nodeGroup: string,
  owned: readonly k8s.V1Service[],
  c: Checks,
): void {
  const ownedUids = new Set(owned.map((s) => s.metadata!.uid!));
  const byId = new Map(groups.map((g) => [g.GroupId!, g]));
  const ours = (g: SecurityGroup | undefined, resource: string) => {
    const t = g ? tagsOfGroup(g) : {};
    return t[CLUSTER_TAG] === CLUSTER_NAME && t[RESOURCE_TAG] === resource;
  };
  const backend = groups.find((g) => ours(g, 'backend-security-group'));
  c.that(
    !backend || owned.length > 0,
    () => `2: backend security group ${backend!.GroupName} outlives every NLB (no owned AWS Service)`,
  );
  // single-port rules on the backend group: kube-proxy's health port, or a health port an owned Service names
  const healthPorts = new Set([
    KUBE_PROXY_HEALTH_PORT,
    ...owned.map((s) => Number(s.metadata?.annotations?.[HEALTH_PORT_ANNOTATION])).filter(Number.isInteger),
  ]);
  for (const g of groups) {
    for (const p of g.IpPermissions ?? []) {
      const rule = () => `${p.IpProtocol} ${p.FromPort}-${p.ToPort} on ${g.GroupName} (${g.GroupId})`;
      for (const pair of p.UserIdGroupPairs ?? []) {
        const admitted = byId.get(pair.GroupId ?? '');
        if (!admitted) {
          c.that(g.GroupId !== nodeGroup, () => `2: rule ${rule()} admits ${pair.GroupId}, a group that is gone`);
        } else if (ours(admitted, 'frontend-security-group')) {
          const t = tagsOfGroup(admitted);
          c.that(
            ownedUids.has(t[UID_TAG]!),
            () =>
              `2: rule ${rule()} admits the frontend group of ${t['kubernetes.io/service-name']}, which has no owned AWS Service`,
          );
        } else if (admitted === backend) {
          c.that(owned.length > 0, () => `2: rule ${rule()} admits the backend group, but no NLB is left`);
          c.that(
            p.FromPort !== p.ToPort || healthPorts.has(p.FromPort!),
            () => `2: rule ${rule()} admits the backend group on a port no owned Service uses`,
          );
        }
      }
    }
  }
}

class AwsProbe implements ProviderProbe {
  readonly name = 'aws' as const;
  private readonly clients: ReturnType<typeof motoClients>;
  private readonly instanceIds: string[];
  private readonly nodeGroup: string;

  constructor(clients: ReturnType<typeof motoClients>, instanceIds: string[], nodeGroup: string) {
    this.clients = clients;
    this.instanceIds = instanceIds;
    this.nodeGroup = nodeGroup;
  }

  async check(world: World, owned: k8s.V1Service[], c: Checks): Promise<void> {
    const { elbv2, ec2 } = this.clients;
    const lbs = (await elbv2.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? [];
    const lbTags = await tagsOf(
      elbv2,
      lbs.map((l) => l.LoadBalancerArn!),
    );
    const tgs = (await elbv2.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? [];
    const tgTags = await tagsOf(
      elbv2,
      tgs.map((t) => t.TargetGroupArn!),
    );
    const ours = (t: Record<string, string> | undefined) => t?.[CLUSTER_TAG] === CLUSTER_NAME;
    const byUid = new Map(owned.map((s) => [s.metadata!.uid!, s]));

    // 2: nothing leaked
    for (const lb of lbs) {
      const t = lbTags.get(lb.LoadBalancerArn!);
      if (!ours(t)) continue;
      c.that(
        byUid.has(t![UID_TAG]!),
        () =>
          `2: NLB ${lb.LoadBalancerName} of ${t![`kubernetes.io/service-name`]} (uid ${t![UID_TAG]}) has no owned AWS Service`,
      );
    }
    for (const tg of tgs) {
      const t = tgTags.get(tg.TargetGroupArn!);
      if (!ours(t)) continue;
      c.that(
        byUid.has(t![UID_TAG]!),
        () => `2: target group ${tg.TargetGroupName} of ${t![`kubernetes.io/service-name`]} has no owned AWS Service`,
      );
    }
    const groups = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
    for (const g of groups) {
      const t = tagsOfGroup(g);
      if (g.GroupId === this.nodeGroup || !ours(t) || t[RESOURCE_TAG] !== 'frontend-security-group') continue;
      const svc = byUid.get(t[UID_TAG]!);
      c.that(
        svc !== undefined,
        () => `2: security group ${g.GroupName} of ${t['kubernetes.io/service-name']} has no owned AWS Service`,
      );
      // a Service without source ranges uses the cluster's shared open group: a group of its own is a leftover
      const ranges =
        (svc?.spec?.loadBalancerSourceRanges?.length ?? 0) > 0 ||
        !!svc?.metadata?.annotations?.['service.beta.kubernetes.io/load-balancer-source-ranges'];
      c.that(
        svc === undefined || ranges,
        () => `2: security group ${g.GroupName} of ${t['kubernetes.io/service-name']} is left: it has no source ranges`,
      );
    }
    checkSecurityGroupRules(groups, this.nodeGroup, owned, c);

    // 1: each owned Service has exactly its NLB, listeners, target groups and targets
    const eligible = world
      .eligibleNodes()
      .map((n) => this.instanceIds[n.instance]!)
      .sort();
    for (const s of owned) {
      const name = s.metadata!.name!;
      const uid = s.metadata!.uid!;
      const mine = lbs.filter((l) => lbTags.get(l.LoadBalancerArn!)?.[UID_TAG] === uid);
      if (!c.that(mine.length === 1, () => `1: ${name} has ${mine.length} NLBs in moto`)) continue;
      const lb = mine[0]!;
      const host = s.status?.loadBalancer?.ingress?.[0]?.hostname;
      c.that(host === lb.DNSName, () => `1: ${name} shows ${host}, its NLB is ${lb.DNSName}`);
      const listeners =
        (await elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }))).Listeners ?? [];
      const want = (s.spec?.ports ?? []).map((p) => `${p.port}/${p.protocol}`).sort();
      const have = listeners.map((l) => `${l.Port}/${l.Protocol}`).sort();
      c.that(
        JSON.stringify(want) === JSON.stringify(have),
        () => `1: ${name} listeners ${have.join(' ')}, ports ${want.join(' ')}`,
      );
      const myTgs = tgs.filter((t) => tgTags.get(t.TargetGroupArn!)?.[UID_TAG] === uid);
      c.that(
        myTgs.length === want.length,
        () => `1: ${name} has ${myTgs.length} target groups for ${want.length} ports`,
      );
      for (const p of s.spec?.ports ?? []) {
        const l = listeners.find((x) => x.Port === p.port && x.Protocol === p.protocol);
        const tgArn =
          l?.DefaultActions?.[0]?.TargetGroupArn ??
          l?.DefaultActions?.[0]?.ForwardConfig?.TargetGroups?.[0]?.TargetGroupArn;
        const tg = myTgs.find((t) => t.TargetGroupArn === tgArn);
        if (
          !c.that(
            tg !== undefined,
            () =>
              `1: ${name} port ${p.port}/${p.protocol}: listener forwards to ${tgArn}, not a target group of its own`,
          )
        )
          continue;
        c.that(
          tg!.Port === p.nodePort && tg!.Protocol === p.protocol,
          () =>
            `1: ${name} port ${p.port}: target group ${tg!.Protocol}:${tg!.Port}, nodePort ${p.protocol}:${p.nodePort}`,
        );
        const health =
          (await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg!.TargetGroupArn })))
            .TargetHealthDescriptions ?? [];
        const targets = health.map((h) => `${h.Target?.Id}:${h.Target?.Port}`).sort();
        const wantTargets = eligible.map((id) => `${id}:${p.nodePort}`).sort();
        c.that(
          JSON.stringify(targets) === JSON.stringify(wantTargets),
          () => `1: ${name} port ${p.port} targets ${targets.join(' ')}, eligible ${wantTargets.join(' ')}`,
        );
      }
    }
  }
}

export async function awsRig(_cluster: unknown, rng: Rng, log: (line: string) => void): Promise<ProviderRig> {
  const moto = await startMoto();
  const raw = motoClients(moto.endpoint);
  const fx = await clusterFixture(raw.ec2, CLUSTER_NAME, INSTANCES);
  // the proxy's fault choices come from their own stream, so the soak's operations replay whatever the timing
  const proxy = await startFaultProxy(moto.endpoint, new Rng(rng.seed ^ 0x5bd1e995));
  log(`chaos: moto at ${moto.endpoint}, fault proxy at ${proxy.endpoint}`);
  const accessKey = `AKIACHAOS${randomBytes(6).toString('hex').toUpperCase()}`;
  const secretKey = randomBytes(20).toString('base64url');
  const processStarts: number[] = [];
  return {
    name: 'aws',
    args: ['--aws-endpoint', proxy.endpoint, '--aws-region', MOTO_REGION, '--aws-vpc-id', fx.vpcId],
    env: {
      AWS_ACCESS_KEY_ID: accessKey,
      AWS_SECRET_ACCESS_KEY: secretKey,
      AWS_REGION: MOTO_REGION,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    secrets: [accessKey, secretKey],
    probe: new AwsProbe(
      raw,
      fx.instances.map((i) => i.id),
      fx.clusterSecurityGroup,
    ),
    providerID: (i) => (fx.instances[i] ? `aws:///${fx.instances[i].zone}/${fx.instances[i].id}` : undefined),
    instances: INSTANCES,
    processStarted: (at) => processStarts.push(at),
    callInFlight: (timeoutMs) => proxy.nextMutatingCallDone(timeoutMs, 1500),
    setFaults: (on) => proxy.setFaultRate(on ? CLOUD_FAULT_RATE : 0),
    faultCounts: () => proxy.faultCounts(),
    checkBudget: (checks) => checkCallBudget(proxy.calls, processStarts, checks),
    stop: async () => {
      await proxy.close();
      await moto.stop();
    },
  };
}

/**
 * Test support for the AWS provider's moto tests: one moto server, a cluster's EC2 fixtures, a provider
 * wired with the call recorder and the middleware that gives moto AWS's answers, and readers of what
 * exists (raw clients, not provider code).
 */
import { afterAll, beforeAll, expect } from '@jest/globals';
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import type { IpPermission, SecurityGroup } from '@aws-sdk/client-ec2';
import { DescribeListenersCommand, DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import { clusterFixture, motoClients, startMoto } from '../harness/moto.ts';
import type { ClusterFixture, Moto } from '../harness/moto.ts';
import { aLoadBalancer } from '../builders/load-balancer.ts';
import { inventory } from './moto-inventory.ts';
import { AwsProvider } from '../../providers/aws/provider.ts';
import type { AwsProviderOptions } from '../../providers/aws/provider.ts';
import { DEFAULT_LIMITS } from '../../providers/aws/quotas.ts';
import type { ApiClass, Rate } from '../../providers/aws/throttle.ts';
import {
  accountLimits,
  CallRecorder,
  deletionProtectionAsAws,
  duplicateNameAsAws,
  modifyListenerAsAws,
  targetGroupAttributesAsAws,
} from './sdk-middleware.ts';

export type Clients = ReturnType<typeof motoClients>;
const fast = { qps: 200, burst: 200 };
/** every bucket fast: moto has no rate limit, and the tests that need one set it */
const FAST_RATES: Record<ApiClass, Rate> = {
  elbv2: fast,
  'elbv2-describe': fast,
  'elbv2-modify': fast,
  'elbv2-targets': fast,
  'ec2-describe': fast,
  'ec2-modify': fast,
  drift: fast,
};

export class MotoWorld {
  readonly clusterName: string;
  readonly moto: Moto;
  readonly raw: Clients;
  readonly fx: ClusterFixture;
  /** nodes each Service from service() targets */
  readonly nodeCount: number;
  provider!: AwsProvider;
  calls!: CallRecorder;
  private readonly signal = new AbortController().signal;

  private constructor(clusterName: string, moto: Moto, raw: Clients, fx: ClusterFixture, nodeCount: number) {
    this.clusterName = clusterName;
    this.nodeCount = nodeCount;
    this.moto = moto;
    this.raw = raw;
    this.fx = fx;
  }

  static async start(clusterName: string, nodeCount = 3): Promise<MotoWorld> {
    const moto = await startMoto();
    const raw = motoClients(moto.endpoint);
    const fx = await clusterFixture(raw.ec2, clusterName, 4);
    const world = new MotoWorld(clusterName, moto, raw, fx, nodeCount);
    ({ provider: world.provider, calls: world.calls } = world.newProvider());
    return world;
  }

  /**
   * A provider of its own (a restarted controller knows nothing), wired like the main one. `options` adds to
   * its options, `rates` replace the fast buckets they name, `limits` are the account limits AWS would report.
   */
  newProvider(
    clusterName = this.clusterName,
    {
      limits = DEFAULT_LIMITS,
      rates = {},
      ...options
    }: Partial<Omit<AwsProviderOptions, 'clusterName' | 'clients'>> & { limits?: Record<string, number> } = {},
  ): { provider: AwsProvider; clients: Clients; calls: CallRecorder } {
    const clients = motoClients(this.moto.endpoint);
    const calls = new CallRecorder().attach(clients);
    // moto answers DescribeAccountLimits with fixed values (20 NLBs, no per-AZ target limit): AWS's defaults instead
    accountLimits(clients.elbv2, limits);
    // moto's ModifyListener refuses UDP, TLS and TCP_UDP; AWS accepts them
    modifyListenerAsAws(clients.elbv2, this.raw.elbv2);
    // moto deletes a protected NLB; AWS answers OperationNotPermitted
    deletionProtectionAsAws(clients.elbv2, this.raw.elbv2);
    // moto makes a second NLB under a taken name; AWS returns the existing one or DuplicateLoadBalancerName
    duplicateNameAsAws(clients.elbv2, this.raw.elbv2);
    // moto leaves proxy_protocol_v2.enabled out of DescribeTargetGroupAttributes until set; AWS lists it
    targetGroupAttributesAsAws(clients.elbv2);
    return {
      provider: new AwsProvider({ ...options, clusterName, clients, rates: { ...FAST_RATES, ...rates } }),
      clients,
      calls,
    };
  }

  service(name: string, ...ports: Parameters<ReturnType<typeof aLoadBalancer>['withPorts']>): DesiredLoadBalancer {
    const lb = aLoadBalancer(name, this.clusterName)
      .withPorts(...(ports.length ? ports : [80]))
      .build();
    lb.targets = this.fx.nodes(this.nodeCount);
    return lb;
  }

  stock() {
    return inventory(this.raw, this.clusterName, this.fx.clusterSecurityGroup);
  }

  async ofService(lb: DesiredLoadBalancer) {
    const inv = await this.stock();
    const uid = lb.ref.uid;
    return {
      lbs: inv.loadBalancers.filter((l) => l.tags['lbprovisioner.io/service-uid'] === uid),
      tgs: inv.targetGroups.filter((t) => t.tags['lbprovisioner.io/service-uid'] === uid),
    };
  }

  async listenersOf(arn: string) {
    return (await this.raw.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: arn }))).Listeners ?? [];
  }

  async targetsOf(arn: string) {
    const res = await this.raw.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }));
    return (res.TargetHealthDescriptions ?? []).map((d) => d.Target!.Id!).sort();
  }

  /** The frontend security groups the Service's NLB carries: its own, or the cluster's shared open one. */
  async frontendGroups(lb: DesiredLoadBalancer): Promise<SecurityGroup[]> {
    const nlb = (await this.ofService(lb)).lbs[0];
    if (!nlb?.SecurityGroups?.length) return [];
    const res = await this.raw.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: nlb.SecurityGroups }));
    return (res.SecurityGroups ?? []).filter((g) =>
      (g.Tags ?? []).some(
        (t) =>
          t.Key === 'lbprovisioner.io/resource' &&
          (t.Value === 'frontend-security-group' || t.Value === 'open-security-group'),
      ),
    );
  }

  /** The inbound rules of the frontend group the Service's NLB carries. */
  async frontendRules(lb: DesiredLoadBalancer): Promise<IpPermission[]> {
    const groups = await this.frontendGroups(lb);
    expect(groups).toHaveLength(1);
    return groups[0]!.IpPermissions ?? [];
  }

  /** ensure twice: the second must make no mutating call and say changed: false */
  async converge(lb: DesiredLoadBalancer) {
    const first = await this.provider.ensure(lb, this.signal);
    this.calls.reset();
    const second = await this.provider.ensure(lb, this.signal);
    expect(this.calls.mutating().map((c) => c.operation)).toEqual([]);
    expect(second.changed).toBe(false);
    return first;
  }

  async stop(): Promise<void> {
    await this.provider?.close();
    await this.moto.stop();
  }
}

/** A test file's world: moto started before its tests and stopped after them. */
export function motoWorldFor(clusterName: string): () => MotoWorld {
  let world: MotoWorld | undefined;
  beforeAll(async () => {
    world = await MotoWorld.start(clusterName);
  }, 120_000);
  afterAll(async () => {
    await world?.stop();
  });
  return () => world!;
}

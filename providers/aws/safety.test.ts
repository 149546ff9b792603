/**
 * The AWS provider against moto: what must never happen to a user's AWS account. An NLB in the wrong VPC,
 * nodes cut off from NLBs that still use them, target groups lost after a failure, a foreign NLB taken
 * over, a deletion-protected NLB that blocks cleanup for good. Each test failed before its fix. Where moto
 * differs from AWS, the middleware wired in test/aws/moto-world.ts gives AWS's answer (here: a taken NLB
 * name answers DuplicateLoadBalancerName, a protected NLB refuses DeleteLoadBalancer).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DescribeSecurityGroupsCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateLoadBalancerCommand,
  DeleteLoadBalancerCommand,
  DescribeTagsCommand,
  ModifyLoadBalancerAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { NOTHING_LEFT } from '../../test/aws/moto-inventory.ts';
import { MotoWorld } from '../../test/aws/moto-world.ts';
import { elbError, failOperation, use } from '../../test/aws/sdk-middleware.ts';
import { AWS_ANNOTATION as A } from './annotations.ts';

const CLUSTER = 'safety';
const signal = new AbortController().signal;
let w: MotoWorld;

beforeAll(async () => {
  w = await MotoWorld.start(CLUSTER);
}, 120_000);

afterAll(async () => {
  await w?.stop();
});

describe('subnet discovery stays in the cluster VPC', () => {
  it("uses only subnets of the nodes' VPC, or of --aws-vpc-id, when role-tagged subnets exist in another VPC", async () => {
    // a second VPC whose subnets carry the same role and cluster tags, one in a zone the cluster lacks
    const other = (await w.raw.ec2.send(new CreateVpcCommand({ CidrBlock: '10.1.0.0/16' }))).Vpc!.VpcId!;
    const stray: string[] = [];
    for (const [cidr, zone] of [
      ['10.1.0.0/24', 'us-east-1a'],
      ['10.1.3.0/24', 'us-east-1d'],
    ] as const) {
      const res = await w.raw.ec2.send(
        new CreateSubnetCommand({
          VpcId: other,
          CidrBlock: cidr,
          AvailabilityZone: zone,
          TagSpecifications: [
            {
              ResourceType: 'subnet',
              Tags: [
                { Key: 'kubernetes.io/role/elb', Value: '1' },
                { Key: `kubernetes.io/cluster/${CLUSTER}`, Value: 'shared' },
              ],
            },
          ],
        }),
      );
      stray.push(res.Subnet!.SubnetId!);
    }
    try {
      // the VPC of the nodes' instances
      const byNodes = w.newProvider().provider;
      const lb = w.service('in-vpc', 80);
      await byNodes.ensure(lb, signal);
      const nlb = (await w.ofService(lb)).lbs[0]!;
      expect(nlb.VpcId).toBe(w.fx.vpcId);
      expect(nlb.AvailabilityZones!.map((z) => z.SubnetId).sort()).toEqual([...w.fx.publicSubnets].sort());
      await byNodes.delete(lb.ref, signal);

      // no node maps to an instance yet: the configured VPC
      const configured = w.newProvider(CLUSTER, { vpcId: w.fx.vpcId }).provider;
      const empty = { ...w.service('no-nodes', 80), targets: [] };
      await configured.ensure(empty, signal);
      expect((await w.ofService(empty)).lbs.map((l) => l.VpcId)).toEqual([w.fx.vpcId]);
      await configured.delete(empty.ref, signal);

      // neither: the error names the flag instead of building in a VPC picked at random
      const unknown = w.newProvider().provider;
      const err = await unknown.ensure({ ...w.service('vpc-unknown', 80), targets: [] }, signal).catch((e) => e);
      expect(err).toMatchObject({ reason: 'NoSubnets', message: expect.stringContaining('--aws-vpc-id') });
      expect(await w.stock()).toEqual(NOTHING_LEFT);
    } finally {
      for (const id of stray) await w.raw.ec2.send(new DeleteSubnetCommand({ SubnetId: id }));
    }
  });
});

describe('the shared backend security group', () => {
  it('keeps the node rules while an NLB with aws-load-balancer-security-groups still uses the backend group', async () => {
    const userGroup = await w.raw.ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'users-own', Description: 'a user group', VpcId: w.fx.vpcId }),
    );
    const managed = w.service('managed', 80);
    const own = { ...w.service('own-groups', 80), annotations: { [A.securityGroups]: userGroup.GroupId! } };
    await w.provider.ensure(managed, signal);
    await w.provider.ensure(own, signal);
    const before = await w.stock();
    expect(before.nodeRules).toBeGreaterThanOrEqual(3);

    // a restarted controller deletes the last NLB with a managed frontend group
    await w.newProvider().provider.delete(managed.ref, signal);
    const after = await w.stock();
    expect(after.nodeRules).toBe(before.nodeRules);
    expect(after.securityGroups).toEqual([`lbp-${CLUSTER}-backend`]);
    const backend = (
      await w.raw.ec2.send(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [`lbp-${CLUSTER}-backend`] }] }),
      )
    ).SecurityGroups![0]!.GroupId!;
    expect((await w.ofService(own)).lbs[0]!.SecurityGroups).toContain(backend);

    // once that NLB goes too, so do the rules and the group
    await w.newProvider().provider.delete(own.ref, signal);
    expect(await w.stock()).toEqual(NOTHING_LEFT);
    await w.raw.ec2.send(new DeleteSecurityGroupCommand({ GroupId: userGroup.GroupId }));
  });
});

describe('target groups', () => {
  it('a failure after ModifyListener loses no target group: the next ensure removes the one the listener left', async () => {
    const tcp = w.service('switch', [53, 'TCP']);
    await w.converge(tcp);
    const udp = { ...tcp, ports: tcp.ports.map((p) => ({ ...p, protocol: 'UDP' as const })) };
    const { provider, clients } = w.newProvider();
    // the listener was switched to the new group; deleting the old one fails
    failOperation(clients.elbv2, 'DeleteTargetGroup', () => elbError('ValidationError'), 1);
    await expect(provider.ensure(udp, signal)).rejects.toMatchObject({ name: 'ValidationError' });
    expect((await w.ofService(tcp)).tgs.map((t) => t.Protocol).sort()).toEqual(['TCP', 'UDP']);

    await provider.ensure(udp, signal);
    expect((await w.ofService(tcp)).tgs.map((t) => t.Protocol)).toEqual(['UDP']);
    expect((await provider.ensure(udp, signal)).changed).toBe(false);
    await provider.delete(tcp.ref, signal);
    expect(await w.stock()).toEqual(NOTHING_LEFT);
  });
});

describe('a name that is taken', () => {
  it('DuplicateLoadBalancerName adopts only an NLB tagged for this cluster and Service, else NotOwned', async () => {
    const { provider, clients } = w.newProvider();
    await provider.list(signal); // the provider's listing of load balancers, from before the foreign NLB
    const foreign = await w.raw.elbv2.send(
      new CreateLoadBalancerCommand({
        Name: 'taken-name',
        Type: 'network',
        Subnets: w.fx.publicSubnets,
        Tags: [{ Key: 'team', Value: 'theirs' }],
      }),
    );
    const arn = foreign.LoadBalancers![0]!.LoadBalancerArn!;
    // the orphan sweep lists load balancers while this ensure is between its lookup and its create
    use(
      clients.elbv2,
      'sweep-during-create',
      async (args, next, ctx) => {
        if (ctx.commandName === 'CreateLoadBalancerCommand') await provider.list(signal);
        return next(args);
      },
      true,
    );
    const lb = { ...w.service('wants-taken', 80), annotations: { [A.name]: 'taken-name' } };
    await expect(provider.ensure(lb, signal)).rejects.toMatchObject({ name: 'NotOwnedError', reason: 'NotOwned' });
    expect(await w.listenersOf(arn)).toEqual([]);
    const tags = (await w.raw.elbv2.send(new DescribeTagsCommand({ ResourceArns: [arn] }))).TagDescriptions![0]!.Tags;
    expect(tags).toEqual([{ Key: 'team', Value: 'theirs' }]);
    await provider.delete(lb.ref, signal);
    await w.raw.elbv2.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: arn }));
    expect(await w.stock()).toEqual(NOTHING_LEFT);

    // our own NLB under a fixed name that a stale listing missed (made by the previous leader): adopted,
    // and its subnets converged in place
    const mine = { ...w.service('failover', 80), annotations: { [A.name]: 'failover-name' } };
    const stale = w.newProvider().provider;
    await stale.list(signal);
    await w.provider.ensure(mine, signal);
    const two = w.fx.publicSubnets.slice(0, 2);
    const moved = { ...mine, annotations: { ...mine.annotations, [A.subnets]: two.join(',') } };
    await stale.ensure(moved, signal);
    const now = (await w.ofService(mine)).lbs;
    expect(now.map((l) => l.AvailabilityZones!.map((z) => z.SubnetId).sort())).toEqual([[...two].sort()]);
    await stale.delete(mine.ref, signal);
    expect(await w.stock()).toEqual(NOTHING_LEFT);
  });
});

describe('deletion protection', () => {
  it('cleanup names a fix that works, retries, and finishes once protection is off', async () => {
    const lb = { ...w.service('protected', 80), annotations: { [A.attributes]: 'deletion_protection.enabled=true' } };
    await w.converge(lb);
    const arn = (await w.ofService(lb)).lbs[0]!.LoadBalancerArn!;
    const err = await w.provider.delete(lb.ref, signal).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'RetryAfterError', reason: 'DeletionProtected', terminal: false });
    expect((err as { delayMs: number }).delayMs).toBeGreaterThan(0);
    // the message names the command that turns protection off for this NLB
    expect((err as Error).message).toContain(
      `aws elbv2 modify-load-balancer-attributes --load-balancer-arn ${arn} --attributes Key=deletion_protection.enabled,Value=false`,
    );
    expect((await w.ofService(lb)).lbs).toHaveLength(1);
    // the retry still refuses, touching nothing, while protection stays on
    await expect(w.newProvider().provider.delete(lb.ref, signal)).rejects.toMatchObject({
      reason: 'DeletionProtected',
    });
    expect((await w.ofService(lb)).tgs).toHaveLength(1);

    await w.raw.elbv2.send(
      new ModifyLoadBalancerAttributesCommand({
        LoadBalancerArn: arn,
        Attributes: [{ Key: 'deletion_protection.enabled', Value: 'false' }],
      }),
    );
    await w.provider.delete(lb.ref, signal);
    expect(await w.stock()).toEqual(NOTHING_LEFT);
  });
});

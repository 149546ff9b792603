/**
 * Test support: everything a cluster has in moto's ELBv2 and EC2, read with raw clients (no provider
 * code), so leak checks don't trust the code they check.
 */
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import type { EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type {
  ElasticLoadBalancingV2Client,
  LoadBalancer,
  TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';

export interface Inventory {
  loadBalancers: (LoadBalancer & { tags: Record<string, string> })[];
  targetGroups: (TargetGroup & { tags: Record<string, string> })[];
  listeners: number;
  /** security groups carrying any tag of this cluster, other than the nodes' own group */
  securityGroups: string[];
  /** rules in the nodes' group that name a group of ours */
  nodeRules: number;
}

/** What a cluster holds once everything is deleted. */
export const NOTHING_LEFT: Inventory = {
  loadBalancers: [],
  targetGroups: [],
  listeners: 0,
  securityGroups: [],
  nodeRules: 0,
};

/** Tags of ELBv2 resources by ARN, 20 per call. */
export async function tagsOf(
  elbv2: ElasticLoadBalancingV2Client,
  arns: string[],
): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  for (let i = 0; i < arns.length; i += 20) {
    const res = await elbv2.send(new DescribeTagsCommand({ ResourceArns: arns.slice(i, i + 20) }));
    for (const d of res.TagDescriptions ?? [])
      out.set(d.ResourceArn!, Object.fromEntries((d.Tags ?? []).map((t) => [t.Key!, t.Value ?? ''])));
  }
  return out;
}

export async function inventory(
  clients: { elbv2: ElasticLoadBalancingV2Client; ec2: EC2Client },
  clusterName: string,
  nodeGroup: string,
): Promise<Inventory> {
  const clusterKey = `kubernetes.io/cluster/${clusterName}`;
  const mine = (t: Record<string, string> | undefined) =>
    t !== undefined && (t[clusterKey] !== undefined || t['lbprovisioner.io/cluster'] === clusterName);
  const lbs = (await clients.elbv2.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? [];
  const lbTags = await tagsOf(
    clients.elbv2,
    lbs.map((l) => l.LoadBalancerArn!),
  );
  const loadBalancers = lbs
    .filter((l) => mine(lbTags.get(l.LoadBalancerArn!)))
    .map((l) => ({ ...l, tags: lbTags.get(l.LoadBalancerArn!)! }));
  let listeners = 0;
  for (const lb of loadBalancers)
    listeners +=
      (await clients.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }))).Listeners
        ?.length ?? 0;
  const tgs = (await clients.elbv2.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? [];
  const tgTags = await tagsOf(
    clients.elbv2,
    tgs.map((t) => t.TargetGroupArn!),
  );
  const targetGroups = tgs
    .filter((t) => mine(tgTags.get(t.TargetGroupArn!)))
    .map((t) => ({ ...t, tags: tgTags.get(t.TargetGroupArn!)! }));
  const groups = (await clients.ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
  const ours = groups.filter(
    (g) => g.GroupId !== nodeGroup && mine(Object.fromEntries((g.Tags ?? []).map((t) => [t.Key!, t.Value ?? '']))),
  );
  const ourIds = new Set(ours.map((g) => g.GroupId!));
  const node = groups.find((g) => g.GroupId === nodeGroup);
  const nodeRules = (node?.IpPermissions ?? []).filter((p) =>
    (p.UserIdGroupPairs ?? []).some((u) => ourIds.has(u.GroupId!) || u.GroupId?.startsWith('sg-')),
  ).length;
  return { loadBalancers, targetGroups, listeners, securityGroups: ours.map((g) => g.GroupName!), nodeRules };
}

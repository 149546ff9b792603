/**
 * Finding what the cluster already has in EC2: subnets (by annotation or by role tags), the nodes'
 * cluster security group, Elastic IP addresses, and instance IDs from providerIDs. Results are cached
 * for all Services, so a resync costs no EC2 calls.
 */
import { DescribeAddressesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import type { Filter, Subnet } from '@aws-sdk/client-ec2';
import { InvalidAnnotationError, InvalidSpecError } from '../../src/provider.ts';
import { AWS_ANNOTATION } from './annotations.ts';
import type { Ctx } from './context.ts';
import type { Scheme } from './options.ts';
import { clusterTagKey, tagMap, TAG } from './tags.ts';

export interface SubnetInfo {
  id: string;
  zone: string;
  vpcId: string;
}

function toInfo(s: Subnet): SubnetInfo {
  return { id: s.SubnetId ?? '', zone: s.AvailabilityZone ?? '', vpcId: s.VpcId ?? '' };
}

async function describeSubnets(ctx: Ctx, filters: Filter[] | undefined, ids?: string[]): Promise<Subnet[]> {
  const out: Subnet[] = [];
  let token: string | undefined;
  do {
    const page = await ctx.api.ec2(
      new DescribeSubnetsCommand({
        ...(ids ? { SubnetIds: ids } : { Filters: filters, MaxResults: 1000 }),
        NextToken: token,
      }),
      ctx.signal,
    );
    out.push(...(page.Subnets ?? []));
    token = page.NextToken;
  } while (token);
  return out;
}

/**
 * The subnets of an NLB: those the annotation names (IDs or Name tags), else discovered by the
 * kubernetes.io/role/elb (internet-facing) or kubernetes.io/role/internal-elb (internal) tag, skipping
 * subnets tagged for another cluster and preferring ones tagged for ours; one per Availability Zone.
 */
export async function resolveSubnets(ctx: Ctx, annotated: string[] | undefined, scheme: Scheme): Promise<SubnetInfo[]> {
  const key = annotated ? `a:${annotated.join(',')}` : `d:${scheme}`;
  const cached = ctx.caches.subnets.get(key);
  if (cached) return cached;

  let subnets: SubnetInfo[];
  if (annotated) {
    if (annotated.length === 0) throw new InvalidAnnotationError(AWS_ANNOTATION.subnets, 'lists no subnet');
    const ids = annotated.filter((s) => s.startsWith('subnet-'));
    const names = annotated.filter((s) => !s.startsWith('subnet-'));
    const found = [
      ...(ids.length ? await describeSubnets(ctx, undefined, ids) : []),
      ...(names.length ? await describeSubnets(ctx, [{ Name: 'tag:Name', Values: names }]) : []),
    ];
    if (found.length < annotated.length) {
      throw new InvalidAnnotationError(AWS_ANNOTATION.subnets, `not every subnet was found (${annotated.join(', ')})`);
    }
    subnets = found.map(toInfo);
    const zones = new Set(subnets.map((s) => s.zone));
    if (zones.size !== subnets.length)
      throw new InvalidAnnotationError(AWS_ANNOTATION.subnets, 'lists two subnets in one Availability Zone');
  } else {
    const role = scheme === 'internal' ? 'kubernetes.io/role/internal-elb' : 'kubernetes.io/role/elb';
    const all = await describeSubnets(ctx, [{ Name: 'tag-key', Values: [role] }]);
    const ours = clusterTagKey(ctx.clusterName);
    const eligible = all.filter((s) => {
      const tags = tagMap(s.Tags);
      const value = tags[role];
      if (value !== '' && value !== '1') return false;
      return !Object.keys(tags).some((k) => k.startsWith('kubernetes.io/cluster/') && k !== ours);
    });
    const byZone = new Map<string, Subnet>();
    const rank = (s: Subnet): string => `${tagMap(s.Tags)[ours] === undefined ? 1 : 0}${s.SubnetId}`;
    for (const s of eligible.sort((a, b) => rank(a).localeCompare(rank(b)))) {
      if (s.AvailabilityZone && !byZone.has(s.AvailabilityZone)) byZone.set(s.AvailabilityZone, s);
    }
    subnets = [...byZone.values()].map(toInfo);
    if (subnets.length === 0) {
      throw new InvalidSpecError(
        `no subnet is tagged ${role} for cluster ${ctx.clusterName}; tag subnets or set ${AWS_ANNOTATION.subnets}`,
        'NoSubnets',
      );
    }
  }
  if (new Set(subnets.map((s) => s.vpcId)).size > 1)
    throw new InvalidSpecError('the subnets are in more than one VPC', 'NoSubnets');
  subnets.sort((a, b) => (annotated ? 0 : a.zone.localeCompare(b.zone)));
  return ctx.caches.subnets.set(key, subnets);
}

/**
 * The nodes' cluster security group(s): groups in the VPC tagged kubernetes.io/cluster/<name> that are not
 * ours (EKS tags its cluster security group this way; self-managed clusters tag their node group).
 */
export async function nodeSecurityGroups(ctx: Ctx, vpcId: string, configured?: string[]): Promise<string[]> {
  if (configured && configured.length > 0) return configured;
  const cache = ctx.caches.nodeGroups;
  const hit = cache.get(vpcId);
  if (hit) return hit;
  const res = await ctx.api.ec2(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'vpc-id', Values: [vpcId] },
        { Name: 'tag-key', Values: [clusterTagKey(ctx.clusterName)] },
      ],
    }),
    ctx.signal,
  );
  const ids = (res.SecurityGroups ?? [])
    .filter((g) => tagMap(g.Tags)[TAG.resource] === undefined)
    .map((g) => g.GroupId ?? '');
  return cache.set(vpcId, ids.filter((id) => id !== '').sort());
}

/** Public addresses of Elastic IP allocations (an allocation's address never changes, so cached for good). */
export async function eipAddresses(ctx: Ctx, allocationIds: string[]): Promise<string[]> {
  const missing = allocationIds.filter((id) => !ctx.caches.eips.has(id));
  if (missing.length > 0) {
    const res = await ctx.api.ec2(new DescribeAddressesCommand({ AllocationIds: missing }), ctx.signal);
    for (const a of res.Addresses ?? [])
      if (a.AllocationId && a.PublicIp) ctx.caches.eips.set(a.AllocationId, a.PublicIp);
  }
  return allocationIds.map((id) => ctx.caches.eips.get(id)).filter((ip): ip is string => ip !== undefined);
}

/**
 * Finding what the cluster already has in EC2: its VPC (the nodes' instances'), subnets (by annotation or
 * by role tags, in that VPC only), the nodes' cluster security group, and Elastic IP addresses. Results
 * are cached for all Services, so a resync costs no EC2 calls.
 */
import {
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
} from '@aws-sdk/client-ec2';
import type { Filter, Subnet } from '@aws-sdk/client-ec2';
import { InvalidAnnotationError, InvalidSpecError, RetryAfterError } from '../../src/model/errors.ts';
import { AWS_ANNOTATION } from './annotations.ts';
import { chunks } from './chunks.ts';
import type { Ctx } from './context.ts';
import type { SubnetInfo } from './observed.ts';
import type { Scheme } from './options.ts';
import { clusterTagKey, tagMap, TAG } from './tags.ts';

/** a VPC filter takes at most 200 values */
const FILTER_VALUES = 200;

/**
 * The cluster's VPC: the configured one (--aws-vpc-id), else the VPC of the nodes' instances (an instance
 * never moves, so each is looked up once), else `fallback` (the VPC of the Service's existing NLB).
 */
export async function clusterVpc(
  ctx: Ctx,
  configured: string | undefined,
  instances: string[],
  fallback: string | undefined,
): Promise<string | undefined> {
  if (configured) return configured;
  const known = ctx.caches.instanceVpcs;
  const unknown = instances.filter((id) => !known.has(id));
  for (const batch of chunks(unknown, FILTER_VALUES)) {
    let token: string | undefined;
    do {
      // a filter, not InstanceIds: an ID EC2 does not know fails the whole call
      const page = await ctx.api.ec2(
        new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: batch }], NextToken: token }),
        ctx.signal,
      );
      for (const r of page.Reservations ?? [])
        for (const i of r.Instances ?? []) if (i.InstanceId) known.set(i.InstanceId, i.VpcId ?? '');
      token = page.NextToken;
    } while (token);
    for (const id of batch) if (!known.has(id)) known.set(id, '');
  }
  const vpcs = new Set(instances.map((id) => known.get(id)).filter((v): v is string => !!v));
  if (vpcs.size > 1) {
    throw new InvalidSpecError(
      `the Service's nodes are in more than one VPC (${[...vpcs].sort().join(', ')}); set --aws-vpc-id`,
      'NoSubnets',
    );
  }
  return [...vpcs][0] ?? fallback;
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
 * kubernetes.io/role/elb (internet-facing) or kubernetes.io/role/internal-elb (internal) tag in the
 * cluster's VPC, skipping subnets tagged for another cluster and preferring ones tagged for ours; one per
 * Availability Zone. With the VPC unknown, discovery works only while the tagged subnets are in one VPC.
 */
export async function resolveSubnets(
  ctx: Ctx,
  annotated: string[] | undefined,
  scheme: Scheme,
  vpcId: string | undefined,
): Promise<SubnetInfo[]> {
  const key = `${vpcId ?? '?'}|${annotated ? `a:${annotated.join(',')}` : `d:${scheme}`}`;
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
    const elsewhere = subnets.find((x) => vpcId !== undefined && x.vpcId !== vpcId);
    if (elsewhere) {
      throw new InvalidAnnotationError(
        AWS_ANNOTATION.subnets,
        `subnet ${elsewhere.id} is in ${elsewhere.vpcId}, not in the cluster's VPC ${vpcId}`,
      );
    }
    const zones = new Set(subnets.map((s) => s.zone));
    if (zones.size !== subnets.length)
      throw new InvalidAnnotationError(AWS_ANNOTATION.subnets, 'lists two subnets in one Availability Zone');
  } else {
    const role = scheme === 'internal' ? 'kubernetes.io/role/internal-elb' : 'kubernetes.io/role/elb';
    const all = await describeSubnets(ctx, [
      { Name: 'tag-key', Values: [role] },
      ...(vpcId ? [{ Name: 'vpc-id', Values: [vpcId] }] : []),
    ]);
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
        `no subnet${vpcId ? ` in ${vpcId}` : ''} is tagged ${role} for cluster ${ctx.clusterName}; tag subnets or set ${AWS_ANNOTATION.subnets}`,
        'NoSubnets',
      );
    }
    const vpcs = new Set(eligible.map((x) => x.VpcId));
    if (vpcs.size > 1) {
      // nodes will tell: they map to instances once they have a providerID
      throw new RetryAfterError(
        `subnets tagged ${role} are in more than one VPC (${[...vpcs].sort().join(', ')}) and no node of the Service maps to an EC2 instance yet; set --aws-vpc-id`,
        60_000,
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

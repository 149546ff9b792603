/**
 * Security groups the way aws-load-balancer-controller arranges them, since an NLB only takes security
 * groups at creation: each NLB gets a frontend group of its own admitting the Service ports from the
 * source ranges, plus one backend group shared by the cluster's NLBs. The nodes' cluster security group
 * holds a fixed handful of rules admitting that backend group on the NodePort range and kube-proxy's
 * health port, so node rules don't grow with Services or source ranges (60 rules per group by default).
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteSecurityGroupCommand,
  DeleteTagsCommand,
  DescribeSecurityGroupsCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import type { IpPermission, SecurityGroup } from '@aws-sdk/client-ec2';
import type { LoadBalancerRef } from '../../src/model/desired.ts';
import { errorCode } from './aws-api.ts';
import type { Ctx } from './context.ts';
import { backendSecurityGroupName, frontendSecurityGroupName } from './names.ts';
import { additionalTagSet, clusterTagKey, ownershipTags, removableTags, TAG, tagMap, toTagList } from './tags.ts';
import { sleep } from './throttle.ts';

export interface FrontendRule {
  protocol: 'tcp' | 'udp';
  port: number;
  cidr: string;
}

const ruleKey = (r: FrontendRule): string => `${r.protocol}|${r.port}|${r.cidr}`;

function flatten(perms: IpPermission[] | undefined): FrontendRule[] {
  const out: FrontendRule[] = [];
  for (const p of perms ?? []) {
    const protocol = p.IpProtocol as 'tcp' | 'udp';
    if ((protocol !== 'tcp' && protocol !== 'udp') || p.FromPort === undefined || p.FromPort !== p.ToPort) continue;
    for (const r of p.IpRanges ?? []) if (r.CidrIp) out.push({ protocol, port: p.FromPort, cidr: r.CidrIp });
    for (const r of p.Ipv6Ranges ?? []) if (r.CidrIpv6) out.push({ protocol, port: p.FromPort, cidr: r.CidrIpv6 });
  }
  return out;
}

function toPermissions(rules: FrontendRule[]): IpPermission[] {
  return rules.map((r) => ({
    IpProtocol: r.protocol,
    FromPort: r.port,
    ToPort: r.port,
    ...(r.cidr.includes(':') ? { Ipv6Ranges: [{ CidrIpv6: r.cidr }] } : { IpRanges: [{ CidrIp: r.cidr }] }),
  }));
}

async function findGroup(ctx: Ctx, vpcId: string, name: string): Promise<SecurityGroup | undefined> {
  const res = await ctx.api.ec2(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'vpc-id', Values: [vpcId] },
        { Name: 'group-name', Values: [name] },
      ],
    }),
    ctx.signal,
  );
  return res.SecurityGroups?.[0];
}

async function createGroup(
  ctx: Ctx,
  vpcId: string,
  name: string,
  description: string,
  tags: { Key: string; Value: string }[],
): Promise<{ id: string; existed: boolean }> {
  try {
    const res = await ctx.api.ec2(
      new CreateSecurityGroupCommand({
        GroupName: name,
        Description: description,
        VpcId: vpcId,
        TagSpecifications: [{ ResourceType: 'security-group', Tags: tags }],
      }),
      ctx.signal,
    );
    ctx.changed = true;
    return { id: res.GroupId ?? '', existed: false };
  } catch (err) {
    // a retried create whose first attempt went through
    if (errorCode(err) !== 'InvalidGroup.Duplicate') throw err;
    const g = await findGroup(ctx, vpcId, name);
    if (!g?.GroupId) throw err;
    return { id: g.GroupId, existed: true };
  }
}

/** The NLB's own frontend group with exactly the desired rules; returns its id. */
export async function ensureFrontendGroup(
  ctx: Ctx,
  ref: LoadBalancerRef,
  vpcId: string,
  rules: FrontendRule[],
  extraTags: Record<string, string>,
  likelyNew: boolean,
): Promise<string> {
  const name = frontendSecurityGroupName(ref);
  // for a new NLB, create straight away: a leftover of an interrupted create answers Duplicate
  let group = likelyNew ? undefined : await findGroup(ctx, vpcId, name);
  let id = group?.GroupId;
  if (!id) {
    const created = await createGroup(
      ctx,
      vpcId,
      name,
      `lb-provisioner frontend of ${ref.namespace}/${ref.name}`,
      ownershipTags(ref, 'frontend-security-group', additionalTagSet(extraTags)),
    );
    id = created.id;
    group = created.existed ? await findGroup(ctx, vpcId, name) : { GroupId: id, IpPermissions: [] };
  }
  if (group?.Tags !== undefined) {
    const want = tagMap(ownershipTags(ref, 'frontend-security-group', additionalTagSet(extraTags)));
    await convergeGroupTags(ctx, id, tagMap(group.Tags), want);
  }
  const have = new Map(flatten(group?.IpPermissions).map((r) => [ruleKey(r), r]));
  const want = new Map(rules.map((r) => [ruleKey(r), r]));
  const add = [...want.entries()].filter(([k]) => !have.has(k)).map(([, r]) => r);
  const remove = [...have.entries()].filter(([k]) => !want.has(k)).map(([, r]) => r);
  if (add.length > 0) {
    try {
      await ctx.api.ec2(
        new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: toPermissions(add) }),
        ctx.signal,
      );
    } catch (err) {
      if (errorCode(err) !== 'InvalidPermission.Duplicate') throw err;
    }
    ctx.changed = true;
  }
  if (remove.length > 0) {
    await revoke(ctx, id, toPermissions(remove));
    ctx.changed = true;
  }
  return id;
}

/** A security group's tags: annotation keys no longer wanted removed (DeleteTags), the rest added (CreateTags). */
async function convergeGroupTags(
  ctx: Ctx,
  groupId: string,
  current: Record<string, string>,
  want: Record<string, string>,
): Promise<void> {
  const remove = removableTags(current, want);
  if (remove.length > 0) {
    await ctx.api.ec2(
      new DeleteTagsCommand({ Resources: [groupId], Tags: remove.map((Key) => ({ Key })) }),
      ctx.signal,
    );
    ctx.changed = true;
  }
  const add = Object.entries(want).filter(([k, v]) => current[k] !== v);
  if (add.length > 0) {
    await ctx.api.ec2(
      new CreateTagsCommand({ Resources: [groupId], Tags: add.map(([Key, Value]) => ({ Key, Value })) }),
      ctx.signal,
    );
    ctx.changed = true;
  }
}

/** Revoke rules; ones already gone (a concurrent delete, a lost answer) are what we wanted. */
async function revoke(ctx: Ctx, groupId: string, perms: IpPermission[]): Promise<void> {
  try {
    await ctx.api.ec2(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: perms }), ctx.signal);
  } catch (err) {
    if (errorCode(err) !== 'InvalidPermission.NotFound' && errorCode(err) !== 'InvalidGroup.NotFound') throw err;
  }
}

/** The cluster's shared backend group (no rules of its own: it only names the NLBs as a source). */
export async function ensureBackendGroup(ctx: Ctx, vpcId: string): Promise<string> {
  const cached = ctx.caches.backendGroup.get(vpcId);
  if (cached) return cached;
  const name = backendSecurityGroupName(ctx.clusterName);
  const found = await findGroup(ctx, vpcId, name);
  const tags = toTagList({
    [clusterTagKey(ctx.clusterName)]: 'owned',
    [TAG.cluster]: ctx.clusterName,
    [TAG.resource]: 'backend-security-group',
  });
  const id =
    found?.GroupId ??
    (await createGroup(ctx, vpcId, name, `lb-provisioner backend of cluster ${ctx.clusterName}`, tags)).id;
  return ctx.caches.backendGroup.set(vpcId, id);
}

export interface NodePortRange {
  from: number;
  to: number;
}

/** kube-proxy's health port (the model's default health check for externalTrafficPolicy: Cluster) */
const KUBE_PROXY_HEALTH_PORT = 10256;

function nodeRules(backendId: string, range: NodePortRange, healthPorts: number[]): IpPermission[] {
  const pair = [{ GroupId: backendId, Description: 'lb-provisioner NLBs' }];
  const extra = [KUBE_PROXY_HEALTH_PORT, ...healthPorts].filter((p) => p < range.from || p > range.to);
  return [
    { IpProtocol: 'tcp', FromPort: range.from, ToPort: range.to, UserIdGroupPairs: pair },
    { IpProtocol: 'udp', FromPort: range.from, ToPort: range.to, UserIdGroupPairs: pair },
    ...[...new Set(extra)]
      .sort((a, b) => a - b)
      .map((p) => ({ IpProtocol: 'tcp', FromPort: p, ToPort: p, UserIdGroupPairs: pair })),
  ];
}

const permKey = (p: IpPermission): string => `${p.IpProtocol}|${p.FromPort}|${p.ToPort}`;

/** The node group(s) admit the backend group on the NodePort range and the health ports; checked once per TTL. */
export async function ensureNodeRules(
  ctx: Ctx,
  nodeGroups: string[],
  backendId: string,
  range: NodePortRange,
  healthPorts: number[],
): Promise<void> {
  if (nodeGroups.length === 0) {
    ctx.warnings.push('no node security group tagged for the cluster was found; node rules are not managed');
    return;
  }
  const want = nodeRules(backendId, range, healthPorts);
  const key = `${nodeGroups.join(',')}|${backendId}|${want.map(permKey).join(',')}`;
  if (ctx.caches.nodeRules.get(key)) return;
  const res = await ctx.api.ec2(new DescribeSecurityGroupsCommand({ GroupIds: nodeGroups }), ctx.signal);
  for (const g of res.SecurityGroups ?? []) {
    const have = new Set(
      (g.IpPermissions ?? [])
        .filter((p) => (p.UserIdGroupPairs ?? []).some((u) => u.GroupId === backendId))
        .map(permKey),
    );
    const missing = want.filter((p) => !have.has(permKey(p)));
    if (missing.length === 0) continue;
    try {
      await ctx.api.ec2(
        new AuthorizeSecurityGroupIngressCommand({ GroupId: g.GroupId, IpPermissions: missing }),
        ctx.signal,
      );
    } catch (err) {
      if (errorCode(err) !== 'InvalidPermission.Duplicate') throw err;
    }
    ctx.changed = true;
  }
  ctx.caches.nodeRules.set(key, 'ok');
}

/**
 * Delete a security group, waiting out DependencyViolation while the NLB's interfaces detach (minutes on
 * AWS). Bounded: after `attempts` it gives up and the caller's next delete() finishes the job.
 */
export async function deleteGroup(ctx: Ctx, groupId: string, attempts = 6): Promise<boolean> {
  for (let i = 1; ; i++) {
    try {
      await ctx.api.ec2(new DeleteSecurityGroupCommand({ GroupId: groupId }), ctx.signal);
      ctx.changed = true;
      return true;
    } catch (err) {
      const code = errorCode(err);
      if (code === 'InvalidGroup.NotFound') return true;
      if (code !== 'DependencyViolation' || i >= attempts) throw err;
      await sleep(Math.min(10_000, 500 * 2 ** i), ctx.signal);
    }
  }
}

export async function findFrontendGroup(ctx: Ctx, ref: LoadBalancerRef): Promise<string | undefined> {
  const res = await ctx.api.ec2(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'group-name', Values: [frontendSecurityGroupName(ref)] },
        { Name: `tag:${TAG.uid}`, Values: [ref.uid] },
      ],
    }),
    ctx.signal,
  );
  return res.SecurityGroups?.[0]?.GroupId;
}

/** When the cluster has no NLB left: remove the node rules naming the backend group, then the group. */
export async function deleteSharedGroupsIfUnused(ctx: Ctx): Promise<void> {
  const res = await ctx.api.ec2(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: `tag:${TAG.cluster}`, Values: [ctx.clusterName] }] }),
    ctx.signal,
  );
  const groups = res.SecurityGroups ?? [];
  const stillUsed = groups.some((g) =>
    (g.Tags ?? []).some((t) => t.Key === TAG.resource && t.Value === 'frontend-security-group'),
  );
  if (stillUsed) return;
  for (const backend of groups.filter((g) =>
    (g.Tags ?? []).some((t) => t.Key === TAG.resource && t.Value === 'backend-security-group'),
  )) {
    const id = backend.GroupId;
    if (!id) continue;
    const referencing = await ctx.api.ec2(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'ip-permission.group-id', Values: [id] }] }),
      ctx.signal,
    );
    for (const g of referencing.SecurityGroups ?? []) {
      const perms = (g.IpPermissions ?? [])
        .filter((p) => (p.UserIdGroupPairs ?? []).some((u) => u.GroupId === id))
        .map((p) => ({
          ...p,
          UserIdGroupPairs: (p.UserIdGroupPairs ?? []).filter((u) => u.GroupId === id),
          IpRanges: [],
          Ipv6Ranges: [],
          PrefixListIds: [],
        }));
      if (perms.length > 0) {
        await revoke(ctx, g.GroupId!, perms);
        ctx.changed = true;
      }
    }
    try {
      await deleteGroup(ctx, id, 3);
    } catch (err) {
      // an NLB made with aws-load-balancer-security-groups still holds it: keep it, nothing leaks
      if (errorCode(err) !== 'DependencyViolation') throw err;
    }
    ctx.caches.backendGroup.clear();
    ctx.caches.nodeRules.clear();
  }
}

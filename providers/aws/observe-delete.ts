/**
 * What a delete needs to see, from a LoadBalancerRef alone: the Service's NLBs (under its derived names,
 * the name this process last synced, or found by tag when this process does not know it), the target
 * groups they use or that are named for the Service, and its frontend group. Also the tag scan behind
 * list() and the orphan sweep, the check of the cluster's shared groups, and the target sets node churn
 * needs after a restart.
 */
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import type { LoadBalancerRef } from '../../src/model/desired.ts';
import type { Ctx } from './context.ts';
import {
  listLoadBalancers,
  listTargetGroups,
  rememberLoadBalancers,
  rememberTargetGroups,
  targetGroupsNamed,
} from './lb-index.ts';
import { frontendSecurityGroupName, legacyLoadBalancerName, loadBalancerName, targetGroupPrefix } from './names.ts';
import type { ObservedDelete, ObservedShared, SharedGroup } from './plan-delete.ts';
import { forwardTarget } from './plan-listeners.ts';
import { listenersOf, loadBalancersByArn, loadBalancersNamed, registeredTargets, tagsOf } from './reads.ts';
import { ownership, refFromTags, TAG, tagMap } from './tags.ts';

export interface TaggedResource {
  arn: string;
  ref: LoadBalancerRef;
}

export interface Scan {
  loadBalancers: TaggedResource[];
  targetGroups: TaggedResource[];
  securityGroups: TaggedResource[];
}

async function owned(ctx: Ctx, arns: string[]): Promise<TaggedResource[]> {
  const out: TaggedResource[] = [];
  for (const [arn, t] of await tagsOf(ctx, arns)) {
    const ref = refFromTags(ctx.clusterName, t);
    if (ref) out.push({ arn, ref });
  }
  return out;
}

/** Every NLB, target group and frontend security group this cluster owns, with the Service each belongs to. */
export async function scanOwned(ctx: Ctx): Promise<Scan> {
  const lbs = await listLoadBalancers(ctx);
  rememberLoadBalancers(ctx, lbs);
  const tgs = await listTargetGroups(ctx);
  rememberTargetGroups(ctx, tgs);
  const loadBalancers = await owned(
    ctx,
    lbs.filter((l) => l.Type === 'network').map((l) => l.LoadBalancerArn!),
  );
  const targetGroups = await owned(
    ctx,
    tgs.map((t) => t.TargetGroupArn!),
  );
  const res = await ctx.api.ec2(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: `tag:${TAG.cluster}`, Values: [ctx.clusterName] }] }),
    ctx.signal,
  );
  const securityGroups: TaggedResource[] = [];
  for (const g of res.SecurityGroups ?? []) {
    const ref = refFromTags(ctx.clusterName, tagMap(g.Tags));
    if (ref && g.GroupId) securityGroups.push({ arn: g.GroupId, ref });
  }
  return { loadBalancers, targetGroups, securityGroups };
}

export interface DeleteMemory {
  /** the name this process last synced the NLB under (a fixed name is found only so, or by tag) */
  knownName?: string;
  /** what a tag scan found for this Service, when this process cannot vouch for its picture */
  scanned?: { loadBalancers: string[]; targetGroups: string[] };
  /** target groups an earlier, interrupted delete or ensure was removing */
  pending: Set<string>;
  adopt: boolean;
}

export async function observeDelete(ctx: Ctx, ref: LoadBalancerRef, memory: DeleteMemory): Promise<ObservedDelete> {
  const names = [...(memory.knownName ? [memory.knownName] : []), loadBalancerName(ref, 0), loadBalancerName(ref, 1)];
  const found = await loadBalancersNamed(ctx, names);
  const seen = new Set(found.map((l) => l.LoadBalancerArn));
  found.push(
    ...(await loadBalancersByArn(
      ctx,
      (memory.scanned?.loadBalancers ?? []).filter((a) => !seen.has(a)),
    )),
  );
  if (found.length === 0 && memory.adopt) {
    // cloud-provider-aws's NLB for this Service, not adopted yet: ours to delete only if tagged for us
    const legacy = (await loadBalancersNamed(ctx, [legacyLoadBalancerName(ref.uid)]))[0];
    const tags = legacy ? (await tagsOf(ctx, [legacy.LoadBalancerArn!])).get(legacy.LoadBalancerArn!) : undefined;
    if (legacy && ownership(ref, tags ?? {}) === 'adoptable') found.push(legacy);
  }
  const targetGroups = new Map([...memory.pending].map((arn) => [arn, nameOf(arn)]));
  const loadBalancers: ObservedDelete['loadBalancers'] = [];
  for (const l of found) {
    loadBalancers.push({ name: l.LoadBalancerName ?? l.LoadBalancerArn!, arn: l.LoadBalancerArn! });
    for (const listener of await listenersOf(ctx, l.LoadBalancerArn!)) {
      const arn = forwardTarget(listener.DefaultActions);
      if (arn) targetGroups.set(arn, nameOf(arn));
    }
  }
  for (const arn of await targetGroupsNamed(ctx, targetGroupPrefix(ref))) targetGroups.set(arn, nameOf(arn));
  for (const arn of memory.scanned?.targetGroups ?? []) targetGroups.set(arn, nameOf(arn));
  const res = await ctx.api.ec2(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'group-name', Values: [frontendSecurityGroupName(ref)] },
        { Name: `tag:${TAG.uid}`, Values: [ref.uid] },
      ],
    }),
    ctx.signal,
  );
  const frontend = res.SecurityGroups?.[0];
  return {
    loadBalancers,
    targetGroups: [...targetGroups].map(([arn, name]) => ({ arn, name })),
    ...(frontend?.GroupId
      ? { frontendGroup: { id: frontend.GroupId, name: frontend.GroupName ?? frontend.GroupId } }
      : {}),
  };
}

/** A target group's name from its ARN (`...:targetgroup/<name>/<id>`). */
function nameOf(arn: string): string {
  return /:targetgroup\/([^/]+)\//.exec(arn)?.[1] ?? arn;
}

/**
 * The cluster's shared groups (the open frontend group, the backend group) and what still uses them.
 * `except`: what the delete being planned removes
 * (an NLB and its frontend group), for `planDelete`, which looks before anything is gone.
 */
export async function observeShared(
  ctx: Ctx,
  except: { loadBalancers: string[]; frontendGroup?: string } = { loadBalancers: [] },
): Promise<ObservedShared> {
  const res = await ctx.api.ec2(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: `tag:${TAG.cluster}`, Values: [ctx.clusterName] }] }),
    ctx.signal,
  );
  const groups = res.SecurityGroups ?? [];
  const role = (g: (typeof groups)[number]) => tagMap(g.Tags)[TAG.resource];
  const frontendGroups = groups.filter(
    (g) => role(g) === 'frontend-security-group' && g.GroupId !== except.frontendGroup,
  ).length;
  const backends = groups.filter((g) => role(g) === 'backend-security-group' && g.GroupId);
  const opens = groups.filter((g) => role(g) === 'open-security-group' && g.GroupId);
  const observed: ObservedShared = { frontendGroups, backendGroups: [], openGroups: [] };
  // while a Service's own frontend group is left, the backend group stays: only an open group needs a look
  if (opens.length === 0 && (frontendGroups > 0 || backends.length === 0)) return observed;
  // an NLB made with aws-load-balancer-security-groups, or open to everyone, has no frontend group of ours
  const lbs = await listLoadBalancers(ctx);
  rememberLoadBalancers(ctx, lbs);
  const usedBy = (id: string) =>
    lbs
      .filter((l) => !except.loadBalancers.includes(l.LoadBalancerArn ?? '') && (l.SecurityGroups ?? []).includes(id))
      .map((l) => l.LoadBalancerName ?? '');
  for (const o of opens)
    observed.openGroups.push({
      id: o.GroupId!,
      name: o.GroupName ?? o.GroupId!,
      usedBy: usedBy(o.GroupId!),
      referencedBy: [],
    });
  if (frontendGroups > 0) return observed;
  for (const b of backends) {
    const id = b.GroupId!;
    const referencedBy: SharedGroup['referencedBy'] = [];
    const users = usedBy(id);
    if (users.length === 0) {
      const referencing = await ctx.api.ec2(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'ip-permission.group-id', Values: [id] }] }),
        ctx.signal,
      );
      for (const g of referencing.SecurityGroups ?? []) {
        const permissions = (g.IpPermissions ?? []).filter((p) =>
          (p.UserIdGroupPairs ?? []).some((u) => u.GroupId === id),
        );
        if (g.GroupId && permissions.length > 0) referencedBy.push({ groupId: g.GroupId, permissions });
      }
    }
    observed.backendGroups.push({ id, name: b.GroupName ?? id, usedBy: users, referencedBy });
  }
  return observed;
}

/** Each target group of a Service's NLB with its listener's port and registered targets (node churn after a restart). */
export async function observeTargets(
  ctx: Ctx,
  names: string[],
): Promise<
  { arn: string; name: string; targetGroups: { port: number; arn: string; registered: Set<string> }[] } | undefined
> {
  const found = await loadBalancersNamed(ctx, names);
  const byName = new Map(found.map((l) => [l.LoadBalancerName, l]));
  const lb = names.map((n) => byName.get(n)).find((l) => l !== undefined);
  if (!lb) return undefined;
  const targetGroups = [];
  for (const l of await listenersOf(ctx, lb.LoadBalancerArn!)) {
    const arn = forwardTarget(l.DefaultActions);
    if (arn) targetGroups.push({ port: l.Port ?? 0, arn, registered: await registeredTargets(ctx, arn) });
  }
  return { arn: lb.LoadBalancerArn!, name: lb.LoadBalancerName!, targetGroups };
}

/**
 * Finding and removing what a cluster owns, by tag. Deletion order: the NLB (with its listeners), its
 * target groups, then its frontend security group. Leftovers without an NLB (a delete interrupted by a
 * restart, by an older version or by hand) are found by a tag scan.
 */
import { DeleteLoadBalancerCommand, DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { InvalidSpecError, RetryAfterError } from '../../src/provider.ts';
import type { LoadBalancerRef } from '../../src/model/desired.ts';
import { AWS_ANNOTATION } from './annotations.ts';
import { errorCode } from './aws-api.ts';
import type { Ctx } from './context.ts';
import { deleteTargetGroup, forwardTarget, readListeners } from './listeners.ts';
import { describeTags } from './load-balancer.ts';
import { indexRemove, listLoadBalancers, rememberLoadBalancers } from './lb-index.ts';
import { deleteGroup, findFrontendGroup } from './security-groups.ts';
import { refFromTags, tagMap, TAG } from './tags.ts';

export interface TaggedResource {
  arn: string;
  ref: LoadBalancerRef;
}

async function allTargetGroupArns(ctx: Ctx): Promise<string[]> {
  const out: string[] = [];
  let marker: string | undefined;
  do {
    const page = await ctx.api.elbv2(new DescribeTargetGroupsCommand({ Marker: marker, PageSize: 400 }), ctx.signal);
    for (const tg of page.TargetGroups ?? []) if (tg.TargetGroupArn) out.push(tg.TargetGroupArn);
    marker = page.NextMarker;
  } while (marker);
  return out;
}

async function owned(ctx: Ctx, arns: string[]): Promise<TaggedResource[]> {
  const tags = await describeTags(ctx, arns);
  const out: TaggedResource[] = [];
  for (const [arn, t] of tags) {
    const ref = refFromTags(ctx.clusterName, t);
    if (ref) out.push({ arn, ref });
  }
  return out;
}

/** Every NLB, target group and frontend security group this cluster owns, with the Service each belongs to. */
export async function scanOwned(
  ctx: Ctx,
): Promise<{ loadBalancers: TaggedResource[]; targetGroups: TaggedResource[]; securityGroups: TaggedResource[] }> {
  const all = await listLoadBalancers(ctx);
  rememberLoadBalancers(ctx, all);
  const lbs = all.filter((l) => l.Type === 'network').map((l) => l.LoadBalancerArn!);
  const loadBalancers = await owned(ctx, lbs);
  const targetGroups = await owned(ctx, await allTargetGroupArns(ctx));
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

/**
 * Delete one Service's load balancer and everything it owns. Idempotent. The NLB goes first (it takes its
 * listeners with it, and AWS refuses it with OperationNotPermitted while deletion protection is on, before
 * anything else is touched); its target groups are known from its listeners beforehand and handed to
 * `remember`, so a delete interrupted after the NLB went is finished from memory, or after a restart by a
 * tag scan.
 */
export async function deleteLoadBalancer(
  ctx: Ctx,
  ref: LoadBalancerRef,
  lb: LoadBalancer | undefined,
  leftoverTargetGroups: () => Promise<string[]>,
  remember: (targetGroups: string[]) => void,
): Promise<void> {
  if (lb) {
    const arn = lb.LoadBalancerArn!;
    const { listeners } = await readListeners(ctx, arn, false);
    remember(listeners.map((l) => forwardTarget(l.DefaultActions)).filter((a): a is string => !!a));
    try {
      await ctx.api.elbv2(new DeleteLoadBalancerCommand({ LoadBalancerArn: arn }), ctx.signal);
    } catch (err) {
      if (errorCode(err) === 'OperationNotPermitted') {
        throw new InvalidSpecError(
          `the NLB ${lb.LoadBalancerName} has deletion protection on; remove deletion_protection.enabled=true from ${AWS_ANNOTATION.attributes} (or turn it off in AWS) to let it be deleted`,
          'DeletionProtected',
        );
      }
      if (errorCode(err) !== 'LoadBalancerNotFound') throw err;
    }
    indexRemove(ctx, lb.LoadBalancerName);
    ctx.changed = true;
  }
  for (const tg of new Set(await leftoverTargetGroups())) await deleteTargetGroup(ctx, tg);
  const frontend = await findFrontendGroup(ctx, ref);
  if (frontend) {
    try {
      await deleteGroup(ctx, frontend);
    } catch (err) {
      // the NLB's network interfaces take minutes to go on AWS; the next delete() finishes this
      if (errorCode(err) === 'DependencyViolation') {
        throw new RetryAfterError(
          'the frontend security group is still in use while the NLB detaches; retrying',
          30_000,
          'DeletionInProgress',
          { cause: err },
        );
      }
      throw err;
    }
  }
}

/** Remove an NLB that a replacement took over from, with its target groups (the frontend group stays: the replacement uses it). */
export async function retireLoadBalancer(ctx: Ctx, lb: LoadBalancer): Promise<void> {
  const { listeners } = await readListeners(ctx, lb.LoadBalancerArn!, false);
  try {
    await ctx.api.elbv2(new DeleteLoadBalancerCommand({ LoadBalancerArn: lb.LoadBalancerArn }), ctx.signal);
  } catch (err) {
    if (errorCode(err) !== 'LoadBalancerNotFound') throw err;
  }
  indexRemove(ctx, lb.LoadBalancerName);
  ctx.changed = true;
  for (const l of listeners) {
    const tg = forwardTarget(l.DefaultActions);
    if (tg) await deleteTargetGroup(ctx, tg);
  }
}

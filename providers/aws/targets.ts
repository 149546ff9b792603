/**
 * Target registration by diff: read what a target group holds, register what is missing and deregister
 * what is extra, in chunks of 100 (one call per target group for ordinary churn).
 */
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { errorCode } from './aws-api.ts';
import type { Ctx } from './context.ts';
import { chunks } from './context.ts';
import { quotaError } from './quotas.ts';

export const TARGETS_PER_CALL = 100;

/** Instances registered in a target group, leaving out those already draining. */
export async function registeredTargets(ctx: Ctx, targetGroupArn: string): Promise<Set<string>> {
  const res = await ctx.api.elbv2(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }), ctx.signal);
  const out = new Set<string>();
  for (const d of res.TargetHealthDescriptions ?? []) {
    const state = d.TargetHealth?.State;
    if (state === 'draining' || d.TargetHealth?.Reason === 'Target.NotRegistered') continue;
    if (d.Target?.Id) out.add(d.Target.Id);
  }
  return out;
}

/** Bring a target group's instances to `want`; returns the set now registered. */
export async function syncTargets(
  ctx: Ctx,
  targetGroupArn: string,
  have: Set<string>,
  want: readonly string[],
): Promise<Set<string>> {
  const wanted = new Set(want);
  const add = want.filter((id) => !have.has(id));
  const remove = [...have].filter((id) => !wanted.has(id)).sort();
  for (const batch of chunks(add, TARGETS_PER_CALL)) {
    try {
      await ctx.api.elbv2(
        new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: batch.map((Id) => ({ Id })) }),
        ctx.signal,
      );
    } catch (err) {
      throw quotaError(err);
    }
    ctx.changed = true;
  }
  for (const batch of chunks(remove, TARGETS_PER_CALL)) {
    try {
      await ctx.api.elbv2(
        new DeregisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: batch.map((Id) => ({ Id })) }),
        ctx.signal,
      );
    } catch (err) {
      // already gone (someone else deregistered it, or the instance was terminated): the goal is met
      if (errorCode(err) !== 'InvalidTarget') throw err;
    }
    ctx.changed = true;
  }
  return wanted;
}

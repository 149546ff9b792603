/**
 * The applier's deletes, each tolerant of what AWS does while things go: a deletion-protected NLB (the
 * user is told how to turn it off, and the delete is retried), a target group still in use for a moment
 * after its listener went, a security group held while an NLB's interfaces detach.
 */
import { DeleteSecurityGroupCommand } from '@aws-sdk/client-ec2';
import { DeleteLoadBalancerCommand, DeleteTargetGroupCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { RetryAfterError } from '../../src/model/errors.ts';
import type { Ctx } from './context.ts';
import { errorCode } from './error-codes.ts';
import { indexRemove, targetGroupIndexRemove } from './lb-index.ts';
import { sleep } from './throttle.ts';

export async function deleteLoadBalancer(ctx: Ctx, arn: string, name: string): Promise<void> {
  try {
    await ctx.api.elbv2(new DeleteLoadBalancerCommand({ LoadBalancerArn: arn }), ctx.signal);
  } catch (err) {
    if (errorCode(err) === 'OperationNotPermitted') {
      // not terminal: the user turns protection off in AWS, and the next attempt deletes it
      throw new RetryAfterError(
        `the NLB ${name} has deletion protection on, so it cannot be deleted; turn it off with aws elbv2 modify-load-balancer-attributes --load-balancer-arn ${arn} --attributes Key=deletion_protection.enabled,Value=false (or in the AWS console) and this is retried every minute until it is gone`,
        60_000,
        'DeletionProtected',
        { cause: err },
      );
    }
    if (errorCode(err) !== 'LoadBalancerNotFound') throw err;
  }
  indexRemove(ctx, name);
}

/** Delete a target group; AWS may still see it in use for a moment after its listener went away. */
export async function deleteTargetGroup(ctx: Ctx, arn: string, attempts = 5): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await ctx.api.elbv2(new DeleteTargetGroupCommand({ TargetGroupArn: arn }), ctx.signal);
      break;
    } catch (err) {
      const code = errorCode(err);
      if (code === 'TargetGroupNotFound') break;
      if (code !== 'ResourceInUse' || i >= attempts) throw err;
      await sleep(250 * 2 ** i, ctx.signal);
    }
  }
  targetGroupIndexRemove(ctx, arn);
}

/**
 * Delete a security group, waiting out DependencyViolation while the NLB's interfaces detach (minutes on
 * AWS). Bounded: then RetryAfter, and the next delete() finishes the job; a shared group something else
 * still holds is kept.
 */
export async function deleteSecurityGroup(ctx: Ctx, groupId: string, keepIfInUse: boolean): Promise<void> {
  const attempts = keepIfInUse ? 3 : 6;
  for (let i = 1; ; i++) {
    try {
      await ctx.api.ec2(new DeleteSecurityGroupCommand({ GroupId: groupId }), ctx.signal);
      return;
    } catch (err) {
      const code = errorCode(err);
      if (code === 'InvalidGroup.NotFound') return;
      if (code !== 'DependencyViolation') throw err;
      if (i >= attempts) {
        if (keepIfInUse) return;
        throw new RetryAfterError(
          'the frontend security group is still in use while the NLB detaches; retrying',
          30_000,
          'DeletionInProgress',
          { cause: err },
        );
      }
      await sleep(Math.min(10_000, 500 * 2 ** i), ctx.signal);
    }
  }
}

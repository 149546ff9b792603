/**
 * Attributes of an NLB or target group. An ordinary sync compares what we want with the digest tag of
 * what we last applied (no read); a drift pass reads the attributes back and writes only those that
 * differ, so edits made by hand in AWS are reverted.
 */
import {
  AddTagsCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeTargetGroupAttributesCommand,
  ModifyLoadBalancerAttributesCommand,
  ModifyTargetGroupAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Ctx } from './context.ts';
import { digest, TAG } from './tags.ts';

type Kind = 'load-balancer' | 'target-group';

async function readAttributes(ctx: Ctx, kind: Kind, arn: string): Promise<Record<string, string>> {
  const res =
    kind === 'load-balancer'
      ? await ctx.api.elbv2(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: arn }), ctx.signal)
      : await ctx.api.elbv2(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }), ctx.signal);
  const out: Record<string, string> = {};
  for (const a of res.Attributes ?? []) if (a.Key !== undefined) out[a.Key] = a.Value ?? '';
  return out;
}

async function writeAttributes(ctx: Ctx, kind: Kind, arn: string, attrs: Record<string, string>): Promise<void> {
  const Attributes = Object.entries(attrs).map(([Key, Value]) => ({ Key, Value }));
  if (kind === 'load-balancer')
    await ctx.api.elbv2(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: arn, Attributes }), ctx.signal);
  else await ctx.api.elbv2(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: arn, Attributes }), ctx.signal);
}

/**
 * Bring a resource's attributes to `want`. `appliedDigest` is its TAG.attributes value. Without drift:
 * all of `want` is written when the digest differs, nothing otherwise. On a drift pass: the attributes are
 * read and only the differing ones written. The digest tag is updated whenever it differs.
 */
export async function syncAttributes(
  ctx: Ctx,
  kind: Kind,
  arn: string,
  want: Record<string, string>,
  appliedDigest: string | undefined,
): Promise<void> {
  const wantDigest = digest(want);
  let write = appliedDigest === wantDigest ? {} : want;
  if (ctx.drift) {
    const have = await readAttributes(ctx, kind, arn);
    write = Object.fromEntries(Object.entries(want).filter(([k, v]) => have[k] !== v));
  }
  if (Object.keys(write).length > 0) {
    await writeAttributes(ctx, kind, arn, write);
    ctx.changed = true;
  }
  if (appliedDigest !== wantDigest) {
    await ctx.api.elbv2(
      new AddTagsCommand({ ResourceArns: [arn], Tags: [{ Key: TAG.attributes, Value: wantDigest }] }),
      ctx.signal,
    );
    ctx.changed = true;
  }
}

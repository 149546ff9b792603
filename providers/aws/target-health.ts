/**
 * The health of a load balancer's targets as its target groups see them (DescribeTargetHealth), for
 * `lb-provisioner status`. Read-only.
 */
import { DescribeTargetHealthCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { TargetHealth } from '../../src/provider.ts';
import type { Ctx } from './context.ts';
import { observeTargets } from './observe-delete.ts';

const STATE: Record<string, TargetHealth['state']> = { healthy: 'healthy', unhealthy: 'unhealthy' };

/** Every target of every target group of the first NLB found under `names`; none when nothing is built. */
export async function targetHealthOf(ctx: Ctx, names: string[]): Promise<TargetHealth[]> {
  const found = await observeTargets(ctx, names);
  if (!found) return [];
  const out: TargetHealth[] = [];
  for (const tg of found.targetGroups) {
    const res = await ctx.api.elbv2(new DescribeTargetHealthCommand({ TargetGroupArn: tg.arn }), ctx.signal);
    for (const d of res.TargetHealthDescriptions ?? []) {
      const state = d.TargetHealth?.State ?? 'unknown';
      const reason = d.TargetHealth?.Reason ?? (STATE[state] ? undefined : state);
      out.push({
        target: d.Target?.Id ?? '',
        port: tg.port,
        state: STATE[state] ?? 'unknown',
        ...(reason && state !== 'healthy' ? { reason } : {}),
      });
    }
  }
  return out;
}

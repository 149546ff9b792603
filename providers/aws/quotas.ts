/**
 * ELBv2 quotas. AWS's defaults: 50 NLBs per region, 50 listeners per NLB, 500 targets per Availability
 * Zone per NLB (a node counts once per target group). Checked up front with DescribeAccountLimits
 * (cached) where we can, and AWS's own TooMany* answers are turned into a QuotaExceededError naming the
 * limit either way.
 */
import { DescribeAccountLimitsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { QuotaExceededError } from '../../src/provider.ts';
import { errorCode } from './aws-api.ts';
import type { Ctx } from './context.ts';
import { networkLoadBalancerCount } from './lb-index.ts';

export const LIMIT = {
  loadBalancers: 'network-load-balancers',
  listeners: 'listeners-per-network-load-balancer',
  targetsPerZone: 'targets-per-availability-zone-per-network-load-balancer',
} as const;

/** AWS's documented defaults, used where DescribeAccountLimits has no entry */
export const DEFAULT_LIMITS: Record<string, number> = {
  [LIMIT.loadBalancers]: 50,
  [LIMIT.listeners]: 50,
  [LIMIT.targetsPerZone]: 500,
};

const QUOTA_ERRORS: Record<string, string> = {
  TooManyLoadBalancers: `the account's limit of Network Load Balancers per region (${LIMIT.loadBalancers})`,
  TooManyListeners: `the limit of listeners per Network Load Balancer (${LIMIT.listeners})`,
  TooManyTargets: `the limit of targets per Availability Zone per Network Load Balancer (${LIMIT.targetsPerZone})`,
  TooManyTargetGroups: 'the limit of target groups per region (target-groups)',
  TooManyRegistrationsForTargetId: 'the limit of target groups an instance can be registered with',
  TooManyTags: 'the limit of tags per resource (50)',
  RulesPerSecurityGroupLimitExceeded: 'the limit of rules per security group',
  SecurityGroupLimitExceeded: 'the limit of security groups per VPC',
};

/** AWS's quota error as a QuotaExceededError naming the limit; anything else unchanged. */
export function quotaError(err: unknown): unknown {
  const code = errorCode(err);
  const limit = code === undefined ? undefined : QUOTA_ERRORS[code];
  if (limit === undefined) return err;
  const e = new QuotaExceededError(
    `AWS refused the request: it would exceed ${limit} (${code}); raise the quota or free resources`,
  );
  (e as Error & { cause?: unknown }).cause = err;
  return e;
}

async function limits(ctx: Ctx): Promise<Record<string, number>> {
  const cached = ctx.caches.limits.get('elbv2');
  if (cached) return cached;
  const out: Record<string, number> = { ...DEFAULT_LIMITS };
  let marker: string | undefined;
  do {
    const page = await ctx.api.elbv2(new DescribeAccountLimitsCommand({ Marker: marker }), ctx.signal);
    for (const l of page.Limits ?? []) if (l.Name && l.Max) out[l.Name] = Number(l.Max);
    marker = page.NextMarker;
  } while (marker);
  return ctx.caches.limits.set('elbv2', out);
}

export interface QuotaNeeds {
  creatingLoadBalancer: boolean;
  listeners: number;
  /** targets per zone summed over target groups */
  targetsPerZone: Map<string, number>;
}

/** Refuse up front what AWS would refuse halfway through (a half-built NLB is worse than none). */
export async function precheckQuotas(ctx: Ctx, needs: QuotaNeeds): Promise<void> {
  const max = await limits(ctx);
  const lbLimit = max[LIMIT.loadBalancers] ?? DEFAULT_LIMITS[LIMIT.loadBalancers]!;
  if (needs.creatingLoadBalancer && (await networkLoadBalancerCount(ctx)) >= lbLimit) {
    throw new QuotaExceededError(
      `the region already has ${lbLimit} Network Load Balancers, the account's limit (${LIMIT.loadBalancers})`,
    );
  }
  const listenerLimit = max[LIMIT.listeners] ?? DEFAULT_LIMITS[LIMIT.listeners]!;
  if (needs.listeners > listenerLimit) {
    throw new QuotaExceededError(
      `the Service has ${needs.listeners} ports but an NLB takes at most ${listenerLimit} listeners (${LIMIT.listeners})`,
    );
  }
  const targetLimit = max[LIMIT.targetsPerZone] ?? DEFAULT_LIMITS[LIMIT.targetsPerZone]!;
  for (const [zone, n] of needs.targetsPerZone) {
    if (n > targetLimit) {
      throw new QuotaExceededError(
        `${zone} would exceed ${targetLimit} targets (nodes x target groups) on one NLB (${LIMIT.targetsPerZone})`,
      );
    }
  }
}

/**
 * ELBv2 quotas. AWS's defaults: 50 NLBs per region, 50 listeners per NLB, 500 targets per Availability
 * Zone per NLB (a node counts once per target group). Checked before building, from the limits
 * DescribeAccountLimits reports (observe.ts reads them, cached), and AWS's own TooMany* answers become a
 * QuotaExceededError naming the limit either way. Pure.
 */
import { QuotaExceededError } from '../../src/model/errors.ts';
import { errorCode } from './error-codes.ts';

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

export interface QuotaNeeds {
  creatingLoadBalancer: boolean;
  listeners: number;
  /** targets per zone summed over target groups */
  targetsPerZone: Map<string, number>;
}

/** What the account allows and holds: DescribeAccountLimits, and the region's NLBs from the listing. */
export interface QuotaState {
  limits: Record<string, number>;
  loadBalancers: number;
}

/** Refuse up front what AWS would refuse halfway through (a half-built NLB is worse than none). */
export function checkQuotas(needs: QuotaNeeds, state: QuotaState): void {
  const max = (key: string): number => state.limits[key] ?? DEFAULT_LIMITS[key]!;
  const lbLimit = max(LIMIT.loadBalancers);
  if (needs.creatingLoadBalancer && state.loadBalancers >= lbLimit) {
    throw new QuotaExceededError(
      `the region already has ${lbLimit} Network Load Balancers, the account's limit (${LIMIT.loadBalancers})`,
    );
  }
  const listenerLimit = max(LIMIT.listeners);
  if (needs.listeners > listenerLimit) {
    throw new QuotaExceededError(
      `the Service has ${needs.listeners} ports but an NLB takes at most ${listenerLimit} listeners (${LIMIT.listeners})`,
    );
  }
  const targetLimit = max(LIMIT.targetsPerZone);
  for (const [zone, n] of needs.targetsPerZone) {
    if (n > targetLimit) {
      throw new QuotaExceededError(
        `${zone} would exceed ${targetLimit} targets (nodes x target groups) on one NLB (${LIMIT.targetsPerZone})`,
      );
    }
  }
}

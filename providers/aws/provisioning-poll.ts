/**
 * The controller's rechecks of NLBs still provisioning, batched: DescribeLoadBalancers takes up to 20 ARNs,
 * so a recheck also asks after other NLBs still provisioning, and a recheck whose NLB a batch saw active
 * moments ago, or is asking after right now, makes no call of its own. (Eight workers rechecking ten new
 * NLBs made ten calls; the ELBv2 budget they came out of is the one creates wait for.)
 */
import type { LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Ctx } from './context.ts';
import { TtlCache } from './context.ts';
import { loadBalancersByArn } from './reads.ts';

/** how long an NLB a batch saw active answers its own recheck (an NLB does not go back to provisioning) */
const SEEN_ACTIVE_MS = 10_000;
const ARNS_PER_CALL = 20;

export class ProvisioningPoll {
  private readonly seenActive = new TtlCache<LoadBalancer>(SEEN_ACTIVE_MS);
  private readonly inFlight = new Map<string, Promise<LoadBalancer | undefined>>();

  /**
   * The NLB `arn` as AWS reports it (undefined when it is gone). `others`: the ARNs of other NLBs still
   * provisioning, asked after in the same call. The call runs under the first asker's context.
   */
  state(ctx: Ctx, arn: string, others: string[]): Promise<LoadBalancer | undefined> {
    const seen = this.seenActive.get(arn);
    if (seen) return Promise.resolve(seen);
    const asking = this.inFlight.get(arn);
    if (asking) return asking;
    const batch = [
      arn,
      ...others.filter((a) => a !== arn && this.seenActive.get(a) === undefined && !this.inFlight.has(a)),
    ].slice(0, ARNS_PER_CALL);
    const call = loadBalancersByArn(ctx, batch);
    for (const a of batch) {
      const one = call
        .then((found) => {
          const lb = found.find((l) => l.LoadBalancerArn === a);
          if (lb?.State?.Code === 'active') this.seenActive.set(a, lb);
          return lb;
        })
        .finally(() => this.inFlight.delete(a));
      one.catch(() => undefined); // a batch member no recheck awaits must not become an unhandled rejection
      this.inFlight.set(a, one);
    }
    return this.inFlight.get(arn)!;
  }

  /** An NLB deleted or rebuilt: its last answer no longer holds. */
  forget(arn: string): void {
    this.seenActive.delete(arn);
  }
}

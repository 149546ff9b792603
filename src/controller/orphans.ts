/**
 * The orphan sweep's decision, pure: which load balancers a provider lists have no Service that owns them.
 * A load balancer is an orphan when its Service is gone, was re-created under the same name (another UID),
 * or is no longer ours with this provider. What another cluster owns is never ours to judge.
 */
import type { LoadBalancerRef } from '../model/desired.ts';
import type { ServiceObject } from '../model/objects.ts';
import { serviceKey } from '../model/keys.ts';
import type { Orphan } from './book.ts';

export interface OrphanCandidate extends Orphan {
  key: string;
}

/**
 * `owner(svc)` is the provider that owns the Service's load balancer now (ensure or cleanup), if any.
 */
export function findOrphans(
  provider: string,
  clusterName: string,
  listed: readonly LoadBalancerRef[],
  service: (key: string) => ServiceObject | undefined,
  owner: (svc: ServiceObject) => string | undefined,
): OrphanCandidate[] {
  const orphans: OrphanCandidate[] = [];
  for (const ref of listed) {
    if (ref.clusterName !== clusterName) continue;
    const key = serviceKey(ref);
    const svc = service(key);
    const sameService = svc !== undefined && (ref.uid === '' || svc.metadata?.uid === ref.uid);
    if (sameService && owner(svc) === provider) continue;
    orphans.push({ key, provider, ref });
  }
  return orphans;
}

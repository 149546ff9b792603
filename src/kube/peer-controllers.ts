/**
 * Is another service controller taking class-less LoadBalancer Services right now? A cloud controller
 * manager holds the Lease kube-system/cloud-controller-manager while it runs; if we also took class-less
 * Services, both would build a load balancer for each, and our adoption would converge its resources.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { leasePath, type Lease } from './leader.ts';
import { plainJson } from './plain-request.ts';

const LEASES = [{ namespace: 'kube-system', name: 'cloud-controller-manager' }];
/** a Lease renewed within its duration plus this slack counts as held (clocks between nodes differ) */
const SLACK_MS = 60_000;

/** A description of the controller holding such a Lease, or undefined when none is held (or we may not look). */
export async function activeServiceController(kc: KubeConfig, log: Logger): Promise<string | undefined> {
  for (const { namespace, name } of LEASES) {
    let lease: Lease;
    try {
      lease = await plainJson<Lease>(kc, 'GET', leasePath(namespace, name));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== 404) log.debug({ lease: `${namespace}/${name}`, code }, 'could not read a peer controller Lease');
      continue;
    }
    const holder = lease.spec?.holderIdentity;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    const duration = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
    if (holder && Date.now() - renewed < duration + SLACK_MS)
      return `the cloud controller manager (Lease ${namespace}/${name}, held by ${holder})`;
  }
  return undefined;
}

/**
 * The Service's status from the NLB: its DNS name (a hostname entry carries no ipMode), and with Elastic
 * IPs their addresses with ipMode Proxy: traffic must pass the NLB for TLS and security groups to apply
 * (KEP-1860). Pure.
 */
import type { LoadBalancerStatus } from '../../src/provider.ts';

export function loadBalancerStatus(
  state: string | undefined,
  dnsName: string | undefined,
  eipAddresses: string[],
  warnings: string[],
  changed: boolean,
): LoadBalancerStatus {
  const ingress: LoadBalancerStatus['ingress'] = dnsName ? [{ hostname: dnsName }] : [];
  for (const ip of eipAddresses) ingress.push({ ip, ipMode: 'Proxy' });
  const ready = state === 'active';
  const provisioning = state === 'failed' ? 'AWS failed to provision the NLB' : 'the NLB is being provisioned';
  const message = [...(ready ? [] : [provisioning]), ...warnings].join('; ') || undefined;
  return {
    ingress,
    ready,
    changed,
    ...(message ? { message } : {}),
    ...(warnings.length ? { warnings: [...warnings] } : {}),
  };
}

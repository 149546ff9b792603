/**
 * What one cluster owns in the fake ARM, read straight from the fake's store (not through the
 * provider): its load balancers, their frontends and rules, its public IPs, and its NSG rules.
 */
import { clusterHash } from '../../providers/azure/names.ts';
import type { FakeArm } from './server.ts';
import type { Json } from './state.ts';

export interface Owned {
  loadBalancers: Json[];
  frontends: Json[];
  rules: Json[];
  probes: Json[];
  publicIps: Json[];
  securityRules: Json[];
  total: number;
}

const props = (x: Json): Json => (x['properties'] as Json | undefined) ?? {};
const list = (x: unknown): Json[] => (Array.isArray(x) ? (x as Json[]) : []);

export function ownedBy(fake: FakeArm, cluster: string): Owned {
  const loadBalancers = fake.state
    .byType('Microsoft.Network/loadBalancers')
    .map((r) => r.body)
    .filter((b) => (b['tags'] as Record<string, string> | undefined)?.['lbprovisioner.io/cluster'] === cluster);
  const publicIps = fake.state
    .byType('Microsoft.Network/publicIPAddresses')
    .map((r) => r.body)
    .filter((b) => (b['tags'] as Record<string, string> | undefined)?.['lbprovisioner.io/cluster'] === cluster);
  const prefix = `k8s-lbp-${clusterHash(cluster)}-`;
  const securityRules = fake.state
    .byType('Microsoft.Network/networkSecurityGroups')
    .flatMap((r) => list(props(r.body)['securityRules']))
    .filter((r) => String(r['name']).startsWith(prefix));
  const children = (c: string) => loadBalancers.flatMap((lb) => list(props(lb)[c]));
  const owned = {
    loadBalancers,
    frontends: children('frontendIPConfigurations'),
    rules: children('loadBalancingRules'),
    probes: children('probes'),
    publicIps,
    securityRules,
  };
  return { ...owned, total: loadBalancers.length + publicIps.length + securityRules.length };
}

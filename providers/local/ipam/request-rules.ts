/**
 * How a request is read: which families it wants, which addresses it names, and MetalLB's rule for when
 * two Services may hold the same address.
 */
import { formatAddress, otherFamily, parseAddress } from './address.ts';
import type { Address, IpFamily } from './address.ts';
import type { AllocationRequest } from './definitions.ts';
import { ipamError } from './errors.ts';
import type { IpamError } from './errors.ts';

/** Who wants an address, reduced to what the sharing rule looks at. */
export interface Claimant {
  key: string;
  sharingKey: string | undefined;
  /** '' for externalTrafficPolicy Cluster; the selector for Local (MetalLB's backend key) */
  backendKey: string;
  ports: string[];
}

export function wantedFamilies(request: AllocationRequest): {
  families: IpFamily[];
  requireAll: boolean;
} {
  const primary = request.ipFamilies[0] ?? 'IPv4';
  const secondary = request.ipFamilies[1] ?? otherFamily(primary);
  switch (request.ipFamilyPolicy) {
    case 'SingleStack':
      return { families: [primary], requireAll: true };
    case 'RequireDualStack':
      return { families: [primary, secondary], requireAll: true };
    case 'PreferDualStack':
      // the apiserver lists both families only where the cluster is dual-stack
      return {
        families: request.ipFamilies.length > 1 ? [primary, secondary] : [primary],
        requireAll: false,
      };
  }
}

export function parseRequested(request: AllocationRequest, families: IpFamily[]): Map<IpFamily, Address> | IpamError {
  const byFamily = new Map<IpFamily, Address>();
  for (const text of request.requestedIPs) {
    const address = parseAddress(text);
    if (!address) return ipamError.notAnIP(text);
    const existing = byFamily.get(address.family);
    if (existing && existing.value !== address.value) {
      return ipamError.tooManyForFamily(address.family, [formatAddress(existing), formatAddress(address)]);
    }
    if (!families.includes(address.family))
      return ipamError.wrongFamily(formatAddress(address), address.family, families);
    byFamily.set(address.family, address);
  }
  return byFamily;
}

export function claimantOf(request: AllocationRequest): Claimant {
  const selector = Object.entries(request.selector).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    key: request.key,
    sharingKey: request.sharingKey || undefined,
    backendKey: request.externalTrafficPolicy === 'Local' ? `Local:${JSON.stringify(selector)}` : '',
    ports: request.ports.map((p) => `${p.protocol}/${p.port}`),
  };
}

/** MetalLB's sharing rule: same sharing key, same backend key, disjoint ports. */
export function whyNotShared(holder: Claimant, claimant: Claimant): string | null {
  if (holder.sharingKey === undefined) return `${holder.key} has no sharing key`;
  if (claimant.sharingKey === undefined) return 'this Service has no sharing key';
  if (holder.sharingKey !== claimant.sharingKey) {
    return `sharing keys "${claimant.sharingKey}" and "${holder.sharingKey}" differ`;
  }
  if (holder.backendKey !== claimant.backendKey) {
    return 'Services sharing an address with externalTrafficPolicy Local need the same policy and selector';
  }
  const overlap = claimant.ports.find((port) => holder.ports.includes(port));
  return overlap ? `both use port ${overlap}` : null;
}

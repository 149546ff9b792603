/**
 * What the speakers read from a Service and its EndpointSlices: the addresses to announce (the local
 * provider's, ipMode VIP), the pool each came from, and which nodes hold its endpoints. Pure; the informers
 * hand the objects in.
 */
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { PROVIDER_ANNOTATION } from '../../../src/model/names.ts';
import { ALLOCATED_FROM_POOL } from '../annotations.ts';
import { canonicalAddress } from '../ipam/address.ts';
import type { AnnouncedService } from './election.ts';

/** kube-proxy's label linking an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Which pool (IPPool object) holds an address, or null. */
export type PoolOf = (ip: string) => string | null;

/**
 * The Service as the speakers announce it, or null when it is not theirs to announce: not a LoadBalancer,
 * not built by the local provider, no address yet, or addresses another data plane forwards (ipMode Proxy).
 */
export function announcedService(
  service: V1Service,
  slices: readonly V1EndpointSlice[],
  poolOf: PoolOf,
): AnnouncedService | null {
  if (service.spec?.type !== 'LoadBalancer') return null;
  const annotations = service.metadata?.annotations ?? {};
  if (annotations[PROVIDER_ANNOTATION] !== 'local') return null;
  const recordedPools = (annotations[ALLOCATED_FROM_POOL] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const addresses: { ip: string; pool: string | null }[] = [];
  for (const ingress of service.status?.loadBalancer?.ingress ?? []) {
    // an apiserver without the ipMode field drops it: no ipMode means VIP, as kube-proxy reads it
    if (!ingress.ip || (ingress.ipMode !== undefined && ingress.ipMode !== 'VIP')) continue;
    const ip = canonicalAddress(ingress.ip);
    if (ip === null || addresses.some((a) => a.ip === ip)) continue;
    // a --pool flag's pool (flag-N) is no object: the recorded name says it when it is the only one
    const pool = poolOf(ip) ?? (recordedPools.length === 1 ? recordedPools[0]! : null);
    addresses.push({ ip, pool });
  }
  if (addresses.length === 0) return null;
  return {
    key: `${service.metadata?.namespace ?? ''}/${service.metadata?.name ?? ''}`,
    addresses,
    localTraffic: service.spec.externalTrafficPolicy === 'Local',
    endpoints: endpointNodes(slices),
  };
}

/**
 * Nodes with ready endpoints, and nodes with terminating endpoints that still serve (kube-proxy's fallback
 * for Local traffic when a node has no ready endpoint), read as kube-proxy reads EndpointSlice conditions:
 * an unset `ready` or `serving` means true, an unset `terminating` false.
 */
export function endpointNodes(slices: readonly V1EndpointSlice[]): { ready: Set<string>; serving: Set<string> } {
  const ready = new Set<string>();
  const serving = new Set<string>();
  for (const slice of slices) {
    for (const endpoint of slice.endpoints ?? []) {
      if (!endpoint.nodeName) continue;
      const conditions = endpoint.conditions ?? {};
      if (conditions.ready ?? true) ready.add(endpoint.nodeName);
      if ((conditions.serving ?? true) && (conditions.terminating ?? false)) serving.add(endpoint.nodeName);
    }
  }
  return { ready, serving };
}

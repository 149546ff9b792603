/**
 * A check for `lb-provisioner doctor` (deployment issue): a node's NIC can sit in the backend pool of
 * only one public load balancer, and on AKS the nodes already sit in the cluster's own `kubernetes` LB.
 * This lists the nodes (by address) that another public load balancer of the resource group already
 * holds, so doctor can say which nodes our public load balancer can't take.
 */
import type { LoadBalancer } from '@azure/arm-network';
import type { ArmApi } from './arm.ts';
import { loadBalancerName } from './names.ts';

export interface NodeConflict {
  address: string;
  loadBalancer: string;
}

/** Pure: addresses of `nodes` found in the pools of public load balancers other than ours. */
export function conflictingPoolMembers(
  cluster: string,
  lbs: readonly LoadBalancer[],
  nodes: readonly string[],
): NodeConflict[] {
  const ours = loadBalancerName(cluster, false);
  const wanted = new Set(nodes);
  const out: NodeConflict[] = [];
  for (const lb of lbs) {
    if (lb.name === ours) continue;
    const isPublic = (lb.frontendIPConfigurations ?? []).some((f) => f.publicIPAddress || f.publicIPPrefix);
    if (!isPublic) continue;
    for (const pool of lb.backendAddressPools ?? []) {
      const addresses = [
        ...(pool.loadBalancerBackendAddresses ?? []).map((a) => a.ipAddress),
        ...(pool.backendIPConfigurations ?? []).map((c) => c.privateIPAddress),
      ];
      for (const a of addresses) if (a && wanted.has(a)) out.push({ address: a, loadBalancer: lb.name ?? '' });
    }
  }
  return out;
}

/** Reads the resource group's load balancers and reports node addresses another public one holds. */
export async function nodesInOtherPublicLoadBalancers(
  api: ArmApi,
  resourceGroup: string,
  cluster: string,
  nodeAddresses: readonly string[],
  signal: AbortSignal,
): Promise<NodeConflict[]> {
  const lbs: LoadBalancer[] = [];
  for await (const lb of api.client.loadBalancers.list(resourceGroup, { abortSignal: signal })) lbs.push(lb);
  return conflictingPoolMembers(cluster, lbs, nodeAddresses);
}

/** The allocator's inputs and outputs: pool definitions, requests, allocations. Plain data, no Kubernetes. */
import type { IpFamily } from './address.ts';
import type { LabelSelector } from './selector.ts';

export interface ServiceAllocation {
  /** namespace names served; with namespaceSelectors, a namespace matching either is served */
  namespaces?: string[];
  namespaceSelectors?: LabelSelector[];
  /** when set, only Services matching one of these are served */
  serviceSelectors?: LabelSelector[];
}

export interface PoolDefinition {
  name: string;
  /** CIDRs (`10.0.0.0/24`), ranges (`10.0.0.10-10.0.0.20`) or single addresses, IPv4 or IPv6 */
  addresses: string[];
  /** default true; false: only requests naming the pool or one of its addresses are served */
  autoAssign?: boolean;
  /** skip IPv4 addresses ending in .0 and .255 */
  avoidBuggyIPs?: boolean;
  /** lower first; pools without a priority come after all that have one, then by name */
  priority?: number;
  serviceAllocation?: ServiceAllocation;
}

export interface ServicePort {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port: number;
}

export type IpFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

export interface AllocationRequest {
  /** `namespace/name` */
  key: string;
  namespace: string;
  /** the Service's spec.ipFamilies, primary first (IPv4 when empty) */
  ipFamilies: readonly IpFamily[];
  ipFamilyPolicy: IpFamilyPolicy;
  /** specific addresses asked for, at most one per family */
  requestedIPs: readonly string[];
  pool?: string;
  sharingKey?: string;
  ports: readonly ServicePort[];
  externalTrafficPolicy: 'Cluster' | 'Local';
  selector: Readonly<Record<string, string>>;
  serviceLabels: Readonly<Record<string, string>>;
  namespaceLabels: Readonly<Record<string, string>>;
  /** addresses already in the Service's status: adopted when they are ours and free */
  currentIPs: readonly string[];
}

export interface AllocatedAddress {
  ip: string;
  family: IpFamily;
  /** the pool it came from (kept when that pool is later removed); null for an address restored after a
   * restart that lies in no pool at all */
  pool: string | null;
}

export interface AllocationOutcome extends ReleaseOutcome {
  key: string;
  /** in the order of the Service's ipFamilies */
  addresses: AllocatedAddress[];
  /** false when the Service already held exactly these addresses */
  changed: boolean;
}

export interface PoolStats {
  name: string;
  families: IpFamily[];
  size: bigint;
  used: bigint;
  free: bigint;
}

export interface ReleaseOutcome {
  /** addresses no Service holds any more */
  freed: string[];
  /** pools that gained a free address */
  poolsWithRoom: string[];
  /** Services waiting for an address that may now get one: sync them again */
  retry: string[];
}

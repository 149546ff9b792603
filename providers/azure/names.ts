/**
 * Names and tags of everything the Azure provider writes. Names derive from the cluster name and the
 * Service UID (unique for good, so a re-created Service never meets a leftover), within ARM's 80
 * characters. Load-balancer children and NSG rules cannot carry tags: their names carry the owner.
 */
import { createHash } from 'node:crypto';
import type { IpFamily, LoadBalancerRef, Protocol } from '../../src/model/desired.ts';

/** Our prefix on every frontend, rule and probe of our load balancers. */
export const CHILD_PREFIX = 'lbp-';

/** The shared load balancers: never cloud-provider-azure's `<cluster>` / `<cluster>-internal`. */
export function loadBalancerName(cluster: string, internal: boolean): string {
  return `${cluster}-lbp${internal ? '-internal' : ''}`;
}

/** One backend pool per load balancer and family, shared by every Service on it (node IPs). */
export function backendPoolName(cluster: string, family: IpFamily): string {
  return `${cluster}-lbp${family === 'IPv6' ? '-ipv6' : ''}`;
}

const familySuffix = (family: IpFamily): string => (family === 'IPv6' ? '-v6' : '');

/** A Service's own frontend (its own public IP, or its private address). */
export function frontendName(uid: string, family: IpFamily): string {
  return `${CHILD_PREFIX}${uid}${familySuffix(family)}`;
}

/** A frontend on a public IP the user brought (azure-pip-name), shared by every Service naming it. */
export function sharedFrontendName(pipName: string): string {
  return `${CHILD_PREFIX}pip-${pipName}`.slice(0, 80);
}

/** Load-balancing rule and probe of one Service port. */
export function ruleName(uid: string, protocol: Protocol, port: number, family: IpFamily): string {
  return `${CHILD_PREFIX}${uid}-${protocol}-${port}${familySuffix(family)}`;
}
export const probeName = ruleName;

/** The public IP we create for a Service's frontend. */
export function publicIpName(uid: string, family: IpFamily): string {
  return `${CHILD_PREFIX}${uid}${familySuffix(family)}`;
}

/** The UID a child name of ours belongs to (frontends, rules, probes, public IPs), if any. */
export function uidOfChild(name: string): string | undefined {
  const m = /^lbp-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:-|$)/.exec(name);
  return m?.[1];
}

/** 8 hex digits of the cluster name: NSG rules are shared by every cluster on the NSG. */
export function clusterHash(cluster: string): string {
  return createHash('sha256').update(cluster).digest('hex').slice(0, 8);
}

/** Prefix of every NSG rule of this cluster. */
export function securityRulePrefix(cluster: string): string {
  return `k8s-lbp-${clusterHash(cluster)}-`;
}

/** Prefix of every NSG rule of one Service. */
export function securityRuleServicePrefix(cluster: string, uid: string): string {
  return `${securityRulePrefix(cluster)}${uid}-`;
}

/** The UID in an NSG rule name of this cluster, if the rule is ours. */
export function uidOfSecurityRule(cluster: string, name: string): string | undefined {
  const prefix = securityRulePrefix(cluster);
  return name.startsWith(prefix) ? uidOfChild(`${CHILD_PREFIX}${name.slice(prefix.length)}`) : undefined;
}

/** An NSG rule's description says whose it is (it can't carry tags): `namespace/name`, at most 140. */
export function securityRuleDescription(ref: LoadBalancerRef): string {
  return `${ref.namespace}/${ref.name}`.slice(0, 140);
}

export const TAG = {
  /** cloud-provider-azure's tags, so its tooling recognises what we made */
  service: 'k8s-azure-service',
  cluster: 'k8s-azure-cluster-name',
  /** ours: which cluster, which Service (UID), and that we created it (a BYO public IP never carries it) */
  ourCluster: 'lbprovisioner.io/cluster',
  serviceUid: 'lbprovisioner.io/service-uid',
  serviceName: 'lbprovisioner.io/service',
  createdBy: 'lbprovisioner.io/created-by',
} as const;

export const CREATED_BY = 'lb-provisioner';

/** Tags on a load balancer we create. */
export function loadBalancerTags(cluster: string): Record<string, string> {
  return { [TAG.cluster]: cluster, [TAG.ourCluster]: cluster, [TAG.createdBy]: CREATED_BY };
}

/** Tags on a public IP we create for a Service. */
export function publicIpTags(ref: LoadBalancerRef): Record<string, string> {
  const key = `${ref.namespace}/${ref.name}`;
  return {
    [TAG.service]: key,
    [TAG.cluster]: ref.clusterName,
    [TAG.ourCluster]: ref.clusterName,
    [TAG.serviceUid]: ref.uid,
    [TAG.serviceName]: key,
    [TAG.createdBy]: CREATED_BY,
  };
}

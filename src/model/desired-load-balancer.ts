/** Service + Nodes + options -> DesiredLoadBalancer. Pure: the whole decision of "what should exist". */
import type { DesiredLoadBalancer, IpFamily, PortSpec, Protocol, TargetNode } from './desired.ts';
import type { NodeObject, ServiceObject } from './objects.ts';
import { InvalidSpecError } from './errors.ts';
import { healthCheckFor, type HealthCheckRules, type HealthCheckTiming } from './health-check.ts';
import { LOAD_BALANCER_SOURCE_RANGES } from './annotations.ts';
import { annotationReader, canonicalCidr } from './parse.ts';
import { targetsOf } from './nodes.ts';

export interface ModelOptions {
  clusterName: string;
  /** cloud providers map nodes through providerID */
  requireProviderID: boolean;
  /** the data plane forwards to NodePorts, so every port needs one */
  needsNodePorts: boolean;
  healthCheck: HealthCheckRules;
  namespaceLabels?: Record<string, string>;
  /** targets computed once for the current node set and shared by every load balancer (optional) */
  targets?: TargetNode[];
}

/** client-go's default ClientIP affinity timeout (3 hours) */
const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

const PROTOCOLS: readonly string[] = ['TCP', 'UDP', 'SCTP'];

/**
 * The Service's ports, checked as the apiserver validates them (port and nodePort 1-65535, a known
 * protocol, no port twice): a Service read from anywhere else never reaches a provider half-valid.
 * Every message names the field (`spec.ports[1]`).
 */
export function desiredPorts(svc: ServiceObject, needsNodePorts: boolean): PortSpec[] {
  const ports = svc.spec?.ports ?? [];
  if (ports.length === 0) throw new InvalidSpecError('spec.ports: the Service has no ports');
  const seen = new Set<string>();
  return ports.map((p, i) => {
    const field = `spec.ports[${i}]`;
    const protocol = p.protocol ?? 'TCP';
    if (!PROTOCOLS.includes(protocol))
      throw new InvalidSpecError(`${field}.protocol: ${JSON.stringify(protocol)} is not one of TCP, UDP, SCTP`);
    if (!isPortNumber(p.port))
      throw new InvalidSpecError(`${field}.port: ${JSON.stringify(p.port)} is not a port number (1-65535)`);
    if (p.nodePort !== undefined && p.nodePort !== 0 && !isPortNumber(p.nodePort))
      throw new InvalidSpecError(`${field}.nodePort: ${JSON.stringify(p.nodePort)} is not a port number (1-65535)`);
    const id = `${p.port}/${protocol}`;
    if (seen.has(id)) throw new InvalidSpecError(`${field}: port ${id} is listed twice`);
    seen.add(id);
    if (needsNodePorts && !p.nodePort) {
      throw new InvalidSpecError(
        `${field}: port ${id} has no nodePort (allocateLoadBalancerNodePorts is false): this provider forwards to NodePorts; set a nodePort on the port or allow allocation`,
      );
    }
    const spec: PortSpec = { name: p.name ?? '', protocol: protocol as Protocol, port: p.port };
    if (p.nodePort) spec.nodePort = p.nodePort;
    return spec;
  });
}

function isPortNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

export function sourceRangesOf(svc: ServiceObject): string[] {
  const fromSpec = svc.spec?.loadBalancerSourceRanges ?? [];
  if (fromSpec.length === 0)
    return annotationReader(svc.metadata?.annotations).cidrs(LOAD_BALANCER_SOURCE_RANGES) ?? [];
  return fromSpec.map((r) => {
    const cidr = canonicalCidr(r);
    if (cidr === undefined)
      throw new InvalidSpecError(
        `spec.loadBalancerSourceRanges: ${JSON.stringify(r)} is not a CIDR (e.g. 203.0.113.0/24)`,
      );
    return cidr;
  });
}

export function ingressIPsOf(svc: ServiceObject): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => Boolean(ip));
}

export function desiredLoadBalancer(
  svc: ServiceObject,
  nodes: readonly NodeObject[],
  options: ModelOptions,
): DesiredLoadBalancer {
  const meta = svc.metadata ?? {};
  const spec = svc.spec ?? {};
  const affinity = spec.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None';
  const lb: DesiredLoadBalancer = {
    ref: {
      clusterName: options.clusterName,
      namespace: meta.namespace ?? '',
      name: meta.name ?? '',
      uid: meta.uid ?? '',
    },
    ports: desiredPorts(svc, options.needsNodePorts),
    targets: options.targets ?? targetsOf(nodes, { requireProviderID: options.requireProviderID }),
    healthCheck: healthCheckFor(svc, options.healthCheck),
    externalTrafficPolicy: spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    sourceRanges: sourceRangesOf(svc),
    ipFamilies: (spec.ipFamilies?.length ? spec.ipFamilies : ['IPv4']) as IpFamily[],
    ipFamilyPolicy: (spec.ipFamilyPolicy ?? 'SingleStack') as DesiredLoadBalancer['ipFamilyPolicy'],
    sessionAffinity: {
      type: affinity,
      timeoutSeconds: spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS,
    },
    requestedIPs: spec.loadBalancerIP ? [spec.loadBalancerIP] : [],
    currentIngressIPs: ingressIPsOf(svc),
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    namespaceLabels: options.namespaceLabels ?? {},
    selector: spec.selector ?? {},
  };
  if (lb.externalTrafficPolicy === 'Local' && spec.healthCheckNodePort)
    lb.healthCheckNodePort = spec.healthCheckNodePort;
  return lb;
}

/**
 * What a Service recorded, without validating anything: for restoring allocations after a restart even
 * when the Service's spec or annotations have become invalid since (its addresses stay taken).
 */
export function recordedLoadBalancer(
  svc: ServiceObject,
  clusterName: string,
  timing: HealthCheckTiming,
): DesiredLoadBalancer {
  const meta = svc.metadata ?? {};
  const spec = svc.spec ?? {};
  return {
    ref: { clusterName, namespace: meta.namespace ?? '', name: meta.name ?? '', uid: meta.uid ?? '' },
    ports: (spec.ports ?? []).map((p) => ({
      name: p.name ?? '',
      protocol: (p.protocol ?? 'TCP') as Protocol,
      port: p.port,
    })),
    targets: [],
    healthCheck: { protocol: 'HTTP', port: 10256, path: '/healthz', ...timing },
    externalTrafficPolicy: spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    sourceRanges: [],
    ipFamilies: (spec.ipFamilies?.length ? spec.ipFamilies : ['IPv4']) as IpFamily[],
    ipFamilyPolicy: (spec.ipFamilyPolicy ?? 'SingleStack') as DesiredLoadBalancer['ipFamilyPolicy'],
    sessionAffinity: { type: 'None', timeoutSeconds: DEFAULT_AFFINITY_TIMEOUT_SECONDS },
    requestedIPs: spec.loadBalancerIP ? [spec.loadBalancerIP] : [],
    currentIngressIPs: ingressIPsOf(svc),
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    namespaceLabels: {},
    selector: spec.selector ?? {},
  };
}

/**
 * The one place that turns a Service's annotations into AWS options. Pure: no I/O (how the provider itself
 * is built, flags and clients, is provider-options.ts). Every invalid value
 * becomes an InvalidAnnotationError naming the annotation and the accepted values.
 */
import { InvalidAnnotationError, InvalidSpecError } from '../../src/model/errors.ts';
import type { HealthCheckRules } from '../../src/model/health-check.ts';
import type { DesiredLoadBalancer, HealthCheck } from '../../src/model/desired.ts';
import { annotationReader, type AnnotationReader } from '../../src/model/parse.ts';
import { AWS_ANNOTATION as A } from './annotations.ts';

export type Scheme = 'internet-facing' | 'internal';

export interface AwsHealthCheck extends HealthCheck {
  /** HTTP codes for HTTP(S) checks */
  successCodes?: string;
}

export interface AwsOptions {
  /** undefined: keep an existing NLB's scheme, internet-facing for a new one */
  scheme?: Scheme;
  subnets?: string[];
  eipAllocations: string[];
  privateIPv4Addresses: string[];
  ipv6Addresses: string[];
  healthCheck: AwsHealthCheck;
  certificates: string[];
  /** 'all' or the ports/port names that get TLS listeners */
  sslPorts: 'all' | Set<string>;
  sslPolicy: string;
  alpnPolicy?: string;
  additionalTags: Record<string, string>;
  targetGroupAttributes: Record<string, string>;
  loadBalancerAttributes: Record<string, string>;
  ipAddressType: 'ipv4' | 'dualstack';
  securityGroups?: string[];
  manageBackendSecurityGroupRules: boolean;
  targetNodeLabels: Record<string, string>;
  name?: string;
  backendProtocol: 'tcp' | 'ssl';
  sourceRanges: string[];
  /** spec.sessionAffinity: ClientIP becomes source-IP stickiness on the target groups */
  sessionAffinity: 'None' | 'ClientIP';
}

export const DEFAULT_SSL_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';
const ALPN = ['HTTP1Only', 'HTTP2Only', 'HTTP2Optional', 'HTTP2Preferred', 'None'];

/**
 * How the model reads health checks for NLBs: cloud-provider-aws's defaults (interval 30 s, timeout 10 s,
 * thresholds 3), the ranges an NLB accepts, and the aws-load-balancer-healthcheck-* annotations, which win
 * over the provider-neutral ones.
 */
export const AWS_HEALTH_CHECK: HealthCheckRules = {
  defaults: { intervalSeconds: 30, timeoutSeconds: 10, healthyThreshold: 3, unhealthyThreshold: 3 },
  bounds: {
    intervalSeconds: [5, 300],
    timeoutSeconds: [2, 120],
    healthyThreshold: [2, 10],
    unhealthyThreshold: [2, 10],
  },
  aliases: {
    protocol: A.healthCheckProtocol,
    port: A.healthCheckPort,
    path: A.healthCheckPath,
    intervalSeconds: A.healthCheckInterval,
    timeoutSeconds: A.healthCheckTimeout,
    healthyThreshold: A.healthyThreshold,
    unhealthyThreshold: A.unhealthyThreshold,
  },
};

export function awsOptions(lb: DesiredLoadBalancer): AwsOptions {
  const a = annotationReader(lb.annotations);

  const type = a.oneOf(A.type, ['nlb', 'external', 'nlb-ip']);
  const targetType = a.oneOf(A.targetType, ['instance', 'ip']);
  if (type === 'nlb-ip' || targetType === 'ip') {
    throw new InvalidSpecError(
      `IP targets are not supported yet (${type === 'nlb-ip' ? `${A.type}: nlb-ip` : `${A.targetType}: ip`}); use instance targets`,
    );
  }

  // upstream reads any value but "false" as internal; 0.0.0.0/0 was the historic form
  const internal = a.oneOf(A.internal, ['true', 'false', '0.0.0.0/0'], { ignoreCase: true });
  const scheme: Scheme | undefined =
    a.oneOf(A.scheme, ['internet-facing', 'internal']) ??
    (internal === undefined ? undefined : internal === 'false' ? 'internet-facing' : 'internal');

  const ipAddressType = a.oneOf(A.ipAddressType, ['ipv4', 'dualstack']) ?? 'ipv4';
  const eipAllocations = a.list(A.eipAllocations) ?? [];
  for (const id of eipAllocations)
    if (!/^eipalloc-[0-9a-f]+$/.test(id)) a.reject(A.eipAllocations, id, 'EIP allocation IDs (eipalloc-...)');
  const privateIPv4Addresses = a.ips(A.privateIPv4Addresses, 'IPv4') ?? [];
  const ipv6Addresses = a.ips(A.ipv6Addresses, 'IPv6') ?? [];
  if (eipAllocations.length > 0 && scheme === 'internal') {
    throw new InvalidAnnotationError(A.eipAllocations, 'Elastic IPs need an internet-facing NLB');
  }
  if (privateIPv4Addresses.length > 0 && scheme !== 'internal') {
    throw new InvalidAnnotationError(
      A.privateIPv4Addresses,
      'private addresses need an internal NLB (aws-load-balancer-scheme: internal)',
    );
  }
  const subnets = a.list(A.subnets);
  for (const [key, values] of [
    [A.eipAllocations, eipAllocations],
    [A.privateIPv4Addresses, privateIPv4Addresses],
    [A.ipv6Addresses, ipv6Addresses],
  ] as const) {
    if (values.length > 0 && subnets !== undefined && values.length !== subnets.length) {
      throw new InvalidAnnotationError(
        key,
        `needs one value per subnet (${subnets.length} subnets, ${values.length} values)`,
      );
    }
  }

  const backendProtocol = a.oneOf(A.backendProtocol, ['tcp', 'ssl'], { ignoreCase: true }) ?? 'tcp';
  const proxy = a.oneOf(A.proxyProtocol, ['*']);
  const targetGroupAttributes = a.keyValues(A.targetGroupAttributes) ?? {};
  if (proxy === '*') targetGroupAttributes['proxy_protocol_v2.enabled'] = 'true';
  const loadBalancerAttributes = a.keyValues(A.attributes) ?? {};
  const crossZone = a.bool(A.crossZone);
  if (crossZone !== undefined) loadBalancerAttributes['load_balancing.cross_zone.enabled'] = String(crossZone);

  const sslPortsRaw = a.string(A.sslPorts);
  const sslPorts = sslPortsRaw === undefined || sslPortsRaw === '*' ? 'all' : new Set(a.list(A.sslPorts));
  const name = a.string(A.name);
  if (name !== undefined && !/^(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/.test(name)) {
    a.reject(
      A.name,
      name,
      '1-32 letters, digits or hyphens, not starting or ending with a hyphen nor starting with internal-',
    );
  }
  const annotationRanges = a.cidrs(A.sourceRanges) ?? [];

  return {
    scheme,
    subnets,
    eipAllocations,
    privateIPv4Addresses,
    ipv6Addresses,
    healthCheck: healthCheck(lb.healthCheck, a),
    certificates: a.list(A.sslCert) ?? [],
    sslPorts,
    sslPolicy: a.string(A.sslNegotiationPolicy) || DEFAULT_SSL_POLICY,
    alpnPolicy: a.oneOf(A.alpnPolicy, ALPN),
    additionalTags: a.keyValues(A.additionalTags) ?? {},
    targetGroupAttributes,
    loadBalancerAttributes,
    ipAddressType,
    securityGroups: a.list(A.securityGroups),
    manageBackendSecurityGroupRules: a.bool(A.manageBackendSecurityGroupRules) ?? true,
    targetNodeLabels: a.keyValues(A.targetNodeLabels) ?? {},
    name,
    backendProtocol,
    sourceRanges: lb.sourceRanges.length > 0 ? lb.sourceRanges : annotationRanges,
    sessionAffinity: lb.sessionAffinity.type,
  };
}

/** The model's health check (read with AWS_HEALTH_CHECK) plus the success codes only NLBs have. */
function healthCheck(model: HealthCheck, a: AnnotationReader): AwsHealthCheck {
  const hc: AwsHealthCheck = { ...model };
  if (hc.protocol === 'TCP') return hc;
  const codes = a.string(A.healthCheckSuccessCodes);
  if (codes !== undefined && !/^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$/.test(codes))
    a.reject(A.healthCheckSuccessCodes, codes, 'e.g. 200, 200,202 or 200-399');
  hc.successCodes = codes ?? '200-399';
  return hc;
}

/**
 * The one place that turns a Service's annotations into AWS options. Pure: no I/O. Every invalid value
 * becomes an InvalidAnnotationError naming the annotation and the accepted values.
 */
import { InvalidAnnotationError, InvalidSpecError } from '../../src/provider.ts';
import type { DesiredLoadBalancer, HealthCheck } from '../../src/model/desired.ts';
import {
  HEALTH_CHECK_HEALTHY_THRESHOLD,
  HEALTH_CHECK_INTERVAL,
  HEALTH_CHECK_TIMEOUT,
  HEALTH_CHECK_UNHEALTHY_THRESHOLD,
} from '../../src/model/annotations.ts';
import { AWS_ANNOTATION as A } from './annotations.ts';
import type { Logger } from 'pino';
import type { AwsClients } from './aws-api.ts';
import type { NodePortRange } from './security-groups.ts';
import type { ApiClass, Rate, RetryPolicy } from './throttle.ts';

/** How the provider is built (flags and injected clients); per-Service settings are AwsOptions below. */
export interface AwsProviderOptions {
  clusterName: string;
  /** defaults to the SDK's chain (AWS_REGION, profile) */
  region?: string;
  /** a private endpoint, or moto in tests */
  endpoint?: string;
  /** adopt an NLB tagged for the same cluster and Service by cloud-provider-aws or an earlier install */
  adopt?: boolean;
  /** check quotas with DescribeAccountLimits before creating */
  quotaPrecheck?: boolean;
  clients?: Partial<AwsClients>;
  rates?: Partial<Record<ApiClass, Rate>>;
  retry?: Partial<RetryPolicy>;
  requestTimeoutMs?: number;
  nodePortRange?: NodePortRange;
  /** the nodes' security groups; discovered by the cluster tag when absent */
  nodeSecurityGroups?: string[];
  log?: Logger;
}

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

export function awsOptions(lb: DesiredLoadBalancer): AwsOptions {
  const a = lb.annotations;
  const get = (key: string): string | undefined => {
    const v = a[key];
    return v === undefined ? undefined : v.trim();
  };

  const type = oneOf(A.type, get(A.type), ['nlb', 'external', 'nlb-ip']);
  const targetType = oneOf(A.targetType, get(A.targetType), ['instance', 'ip']);
  if (type === 'nlb-ip' || targetType === 'ip') {
    throw new InvalidSpecError(
      `IP targets are not supported yet (${type === 'nlb-ip' ? `${A.type}: nlb-ip` : `${A.targetType}: ip`}); use instance targets`,
    );
  }

  let scheme: Scheme | undefined;
  const internal = get(A.internal);
  if (internal !== undefined) {
    // upstream reads any value but "false" as internal; 0.0.0.0/0 was the historic form
    if (!['true', 'false', '0.0.0.0/0'].includes(internal.toLowerCase())) {
      throw new InvalidAnnotationError(A.internal, `${internal} is not accepted; use true or false`);
    }
    scheme = internal.toLowerCase() === 'false' ? 'internet-facing' : 'internal';
  }
  scheme = (oneOf(A.scheme, get(A.scheme), ['internet-facing', 'internal']) as Scheme | undefined) ?? scheme;

  const ipAddressType = (oneOf(A.ipAddressType, get(A.ipAddressType), ['ipv4', 'dualstack']) ?? 'ipv4') as
    'ipv4' | 'dualstack';
  const eipAllocations = list(get(A.eipAllocations));
  const privateIPv4Addresses = list(get(A.privateIPv4Addresses));
  const ipv6Addresses = list(get(A.ipv6Addresses));
  for (const id of eipAllocations) {
    if (!/^eipalloc-[0-9a-f]+$/.test(id))
      throw new InvalidAnnotationError(A.eipAllocations, `${id} is not an EIP allocation ID (eipalloc-...)`);
  }
  for (const ip of privateIPv4Addresses) {
    if (!isIPv4(ip)) throw new InvalidAnnotationError(A.privateIPv4Addresses, `${ip} is not an IPv4 address`);
  }
  for (const ip of ipv6Addresses) {
    if (!ip.includes(':')) throw new InvalidAnnotationError(A.ipv6Addresses, `${ip} is not an IPv6 address`);
  }
  if (eipAllocations.length > 0 && scheme === 'internal') {
    throw new InvalidAnnotationError(A.eipAllocations, 'Elastic IPs need an internet-facing NLB');
  }
  if (privateIPv4Addresses.length > 0 && scheme !== 'internal') {
    throw new InvalidAnnotationError(
      A.privateIPv4Addresses,
      'private addresses need an internal NLB (aws-load-balancer-scheme: internal)',
    );
  }
  const subnets = get(A.subnets) === undefined ? undefined : list(get(A.subnets));
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

  const backendProtocol = (oneOf(A.backendProtocol, get(A.backendProtocol)?.toLowerCase(), ['tcp', 'ssl']) ?? 'tcp') as
    'tcp' | 'ssl';
  const proxy = get(A.proxyProtocol);
  if (proxy !== undefined && proxy !== '*')
    throw new InvalidAnnotationError(A.proxyProtocol, `${proxy} is not accepted; the only value is *`);
  const targetGroupAttributes = keyValues(A.targetGroupAttributes, get(A.targetGroupAttributes));
  if (proxy === '*') targetGroupAttributes['proxy_protocol_v2.enabled'] = 'true';
  const loadBalancerAttributes = keyValues(A.attributes, get(A.attributes));
  const crossZone = bool(A.crossZone, get(A.crossZone));
  if (crossZone !== undefined) loadBalancerAttributes['load_balancing.cross_zone.enabled'] = String(crossZone);

  const sslPortsRaw = get(A.sslPorts);
  const sslPorts = sslPortsRaw === undefined || sslPortsRaw === '*' ? 'all' : new Set(list(sslPortsRaw));
  const alpnPolicy = oneOf(A.alpnPolicy, get(A.alpnPolicy), ALPN);
  const name = get(A.name);
  if (name !== undefined && !/^(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/.test(name)) {
    throw new InvalidAnnotationError(
      A.name,
      `${name} is not accepted: 1-32 letters, digits or hyphens, not starting or ending with a hyphen nor starting with internal-`,
    );
  }
  const securityGroups = get(A.securityGroups) === undefined ? undefined : list(get(A.securityGroups));

  const annotationRanges = list(get(A.sourceRanges));
  for (const cidr of annotationRanges) {
    if (!isCidr(cidr)) throw new InvalidAnnotationError(A.sourceRanges, `${cidr} is not a CIDR (e.g. 10.0.0.0/8)`);
  }
  const sourceRanges = lb.sourceRanges.length > 0 ? lb.sourceRanges : annotationRanges;

  return {
    scheme,
    subnets,
    eipAllocations,
    privateIPv4Addresses,
    ipv6Addresses,
    healthCheck: healthCheck(lb, get),
    certificates: list(get(A.sslCert)),
    sslPorts,
    sslPolicy: get(A.sslNegotiationPolicy) || DEFAULT_SSL_POLICY,
    alpnPolicy,
    additionalTags: keyValues(A.additionalTags, get(A.additionalTags)),
    targetGroupAttributes,
    loadBalancerAttributes,
    ipAddressType,
    securityGroups,
    manageBackendSecurityGroupRules:
      bool(A.manageBackendSecurityGroupRules, get(A.manageBackendSecurityGroupRules)) ?? true,
    targetNodeLabels: keyValues(A.targetNodeLabels, get(A.targetNodeLabels)),
    name,
    backendProtocol,
    sourceRanges,
    sessionAffinity: lb.sessionAffinity.type,
  };
}

/** The model's health check, overridden field by field by the aws-load-balancer-healthcheck-* annotations. */
function healthCheck(lb: DesiredLoadBalancer, get: (k: string) => string | undefined): AwsHealthCheck {
  const hc: AwsHealthCheck = { ...lb.healthCheck };
  const protocol = oneOf(A.healthCheckProtocol, get(A.healthCheckProtocol)?.toUpperCase(), ['TCP', 'HTTP', 'HTTPS']);
  if (protocol !== undefined) hc.protocol = protocol as AwsHealthCheck['protocol'];
  const port = get(A.healthCheckPort);
  if (port !== undefined)
    hc.port = port === 'traffic-port' ? 'traffic-port' : int(A.healthCheckPort, port, 1, 65535, 'traffic-port or ');
  const path = get(A.healthCheckPath);
  if (path !== undefined) {
    if (!path.startsWith('/'))
      throw new InvalidAnnotationError(A.healthCheckPath, `${path} is not accepted; a path starts with /`);
    hc.path = path;
  }
  const interval = get(A.healthCheckInterval);
  if (interval !== undefined) hc.intervalSeconds = int(A.healthCheckInterval, interval, 5, 300);
  const timeout = get(A.healthCheckTimeout);
  if (timeout !== undefined) hc.timeoutSeconds = int(A.healthCheckTimeout, timeout, 2, 120);
  const healthy = get(A.healthyThreshold);
  if (healthy !== undefined) hc.healthyThreshold = int(A.healthyThreshold, healthy, 2, 10);
  const unhealthy = get(A.unhealthyThreshold);
  if (unhealthy !== undefined) hc.unhealthyThreshold = int(A.unhealthyThreshold, unhealthy, 2, 10);
  const codes = get(A.healthCheckSuccessCodes);
  if (codes !== undefined) {
    if (!/^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$/.test(codes)) {
      throw new InvalidAnnotationError(
        A.healthCheckSuccessCodes,
        `${codes} is not accepted; use e.g. 200, 200,202 or 200-399`,
      );
    }
    hc.successCodes = codes;
  }
  if (hc.protocol === 'TCP') {
    delete hc.path;
    delete hc.successCodes;
  } else {
    hc.path ??= '/';
    hc.successCodes ??= '200-399';
  }
  // NLB's accepted ranges; the model's generic annotations allow wider ones
  const ranges: [keyof HealthCheck, string, string, number, number][] = [
    ['intervalSeconds', A.healthCheckInterval, HEALTH_CHECK_INTERVAL, 5, 300],
    ['timeoutSeconds', A.healthCheckTimeout, HEALTH_CHECK_TIMEOUT, 2, 120],
    ['healthyThreshold', A.healthyThreshold, HEALTH_CHECK_HEALTHY_THRESHOLD, 2, 10],
    ['unhealthyThreshold', A.unhealthyThreshold, HEALTH_CHECK_UNHEALTHY_THRESHOLD, 2, 10],
  ];
  for (const [field, key, modelKey, min, max] of ranges) {
    const v = hc[field] as number;
    // name the annotation the value came from: ours, or the provider-neutral one the model read
    const source = get(key) !== undefined ? key : modelKey;
    if (v < min || v > max)
      throw new InvalidAnnotationError(
        source,
        `${v} is outside what an NLB accepts; use an integer from ${min} to ${max}`,
      );
  }
  if (hc.timeoutSeconds > hc.intervalSeconds) {
    throw new InvalidAnnotationError(
      A.healthCheckTimeout,
      `${hc.timeoutSeconds} is longer than the interval (${hc.intervalSeconds}); use a value up to the interval`,
    );
  }
  return hc;
}

function oneOf(key: string, value: string | undefined, accepted: string[]): string | undefined {
  if (value === undefined) return undefined;
  if (!accepted.includes(value))
    throw new InvalidAnnotationError(key, `${value} is not accepted; use one of ${accepted.join(', ')}`);
  return value;
}

function bool(key: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false')
    throw new InvalidAnnotationError(key, `${value} is not accepted; use true or false`);
  return value === 'true';
}

function int(key: string, value: string, min: number, max: number, also = ''): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new InvalidAnnotationError(key, `${value} is not accepted; use ${also}an integer from ${min} to ${max}`);
  }
  return n;
}

function list(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function keyValues(key: string, value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list(value)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new InvalidAnnotationError(key, `${item} is not accepted; use a comma list of key=value`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

function isIPv4(ip: string): boolean {
  const parts = ip.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isCidr(cidr: string): boolean {
  const [ip, bits, ...rest] = cidr.split('/');
  if (ip === undefined || bits === undefined || rest.length > 0 || !/^\d{1,3}$/.test(bits)) return false;
  return isIPv4(ip) ? Number(bits) <= 32 : ip.includes(':') && Number(bits) <= 128;
}

/**
 * Every annotation the local provider reads or writes, and the one function that turns a
 * DesiredLoadBalancer into an allocator request. MetalLB's and kube-vip's keys are read the same way as ours
 * so their users can move without editing their Services.
 */
import type { AnnotationSpec } from '../../src/model/annotation-spec.ts';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import { InvalidAnnotationError, InvalidSpecError } from '../../src/provider.ts';
import { canonicalAddress } from './ipam/address.ts';
import { annotationReader, parseIp, quoteValue, splitList } from '../../src/model/parse.ts';
import type { AllocationRequest } from './ipam/definitions.ts';
import { serviceKey } from '../../src/model/keys.ts';

export const IPS = 'lbprovisioner.io/ips';
export const POOL = 'lbprovisioner.io/pool';
export const SHARING_KEY = 'lbprovisioner.io/sharing-key';
export const ALLOCATED_IPS = 'lbprovisioner.io/allocated-ips';
export const ALLOCATED_FROM_POOL = 'lbprovisioner.io/ip-allocated-from-pool';

/** Keys meaning the same thing, ours first: when several are set they must agree. */
export const IPS_KEYS = [
  IPS,
  'metallb.io/loadBalancerIPs',
  'metallb.universe.tf/loadBalancerIPs',
  'kube-vip.io/loadbalancerIPs',
] as const;
export const POOL_KEYS = [POOL, 'metallb.io/address-pool', 'metallb.universe.tf/address-pool'] as const;
export const SHARING_KEYS = [SHARING_KEY, 'metallb.io/allow-shared-ip', 'metallb.universe.tf/allow-shared-ip'] as const;

/** Where the requested addresses came from, for error messages. */
export const SPEC_LOAD_BALANCER_IP = 'spec.loadBalancerIP';

const alias = (key: string, ours: string, anchor: string): AnnotationSpec => ({
  key,
  provider: 'local',
  type: 'see ' + ours,
  default: '',
  defaultSource: anchor,
  description: `Read like ${ours}, so Services written for ${anchor} work unchanged. Must agree with it when both are set.`,
});

export const localAnnotations: AnnotationSpec[] = [
  {
    key: IPS,
    provider: 'local',
    type: 'comma list of IPs (one per family)',
    default: '',
    description:
      'The addresses the Service asks for: one IPv4 and/or one IPv6. Each must lie in an IP pool that serves the Service. Wins over spec.loadBalancerIP, which must agree when both are set.',
  },
  {
    key: POOL,
    provider: 'local',
    type: 'pool name',
    default: '',
    description:
      'The IPPool (or `flag-<n>` for --pool flags) to allocate from; also serves pools with autoAssign: false.',
  },
  {
    key: SHARING_KEY,
    provider: 'local',
    type: 'string',
    default: '',
    description:
      'Services with the same sharing key may hold the same address when their ports (protocol and port) do not overlap; with externalTrafficPolicy: Local they must also have the same selector.',
  },
  alias('metallb.io/loadBalancerIPs', IPS, 'MetalLB'),
  alias('metallb.universe.tf/loadBalancerIPs', IPS, 'MetalLB (before 0.14)'),
  alias('kube-vip.io/loadbalancerIPs', IPS, 'kube-vip'),
  alias('metallb.io/address-pool', POOL, 'MetalLB'),
  alias('metallb.universe.tf/address-pool', POOL, 'MetalLB (before 0.14)'),
  alias('metallb.io/allow-shared-ip', SHARING_KEY, 'MetalLB'),
  alias('metallb.universe.tf/allow-shared-ip', SHARING_KEY, 'MetalLB (before 0.14)'),
  {
    key: ALLOCATED_IPS,
    provider: 'local',
    type: 'comma list of IPs (written by the controller)',
    default: '',
    description: 'The addresses allocated to the Service, read back after a restart so they never change. Do not edit.',
  },
  {
    key: ALLOCATED_FROM_POOL,
    provider: 'local',
    type: 'pool name(s) (written by the controller)',
    default: '',
    description:
      'The pool the addresses came from (two names, comma separated, when a dual-stack Service got them from two pools).',
  },
];

export interface LocalRequest {
  request: AllocationRequest;
  /** the annotation (or spec.loadBalancerIP) the requested addresses came from */
  ipsFrom?: string;
  /** the annotation the pool name came from */
  poolFrom?: string;
}

/**
 * Reads the local provider's options of a Service into an allocator request. Throws InvalidAnnotationError
 * for an unreadable or contradictory annotation, InvalidSpecError when spec.loadBalancerIP contradicts one.
 */
export function allocationRequest(lb: DesiredLoadBalancer): LocalRequest {
  const annotations = lb.annotations;
  const ips = agreeingValue(annotations, IPS_KEYS, parseIpList, (a, b) => a.join(',') === b.join(','));
  const pool = agreeingValue(annotations, POOL_KEYS, parseName, (a, b) => a === b);
  const sharing = agreeingValue(annotations, SHARING_KEYS, parseName, (a, b) => a === b);
  const fromSpec = lb.requestedIPs.map((ip) => canonicalAddress(ip) ?? ip);
  let requestedIPs = fromSpec;
  let ipsFrom: string | undefined = fromSpec.length > 0 ? SPEC_LOAD_BALANCER_IP : undefined;
  if (ips) {
    // the model may copy our annotation into requestedIPs too: only a different address is a conflict
    const stray = fromSpec.find((ip) => !ips.value.includes(ip));
    if (stray !== undefined) {
      throw new InvalidSpecError(
        `${SPEC_LOAD_BALANCER_IP} ${stray} disagrees with annotation ${ips.key} (${ips.value.join(',')}); set only one`,
        'InvalidSpec',
      );
    }
    requestedIPs = ips.value;
    ipsFrom = ips.key;
  }
  const request: AllocationRequest = {
    key: serviceKey(lb.ref),
    namespace: lb.ref.namespace,
    ipFamilies: lb.ipFamilies,
    ipFamilyPolicy: lb.ipFamilyPolicy,
    requestedIPs,
    ports: lb.ports.map((p) => ({ protocol: p.protocol, port: p.port })),
    externalTrafficPolicy: lb.externalTrafficPolicy,
    selector: lb.selector,
    serviceLabels: lb.labels,
    namespaceLabels: lb.namespaceLabels,
    currentIPs: lb.currentIngressIPs,
  };
  if (pool) request.pool = pool.value;
  if (sharing) request.sharingKey = sharing.value;
  const result: LocalRequest = { request };
  if (ipsFrom !== undefined) result.ipsFrom = ipsFrom;
  if (pool) result.poolFrom = pool.key;
  return result;
}

/**
 * The addresses a Service holds from an earlier allocation, for restore(): what we recorded, or, for a
 * Service we never recorded (one moving from MetalLB), what its status shows. Invalid entries are ignored.
 */
export function recordedIPs(lb: DesiredLoadBalancer): { ips: string[]; fromStatus: boolean } {
  const recorded = lb.annotations[ALLOCATED_IPS];
  const fromStatus = recorded === undefined || recorded.trim() === '';
  const source = fromStatus ? lb.currentIngressIPs : recorded.split(',');
  return { ips: source.map((ip) => canonicalAddress(ip)).filter((ip): ip is string => ip !== null), fromStatus };
}

/**
 * The value of the first key set among `keys`, after checking every other one set says the same.
 * An empty value counts as unset.
 */
function agreeingValue<T>(
  annotations: Record<string, string>,
  keys: readonly string[],
  parse: (key: string, raw: string) => T,
  same: (a: T, b: T) => boolean,
): { key: string; value: T } | undefined {
  let first: { key: string; value: T; raw: string } | undefined;
  for (const key of keys) {
    const raw = annotations[key];
    if (raw === undefined || raw.trim() === '') continue;
    const value = parse(key, raw);
    if (!first) first = { key, value, raw };
    else if (!same(first.value, value)) {
      throw new InvalidAnnotationError(
        first.key,
        `${quoteValue(first.raw.trim())} disagrees with ${key} (${quoteValue(raw.trim())}); set only one, or the same value in both`,
      );
    }
  }
  return first && { key: first.key, value: first.value };
}

/** A comma list of addresses, at most one per family, canonical and sorted so equal lists compare equal. */
function parseIpList(key: string, raw: string): string[] {
  const seen = new Map<string, string>();
  const reader = annotationReader({ [key]: raw });
  for (const item of splitList(raw)) {
    const address = parseIp(item) ?? reader.reject(key, item, 'a comma list of IP addresses');
    const other = seen.get(address.family);
    if (other !== undefined && other !== address.text) {
      throw new InvalidAnnotationError(
        key,
        `${other} and ${item} are both ${address.family}; give at most one address per family`,
      );
    }
    seen.set(address.family, address.text);
  }
  return [...seen.values()].sort();
}

function parseName(_key: string, raw: string): string {
  return raw.trim();
}

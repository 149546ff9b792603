/**
 * Attributes of an NLB or target group: what we always state, and what to write. An ordinary sync compares
 * what we want with the digest tag of what we last applied (TAG.attributes: no read); a drift pass reads
 * the attributes back and writes only those that differ, so edits made by hand in AWS are reverted. Pure.
 */
import type { AwsOptions } from './options.ts';
import type { PortPlan } from './plan.ts';
import { digest } from './tags.ts';

/** Attributes we always state on an NLB, so removing an annotation turns the setting back off. */
export function desiredLoadBalancerAttributes(opts: AwsOptions): Record<string, string> {
  return {
    'load_balancing.cross_zone.enabled': 'false',
    'deletion_protection.enabled': 'false',
    ...opts.loadBalancerAttributes,
  };
}

/** The digest a new NLB is tagged with: AWS's defaults for what we state, so it needs no modify call for them. */
export const DEFAULT_LOAD_BALANCER_ATTRIBUTES = digest({
  'load_balancing.cross_zone.enabled': 'false',
  'deletion_protection.enabled': 'false',
});

/**
 * The attributes we manage on a target group. The ones we derive (proxy protocol, and source-IP
 * stickiness for sessionAffinity: ClientIP) are always stated, so removing the annotation or the
 * affinity turns them back off; the annotation wins over what we derive.
 */
export function desiredTargetGroupAttributes(plan: PortPlan, opts: AwsOptions): Record<string, string> {
  const attrs = { ...defaultTargetGroupAttributes(plan) };
  // NLB stickiness is by source IP, and not available on TLS target groups
  if (opts.sessionAffinity === 'ClientIP' && plan.targetProtocol !== 'TLS') {
    attrs['stickiness.enabled'] = 'true';
    attrs['stickiness.type'] = 'source_ip';
  }
  Object.assign(attrs, opts.targetGroupAttributes);
  // PROXY protocol v2 is not available on UDP and TCP_UDP target groups
  if (plan.targetProtocol !== 'TCP' && plan.targetProtocol !== 'TLS') delete attrs['proxy_protocol_v2.enabled'];
  return attrs;
}

/** AWS's defaults for the attributes we always state: a new group needs no modify call for them. */
export function defaultTargetGroupAttributes(plan: PortPlan): Record<string, string> {
  const tcpLike = plan.targetProtocol === 'TCP' || plan.targetProtocol === 'TLS';
  return {
    ...(tcpLike ? { 'proxy_protocol_v2.enabled': 'false' } : {}),
    ...(plan.targetProtocol !== 'TLS' ? { 'stickiness.enabled': 'false' } : {}),
  };
}

/**
 * What to write to bring a resource to `want`. `appliedDigest` is its TAG.attributes value. Without a read:
 * all of `want` when the digest differs, nothing otherwise. With the attributes read (drift pass): only
 * those that differ.
 */
export function attributeWrites(
  want: Record<string, string>,
  appliedDigest: string | undefined,
  read: Record<string, string> | undefined,
): Record<string, string> {
  if (read) return Object.fromEntries(Object.entries(want).filter(([k, v]) => read[k] !== v));
  return appliedDigest === digest(want) ? {} : want;
}

/**
 * Deterministic AWS names from the cluster name and the Service UID, within ELBv2's 32-character limit
 * (letters, digits, hyphens; no leading/trailing hyphen). The UID, not the Service name, goes into the
 * hash, so a Service re-created under the same name never meets its predecessor's leftovers.
 */
import { createHash } from 'node:crypto';
import type { LoadBalancerRef } from '../../src/model/desired.ts';

function hash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** up to `max` lowercase letters and digits of the cluster name, so a reader can tell clusters apart */
function clusterSlug(cluster: string, max: number): string {
  return (
    cluster
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, max) || 'c'
  );
}

/**
 * A replacement (a scheme or Elastic IP change) is built beside the NLB it replaces, so each Service has
 * two name slots and alternates between them.
 */
export type Slot = 0 | 1;

/** `lbp-<cluster≤10>-<15 hex>` (slot 0) or the same with `r` (slot 1): at most 31 characters */
export function loadBalancerName(ref: Pick<LoadBalancerRef, 'clusterName' | 'uid'>, slot: Slot = 0): string {
  return `lbp-${clusterSlug(ref.clusterName, 10)}-${hash(`${ref.clusterName}/${ref.uid}`, 15)}${slot === 1 ? 'r' : ''}`;
}

export function slotOf(ref: Pick<LoadBalancerRef, 'clusterName' | 'uid'>, name: string | undefined): Slot {
  return name === loadBalancerName(ref, 1) ? 1 : 0;
}

/** The name cloud-provider-aws gives the same Service's NLB ("a" + UID without dashes), for adoption. */
export function legacyLoadBalancerName(uid: string): string {
  return `a${uid.replace(/-/g, '')}`.slice(0, 32);
}

/**
 * `lbp-<cluster≤6>-<12 hex of cluster+uid>-<8 hex of port+protocol(+slot)>`: at most 32 characters. Port
 * and protocol are the target group's immutable settings, so a change of either yields a new name; a
 * target group serves one NLB, so the slot is in the name too.
 */
export function targetGroupName(
  ref: Pick<LoadBalancerRef, 'clusterName' | 'uid'>,
  port: number,
  protocol: string,
  slot: Slot = 0,
): string {
  return `${targetGroupPrefix(ref)}${hash(`${port}/${protocol}${slot === 1 ? '/r' : ''}`, 8)}`;
}

/**
 * What every target group name of one Service starts with, whatever its port, protocol or slot: the
 * Service's full set of groups is found by name in the listing of the region's target groups.
 */
export function targetGroupPrefix(ref: Pick<LoadBalancerRef, 'clusterName' | 'uid'>): string {
  return `lbp-${clusterSlug(ref.clusterName, 6)}-${hash(`${ref.clusterName}/${ref.uid}`, 12)}-`;
}

/** The NLB's own frontend security group. */
export function frontendSecurityGroupName(ref: Pick<LoadBalancerRef, 'clusterName' | 'uid'>): string {
  return `${loadBalancerName(ref)}-frontend`;
}

/**
 * The one frontend security group shared by a cluster's NLBs that admit everyone (no source ranges): all
 * TCP and UDP ports from anywhere, since an NLB only accepts traffic on its listeners' ports anyway.
 */
export function openSecurityGroupName(clusterName: string): string {
  return `lbp-${clusterName}-open`;
}

/** The one backend security group all of a cluster's NLBs share. */
export function backendSecurityGroupName(clusterName: string): string {
  return `lbp-${clusterName}-backend`;
}

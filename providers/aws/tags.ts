/**
 * Ownership tags on every resource, and reading a Service back from them. The upstream pair
 * (kubernetes.io/cluster/<c>=owned, kubernetes.io/service-name=<ns>/<name>) is what cloud-provider-aws
 * writes, so its NLBs can be adopted; our own keys carry the UID, which the upstream pair lacks.
 */
import type { LoadBalancerRef } from '../../src/model/desired.ts';

export const TAG = {
  service: 'kubernetes.io/service-name',
  cluster: 'lbprovisioner.io/cluster',
  uid: 'lbprovisioner.io/service-uid',
  resource: 'lbprovisioner.io/resource',
  /** a short hash of the attributes we last applied: changes are detected without a describe call */
  attributes: 'lbprovisioner.io/attributes',
  /** the keys (space-separated) that aws-load-balancer-additional-resource-tags put there: only these are removed */
  additionalTags: 'lbprovisioner.io/additional-tags',
  /** on the NLB: a short hash of the extra (SNI) certificates we last applied to its TLS listeners */
  certificates: 'lbprovisioner.io/certificates',
} as const;

export type ResourceKind =
  'load-balancer' | 'target-group' | 'frontend-security-group' | 'open-security-group' | 'backend-security-group';

export function clusterTagKey(clusterName: string): string {
  return `kubernetes.io/cluster/${clusterName}`;
}

export interface Tag {
  Key: string;
  Value: string;
}

export function ownershipTags(ref: LoadBalancerRef, kind: ResourceKind, extra: Record<string, string> = {}): Tag[] {
  const tags: Record<string, string> = {
    ...extra,
    [clusterTagKey(ref.clusterName)]: 'owned',
    [TAG.service]: `${ref.namespace}/${ref.name}`,
    [TAG.cluster]: ref.clusterName,
    [TAG.uid]: ref.uid,
    [TAG.resource]: kind,
  };
  return toTagList(tags);
}

/** Tags of a resource the cluster's NLBs share (no Service UID: list() never reports it as a Service's). */
export function clusterResourceTags(clusterName: string, kind: ResourceKind): Tag[] {
  return toTagList({ [clusterTagKey(clusterName)]: 'owned', [TAG.cluster]: clusterName, [TAG.resource]: kind });
}

export function toTagList(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

export function tagMap(
  tags: readonly { Key?: string | undefined; Value?: string | undefined }[] | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

/** The Service a resource belongs to, when its tags say it is this cluster's. */
export function refFromTags(clusterName: string, tags: Record<string, string>): LoadBalancerRef | undefined {
  if (tags[TAG.cluster] !== clusterName || tags[clusterTagKey(clusterName)] !== 'owned') return undefined;
  const uid = tags[TAG.uid];
  const service = tags[TAG.service] ?? '';
  const slash = service.indexOf('/');
  if (!uid || slash <= 0) return undefined;
  return { clusterName, namespace: service.slice(0, slash), name: service.slice(slash + 1), uid };
}

export type Ownership = 'ours' | 'adoptable' | 'other-cluster' | 'other-service' | 'unknown';

/**
 * Whose is a resource found under one of our names? Ours (same cluster and UID); adoptable (made for the
 * same cluster and Service by cloud-provider-aws or an earlier install, without our UID tag); or someone
 * else's, which we must not touch.
 */
export function ownership(ref: LoadBalancerRef, tags: Record<string, string>): Ownership {
  const service = `${ref.namespace}/${ref.name}`;
  const clusterKeys = Object.keys(tags).filter((k) => k.startsWith('kubernetes.io/cluster/'));
  if (tags[TAG.uid] !== undefined) {
    if (tags[TAG.cluster] !== ref.clusterName) return 'other-cluster';
    return tags[TAG.uid] === ref.uid ? 'ours' : 'other-service';
  }
  if (clusterKeys.length > 0 && !clusterKeys.includes(clusterTagKey(ref.clusterName))) return 'other-cluster';
  if (tags[clusterTagKey(ref.clusterName)] !== undefined)
    return tags[TAG.service] === service ? 'adoptable' : 'other-service';
  return 'unknown';
}

/** Keys no annotation may take over or have removed: ownership and ours. */
function reserved(key: string): boolean {
  return key.startsWith('kubernetes.io/') || key.startsWith('lbprovisioner.io/');
}

/**
 * The annotation's tags plus the record of their keys (TAG.additionalTags), so that a key dropped from the
 * annotation is removed and tags set by hand are not. Reserved keys (kubernetes.io/*, lbprovisioner.io/*)
 * are set but never recorded (ownershipTags writes its own over them), and neither is a key with
 * whitespace or one that would take the record past AWS's 256-character value limit: those are never
 * removed (a leftover tag, rather than a user's tag removed by mistake).
 */
export function additionalTagSet(extra: Record<string, string>): Record<string, string> {
  const { [TAG.additionalTags]: _record, [TAG.certificates]: _certificates, ...tags } = extra;
  let record = '';
  for (const key of Object.keys(tags).sort()) {
    if (reserved(key) || /\s/.test(key) || record.length + key.length + 1 > 256) continue;
    record = record ? `${record} ${key}` : key;
  }
  return record ? { ...tags, [TAG.additionalTags]: record } : tags;
}

/**
 * Keys to remove from a resource: those the record says came from the annotation and that `want` no
 * longer has, and our own record tags when no longer wanted. Other tags (set by hand, ownership) stay.
 */
export function removableTags(current: Record<string, string>, want: Record<string, string>): string[] {
  const recorded = (current[TAG.additionalTags] ?? '').split(' ').filter((k) => k && !reserved(k));
  return [...new Set([...recorded, TAG.additionalTags, TAG.certificates])].filter((k) => k in current && !(k in want));
}

/** Short stable digest of a key/value map (attributes we last applied). */
export function digest(values: Record<string, string>): string {
  const text = Object.keys(values)
    .sort()
    .map((k) => `${k}=${values[k]}`)
    .join(',');
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/**
 * The plans of a delete: one Service's NLBs (they take their listeners), its target groups and its
 * frontend security group; and, when the cluster has no NLB left that uses it, the shared backend group
 * with the node rules that admit it. Pure.
 */
import type { IpPermission } from '@aws-sdk/client-ec2';
import { existing } from './steps.ts';
import type { Permission, Step } from './steps.ts';

export interface ObservedDelete {
  /** the Service's NLBs (ours, or cloud-provider-aws's adopted one) */
  loadBalancers: { name: string; arn: string }[];
  /** every target group of the Service: attached to those NLBs, named for it, remembered, or tagged for it */
  targetGroups: { name: string; arn: string }[];
  frontendGroup?: { name: string; id: string };
}

export function planDelete(observed: ObservedDelete): Step[] {
  const steps: Step[] = observed.loadBalancers.map((l) => ({
    op: 'DeleteLoadBalancer',
    lb: existing(`lb:${l.name}`, l.name, l.arn),
  }));
  const seen = new Set<string>();
  for (const t of observed.targetGroups) {
    if (seen.has(t.arn)) continue;
    seen.add(t.arn);
    steps.push({ op: 'DeleteTargetGroup', tg: existing(`tg:${t.name}`, t.name, t.arn) });
  }
  const f = observed.frontendGroup;
  if (f) steps.push({ op: 'DeleteSecurityGroup', group: existing(`sg:${f.name}`, f.name, f.id) });
  return steps;
}

export interface ObservedShared {
  /** frontend groups of the cluster's NLBs that still exist */
  frontendGroups: number;
  backendGroups: {
    id: string;
    name: string;
    /** NLBs in the region that carry it (with or without a managed frontend group) */
    usedBy: string[];
    /** the rules of other groups (the nodes') that admit it */
    referencedBy: { groupId: string; permissions: IpPermission[] }[];
  }[];
}

/**
 * The shared backend group and the node rules go only when nothing uses them: no managed frontend group
 * is left and no NLB in the region carries the backend group (an NLB with aws-load-balancer-security-groups
 * has no frontend group of ours but still uses the backend group and the node rules).
 */
export function planSharedCleanup(observed: ObservedShared): Step[] {
  if (observed.frontendGroups > 0) return [];
  const steps: Step[] = [];
  for (const backend of observed.backendGroups) {
    if (backend.usedBy.length > 0) continue;
    const ref = existing('sg:backend', backend.name, backend.id);
    for (const g of backend.referencedBy) {
      const permissions = g.permissions.map((p): Permission => ({
        protocol: p.IpProtocol ?? '-1',
        ...(p.FromPort !== undefined ? { from: p.FromPort } : {}),
        ...(p.ToPort !== undefined ? { to: p.ToPort } : {}),
        group: ref,
      }));
      if (permissions.length > 0)
        steps.push({ op: 'RevokeIngress', group: existing(`sg:${g.groupId}`, g.groupId, g.groupId), permissions });
    }
    // an NLB this listing missed (made a moment ago elsewhere) still holds it: AWS refuses, and it stays
    steps.push({ op: 'DeleteSecurityGroup', group: ref, keepIfInUse: true });
  }
  return steps;
}

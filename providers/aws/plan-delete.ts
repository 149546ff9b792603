/**
 * The plans of a delete: one Service's NLBs (they take their listeners), its target groups and its
 * frontend security group; and, when the cluster has no NLB left that uses them, the shared groups: the
 * open frontend group, and the backend group with the node rules that admit it. Pure.
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

export interface SharedGroup {
  id: string;
  name: string;
  /** NLBs in the region that carry it */
  usedBy: string[];
  /** the rules of other groups (the nodes') that admit it: the backend group's */
  referencedBy: { groupId: string; permissions: IpPermission[] }[];
}

export interface ObservedShared {
  /** Services' own frontend groups that still exist */
  frontendGroups: number;
  backendGroups: SharedGroup[];
  openGroups: SharedGroup[];
}

/**
 * The shared groups go only when nothing uses them. The open group: no NLB in the region carries it. The
 * backend group and the node rules: no Service's own frontend group is left either (an NLB with
 * aws-load-balancer-security-groups has no frontend group of ours but still uses the backend group and
 * the node rules; one open to everyone has none either).
 */
export function planSharedCleanup(observed: ObservedShared): Step[] {
  const steps: Step[] = [];
  for (const open of observed.openGroups) {
    // an NLB this listing missed (made a moment ago elsewhere) still holds it: AWS refuses, and it stays
    if (open.usedBy.length === 0)
      steps.push({ op: 'DeleteSecurityGroup', group: existing('sg:open', open.name, open.id), keepIfInUse: true });
  }
  if (observed.frontendGroups > 0) return steps;
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
    steps.push({ op: 'DeleteSecurityGroup', group: ref, keepIfInUse: true });
  }
  return steps;
}

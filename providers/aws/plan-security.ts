/**
 * Security groups as aws-load-balancer-controller arranges them, since an NLB only takes security groups
 * at creation: an NLB with source ranges gets a frontend group of its own admitting the Service ports from
 * those ranges; one open to everyone (no ranges) uses the cluster's shared open group, which admits all
 * TCP and UDP ports from anywhere (an NLB only accepts traffic on its listeners' ports, so this admits
 * exactly what per-port rules would, with no group and no calls per Service); plus one backend group
 * shared by the cluster's NLBs. The nodes' cluster security group holds a fixed handful of rules admitting
 * that backend group on the NodePort range and kube-proxy's health port, so node rules don't grow with
 * Services or source ranges (60 rules per group by default). Pure.
 */
import type { IpPermission } from '@aws-sdk/client-ec2';
import type { LoadBalancerRef } from '../../src/model/desired.ts';
import { backendSecurityGroupName, frontendSecurityGroupName, openSecurityGroupName } from './names.ts';
import type { NodePortRange, Observed, ObservedCluster, ObservedSecurityGroup } from './observed.ts';
import type { AwsOptions } from './options.ts';
import { opensToEveryone } from './plan.ts';
import type { FrontendRule } from './plan.ts';
import { existing, pending } from './steps.ts';
import type { Permission, Ref, Step } from './steps.ts';
import { additionalTagSet, clusterResourceTags, ownershipTags, removableTags, tagMap } from './tags.ts';

/** kube-proxy's health port (the model's default health check for externalTrafficPolicy: Cluster) */
const KUBE_PROXY_HEALTH_PORT = 10256;

/** A group's TCP and UDP rules from CIDRs, one per range (other rules are not ours and are left alone). */
function cidrPermissionsOf(perms: IpPermission[] | undefined): Permission[] {
  const out: Permission[] = [];
  for (const p of perms ?? []) {
    const protocol = p.IpProtocol;
    if ((protocol !== 'tcp' && protocol !== 'udp') || p.FromPort === undefined || p.ToPort === undefined) continue;
    const cidrs = [...(p.IpRanges ?? []).map((r) => r.CidrIp), ...(p.Ipv6Ranges ?? []).map((r) => r.CidrIpv6)];
    for (const cidr of cidrs) if (cidr) out.push({ protocol, from: p.FromPort, to: p.ToPort, cidr });
  }
  return out;
}

/** A group's single-port CIDR rules, as frontend rules. */
export function frontendRulesOf(perms: IpPermission[] | undefined): FrontendRule[] {
  return cidrPermissionsOf(perms)
    .filter((p) => p.from === p.to)
    .map((p) => ({ protocol: p.protocol as 'tcp' | 'udp', port: p.from!, cidr: p.cidr! }));
}

const asPermission = (r: FrontendRule): Permission => ({
  protocol: r.protocol,
  from: r.port,
  to: r.port,
  cidr: r.cidr,
});

const cidrKey = (p: Permission): string => `${p.protocol}|${p.from}|${p.to}|${p.cidr}`;

/** What `want` adds to `have` and what it drops from it, by protocol, ports and range. */
function cidrDiff(have: Permission[], want: Permission[]): { authorize: Permission[]; revoke: Permission[] } {
  const haveKeys = new Map(have.map((p) => [cidrKey(p), p]));
  const wantKeys = new Map(want.map((p) => [cidrKey(p), p]));
  return {
    authorize: [...wantKeys].filter(([k]) => !haveKeys.has(k)).map(([, p]) => p),
    revoke: [...haveKeys].filter(([k]) => !wantKeys.has(k)).map(([, p]) => p),
  };
}

/** The shared open group's rules: every TCP and UDP port from anywhere, IPv4 and IPv6 (for dualstack NLBs). */
export const OPEN_PERMISSIONS: readonly Permission[] = (['tcp', 'udp'] as const).flatMap((protocol) =>
  ['0.0.0.0/0', '::/0'].map((cidr): Permission => ({ protocol, from: 0, to: 65535, cidr })),
);

/** The rules the node groups need: TCP and UDP on the NodePort range, TCP on health ports outside it. */
export function nodePermissions(backend: Ref, range: NodePortRange, healthPorts: number[]): Permission[] {
  const extra = [KUBE_PROXY_HEALTH_PORT, ...healthPorts].filter((p) => p < range.from || p > range.to);
  return [
    { protocol: 'tcp', from: range.from, to: range.to, group: backend },
    { protocol: 'udp', from: range.from, to: range.to, group: backend },
    ...[...new Set(extra)]
      .sort((a, b) => a - b)
      .map((p): Permission => ({ protocol: 'tcp', from: p, to: p, group: backend })),
  ];
}

const permKey = (p: { protocol: string; from?: number; to?: number }): string => `${p.protocol}|${p.from}|${p.to}`;

/** Key of a node-rule check in the provider's cache: the same node groups and rules need no second look. */
export function nodeRulesKey(nodeGroups: string[], range: NodePortRange, healthPorts: number[]): string {
  const rules = nodePermissions(pending('sg:backend', ''), range, healthPorts);
  return `${nodeGroups.join(',')}|${rules.map(permKey).join(',')}`;
}

export interface SecurityPlan {
  steps: Step[];
  /** the NLB's security groups, in order: frontend (its own, the shared open one, or the annotation's), then the backend */
  groups: Ref[];
  /** the shared backend group, when managed */
  backend?: Ref;
  /** the shared open group, for a Service open to everyone */
  open?: Ref;
  /** to run once the NLB no longer carries it: the Service's own frontend group, left from its ranged past */
  retire: Step[];
  warnings: string[];
}

export interface SecurityInput {
  ref: LoadBalancerRef;
  clusterName: string;
  opts: AwsOptions;
  vpcId: string;
  rules: FrontendRule[];
  frontend?: ObservedSecurityGroup;
  open?: Observed['openGroup'];
  cluster?: ObservedCluster;
  nodePortRange: NodePortRange;
  healthPorts: number[];
}

export function planSecurityGroups(input: SecurityInput): SecurityPlan {
  const steps: Step[] = [];
  const warnings: string[] = [];
  const retire: Step[] = [];
  const open = opensToEveryone(input.opts) ? planOpen(input, steps) : undefined;
  const groups: Ref[] = input.opts.securityGroups
    ? input.opts.securityGroups.map((id) => existing(`sg:${id}`, id, id))
    : [open ?? planFrontend(input, steps)];
  if (open && input.frontend) {
    const name = frontendSecurityGroupName(input.ref);
    retire.push({ op: 'DeleteSecurityGroup', group: existing(`sg:${name}`, name, input.frontend.id) });
  }
  const plan: SecurityPlan = { steps, groups, retire, warnings, ...(open ? { open } : {}) };
  if (input.opts.manageBackendSecurityGroupRules && input.cluster) {
    plan.backend = planBackend(input, input.cluster, steps, warnings);
    groups.push(plan.backend);
  }
  return plan;
}

/** The cluster's shared open group: created on first need, its rules repaired when read. */
function planOpen(input: SecurityInput, steps: Step[]): Ref {
  const name = openSecurityGroupName(input.clusterName);
  if (input.open) {
    const group = existing('sg:open', name, input.open.id);
    if (input.open.permissions) {
      const { authorize } = cidrDiff(cidrPermissionsOf(input.open.permissions), [...OPEN_PERMISSIONS]);
      if (authorize.length > 0) steps.push({ op: 'AuthorizeIngress', group, permissions: authorize });
    }
    return group;
  }
  const group = pending('sg:open', name);
  steps.push(
    {
      op: 'CreateSecurityGroup',
      group,
      vpcId: input.vpcId,
      description: `lb-provisioner frontend of cluster ${input.clusterName}'s NLBs open to everyone`,
      tags: clusterResourceTags(input.clusterName, 'open-security-group'),
    },
    { op: 'AuthorizeIngress', group, permissions: [...OPEN_PERMISSIONS] },
  );
  return group;
}

function planFrontend(input: SecurityInput, steps: Step[]): Ref {
  const { ref, frontend } = input;
  const name = frontendSecurityGroupName(ref);
  const tags = ownershipTags(ref, 'frontend-security-group', additionalTagSet(input.opts.additionalTags));
  if (!frontend) {
    const group = pending(`sg:${name}`, name);
    steps.push({
      op: 'CreateSecurityGroup',
      group,
      vpcId: input.vpcId,
      description: `lb-provisioner frontend of ${ref.namespace}/${ref.name}`,
      tags,
    });
    if (input.rules.length > 0)
      steps.push({ op: 'AuthorizeIngress', group, permissions: input.rules.map(asPermission) });
    return group;
  }
  const group = existing(`sg:${name}`, name, frontend.id);
  const want = tagMap(tags);
  const remove = removableTags(frontend.tags, want);
  const add = Object.fromEntries(Object.entries(want).filter(([k, v]) => frontend.tags[k] !== v));
  if (remove.length > 0 || Object.keys(add).length > 0) steps.push({ op: 'TagSecurityGroup', group, add, remove });
  const { authorize, revoke } = cidrDiff(
    frontendRulesOf(frontend.permissions).map(asPermission),
    input.rules.map(asPermission),
  );
  if (authorize.length > 0) steps.push({ op: 'AuthorizeIngress', group, permissions: authorize });
  if (revoke.length > 0) steps.push({ op: 'RevokeIngress', group, permissions: revoke });
  return group;
}

function planBackend(input: SecurityInput, cluster: ObservedCluster, steps: Step[], warnings: string[]): Ref {
  const name = backendSecurityGroupName(input.clusterName);
  let backend: Ref;
  if (cluster.backendGroup) backend = existing('sg:backend', name, cluster.backendGroup);
  else {
    backend = pending('sg:backend', name);
    steps.push({
      op: 'CreateSecurityGroup',
      group: backend,
      vpcId: input.vpcId,
      description: `lb-provisioner backend of cluster ${input.clusterName}`,
      tags: clusterResourceTags(input.clusterName, 'backend-security-group'),
    });
  }
  if (cluster.nodeGroups.length === 0) {
    warnings.push('no node security group tagged for the cluster was found; node rules are not managed');
    return backend;
  }
  const want = nodePermissions(backend, input.nodePortRange, input.healthPorts);
  for (const id of cluster.nodeGroups) {
    // a new backend group is named by no rule yet; otherwise what observe found (nothing: known complete)
    const have = !cluster.backendGroup ? [] : cluster.nodeRules?.get(id);
    if (have === undefined) continue;
    const present = new Set(have.map((p) => permKey({ protocol: p.IpProtocol ?? '', from: p.FromPort, to: p.ToPort })));
    const missing = want.filter((p) => !present.has(permKey(p)));
    if (missing.length > 0)
      steps.push({ op: 'AuthorizeIngress', group: existing(`sg:${id}`, id, id), permissions: missing });
  }
  return backend;
}

/**
 * Security groups as aws-load-balancer-controller arranges them, since an NLB only takes security groups
 * at creation: each NLB gets a frontend group of its own admitting the Service ports from the source
 * ranges, plus one backend group shared by the cluster's NLBs. The nodes' cluster security group holds a
 * fixed handful of rules admitting that backend group on the NodePort range and kube-proxy's health port,
 * so node rules don't grow with Services or source ranges (60 rules per group by default). Pure.
 */
import type { IpPermission } from '@aws-sdk/client-ec2';
import type { LoadBalancerRef } from '../../src/model/desired.ts';
import { backendSecurityGroupName, frontendSecurityGroupName } from './names.ts';
import type { NodePortRange, ObservedCluster, ObservedSecurityGroup } from './observed.ts';
import type { AwsOptions } from './options.ts';
import type { FrontendRule } from './plan.ts';
import { existing, pending } from './steps.ts';
import type { Permission, Ref, Step } from './steps.ts';
import { additionalTagSet, clusterTagKey, ownershipTags, removableTags, TAG, tagMap, toTagList } from './tags.ts';

/** kube-proxy's health port (the model's default health check for externalTrafficPolicy: Cluster) */
const KUBE_PROXY_HEALTH_PORT = 10256;

const ruleKey = (r: FrontendRule): string => `${r.protocol}|${r.port}|${r.cidr}`;

/** A group's single-port CIDR rules, as frontend rules (other rules are not ours and are left alone). */
export function frontendRulesOf(perms: IpPermission[] | undefined): FrontendRule[] {
  const out: FrontendRule[] = [];
  for (const p of perms ?? []) {
    const protocol = p.IpProtocol as 'tcp' | 'udp';
    if ((protocol !== 'tcp' && protocol !== 'udp') || p.FromPort === undefined || p.FromPort !== p.ToPort) continue;
    for (const r of p.IpRanges ?? []) if (r.CidrIp) out.push({ protocol, port: p.FromPort, cidr: r.CidrIp });
    for (const r of p.Ipv6Ranges ?? []) if (r.CidrIpv6) out.push({ protocol, port: p.FromPort, cidr: r.CidrIpv6 });
  }
  return out;
}

const asPermission = (r: FrontendRule): Permission => ({
  protocol: r.protocol,
  from: r.port,
  to: r.port,
  cidr: r.cidr,
});

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
  /** the NLB's security groups, in order: frontend (or the annotation's), then the backend */
  groups: Ref[];
  /** the shared backend group, when managed */
  backend?: Ref;
  warnings: string[];
}

export interface SecurityInput {
  ref: LoadBalancerRef;
  clusterName: string;
  opts: AwsOptions;
  vpcId: string;
  rules: FrontendRule[];
  frontend?: ObservedSecurityGroup;
  cluster?: ObservedCluster;
  nodePortRange: NodePortRange;
  healthPorts: number[];
}

export function planSecurityGroups(input: SecurityInput): SecurityPlan {
  const steps: Step[] = [];
  const warnings: string[] = [];
  const groups: Ref[] = input.opts.securityGroups
    ? input.opts.securityGroups.map((id) => existing(`sg:${id}`, id, id))
    : [planFrontend(input, steps)];
  if (input.opts.manageBackendSecurityGroupRules && input.cluster) {
    const backend = planBackend(input, input.cluster, steps, warnings);
    groups.push(backend);
    return { steps, groups, backend, warnings };
  }
  return { steps, groups, warnings };
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
  const have = new Map(frontendRulesOf(frontend.permissions).map((r) => [ruleKey(r), r]));
  const wanted = new Map(input.rules.map((r) => [ruleKey(r), r]));
  const authorize = [...wanted].filter(([k]) => !have.has(k)).map(([, r]) => asPermission(r));
  const revoke = [...have].filter(([k]) => !wanted.has(k)).map(([, r]) => asPermission(r));
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
      tags: toTagList({
        [clusterTagKey(input.clusterName)]: 'owned',
        [TAG.cluster]: input.clusterName,
        [TAG.resource]: 'backend-security-group',
      }),
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

/**
 * Observe: one read of what exists for a Service, before anything is planned. Batched (the NLBs under all
 * of the Service's names in one describe, the target groups in one, the tags of all in one), cached where
 * a fact is shared by the cluster (subnets, the backend group, node rules, limits), and limited to what
 * the plan will use: the pure placement decides which NLB is kept, so only its groups' targets, attributes
 * (drift pass) and certificates are read. A resync of an unchanged one-port Service costs 6 reads.
 */
import { DescribeAccountLimitsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import { InvalidSpecError } from '../../src/model/errors.ts';
import { certificateDigest } from './certificates.ts';
import type { Ctx } from './context.ts';
import { clusterVpc, eipAddresses, nodeSecurityGroups, resolveSubnets } from './discovery.ts';
import { networkLoadBalancerCount, targetGroupsNamed } from './lb-index.ts';
import {
  backendSecurityGroupName,
  frontendSecurityGroupName,
  openSecurityGroupName,
  targetGroupPrefix,
} from './names.ts';
import type { NodePortRange, Observed, ObservedCluster, ObservedLoadBalancer } from './observed.ts';
import type { AwsOptions } from './options.ts';
import { candidateNames, plannedScheme } from './placement.ts';
import { placementOf } from './plan-ensure.ts';
import type { PlanSettings } from './plan-ensure.ts';
import { forwardTarget } from './plan-listeners.ts';
import { nodeRulesKey } from './plan-security.ts';
import { healthPorts, opensToEveryone, planPorts, planTargets } from './plan.ts';
import { DEFAULT_LIMITS } from './quotas.ts';
import {
  attributesOf,
  extraCertificatesOf,
  listenersOf,
  loadBalancersNamed,
  registeredTargets,
  securityGroupNamed,
  securityGroupsNamed,
  tagsOf,
  targetGroupsByArn,
} from './reads.ts';
import { TAG, tagMap } from './tags.ts';

export interface ObserveInput {
  lb: DesiredLoadBalancer;
  opts: AwsOptions;
  settings: PlanSettings;
  /** --aws-vpc-id */
  vpcId?: string;
  /** configured node security groups */
  nodeSecurityGroups?: string[];
  /** look for the frontend group even without an NLB (a create answered "duplicate": a leftover exists) */
  thorough?: boolean;
  /** target groups an earlier plan was deleting when it failed (one named otherwise, cloud-provider-aws's) */
  leftoverTargetGroups?: string[];
}

export async function observe(ctx: Ctx, input: ObserveInput): Promise<Observed> {
  const { lb, opts, settings } = input;
  const ref = lb.ref;
  // a Service the plan would refuse costs no call
  if (lb.ports.length === 0) throw new InvalidSpecError('the Service has no ports');
  planPorts(lb, opts);
  const found = await loadBalancersNamed(ctx, candidateNames(ref, opts, settings.knownName, settings.adopt));
  const listeners = new Map<string, Awaited<ReturnType<typeof listenersOf>>>();
  for (const l of found) listeners.set(l.LoadBalancerArn!, await listenersOf(ctx, l.LoadBalancerArn!));
  // the full set of target groups: those the listeners name, and every one named for this Service
  const attached = [...listeners.values()].flat().map((l) => forwardTarget(l.DefaultActions));
  const named = await targetGroupsNamed(ctx, targetGroupPrefix(ref));
  const arns = [...new Set([...attached, ...named, ...(input.leftoverTargetGroups ?? [])])].filter(
    (a): a is string => !!a,
  );
  const groups = await targetGroupsByArn(ctx, arns);
  const tags = await tagsOf(ctx, [...found.map((l) => l.LoadBalancerArn!), ...groups.map((g) => g.TargetGroupArn!)]);

  const loadBalancers: ObservedLoadBalancer[] = found.map((l) => ({
    lb: l,
    tags: tags.get(l.LoadBalancerArn!) ?? {},
    listeners: listeners.get(l.LoadBalancerArn!) ?? [],
  }));
  const observed: Observed = {
    loadBalancers,
    targetGroups: groups.map((tg) => ({ tg, tags: tags.get(tg.TargetGroupArn!) ?? {} })),
    subnets: [],
    eipAddresses: [],
  };
  const placementInput = { ref, opts, loadBalancers, adopt: settings.adopt, knownName: settings.knownName };
  const scheme = plannedScheme(placementInput); // refuses an NLB that is not ours before reading more
  const targets = planTargets(lb, opts);
  const vpc = await clusterVpc(ctx, input.vpcId, targets.instances, loadBalancers[0]?.lb.VpcId);
  observed.subnets = await resolveSubnets(ctx, opts.subnets, scheme, vpc);
  const placement = placementOf(lb, opts, observed, settings);
  const ports = planPorts(lb, opts, placement.slot);
  const current = placement.current;
  const vpcId = current?.lb.VpcId ?? observed.subnets[0]!.vpcId;

  // targets, and on a drift pass attributes, of the groups the plan keeps
  const kept = new Set(ports.map((p) => p.targetGroupName));
  for (const t of observed.targetGroups) {
    if (!kept.has(t.tg.TargetGroupName ?? '')) continue;
    t.registered = await registeredTargets(ctx, t.tg.TargetGroupArn!);
    if (ctx.drift) t.attributes = await attributesOf(ctx, 'target-group', t.tg.TargetGroupArn!);
  }
  if (current) {
    if (ctx.drift) current.attributes = await attributesOf(ctx, 'load-balancer', current.lb.LoadBalancerArn!);
    // extra certificates: read where the digest on the NLB differs, and on a drift pass
    if (ctx.drift || current.tags[TAG.certificates] !== certificateDigest(ports)) {
      const tls = new Set(ports.filter((p) => p.listenerProtocol === 'TLS').map((p) => p.port));
      current.certificates = new Map();
      for (const l of current.listeners)
        if (l.Protocol === 'TLS' && tls.has(l.Port!))
          current.certificates.set(l.ListenerArn!, await extraCertificatesOf(ctx, l));
    }
  }
  // a new NLB's frontend group is created without a look (a leftover answers "duplicate"); the shared open
  // group is looked for in the same call when the cache does not know it
  const own = frontendSecurityGroupName(ref);
  const open = openSecurityGroupName(ctx.clusterName);
  const openId = opensToEveryone(opts) ? ctx.caches.openGroup.get(vpcId) : undefined;
  const lookFor = [
    ...(!opts.securityGroups && (loadBalancers.length > 0 || input.thorough) ? [own] : []),
    ...(opensToEveryone(opts) && (!openId || input.thorough) ? [open] : []),
  ];
  const groupsNamed = await securityGroupsNamed(ctx, vpcId, lookFor);
  const g = groupsNamed.get(own);
  if (g?.GroupId) observed.frontendGroup = { id: g.GroupId, tags: tagMap(g.Tags), permissions: g.IpPermissions ?? [] };
  const o = groupsNamed.get(open);
  if (o?.GroupId) {
    observed.openGroup = { id: ctx.caches.openGroup.set(vpcId, o.GroupId), permissions: o.IpPermissions ?? [] };
  } else if (openId && !lookFor.includes(open)) observed.openGroup = { id: openId };
  if (opts.manageBackendSecurityGroupRules) {
    observed.cluster = await observeCluster(ctx, vpcId, healthPorts(ports), settings.nodePortRange, input);
  }
  if (settings.quotaPrecheck && (!current || ports.length > current.listeners.length)) {
    observed.quota = { limits: await accountLimits(ctx), loadBalancers: await networkLoadBalancerCount(ctx) };
  }
  observed.eipAddresses = await eipAddresses(ctx, opts.eipAllocations);
  return observed;
}

/** The backend group and the node rules that admit it: cached per VPC, read again only when not known complete. */
async function observeCluster(
  ctx: Ctx,
  vpcId: string,
  health: number[],
  range: NodePortRange,
  input: ObserveInput,
): Promise<ObservedCluster> {
  let backend = ctx.caches.backendGroup.get(vpcId);
  if (!backend || input.thorough) {
    backend = (await securityGroupNamed(ctx, vpcId, backendSecurityGroupName(ctx.clusterName)))?.GroupId;
    if (backend) ctx.caches.backendGroup.set(vpcId, backend);
  }
  const nodeGroups = await nodeSecurityGroups(ctx, vpcId, input.nodeSecurityGroups);
  const cluster: ObservedCluster = { nodeGroups, ...(backend ? { backendGroup: backend } : {}) };
  if (!backend || nodeGroups.length === 0) return cluster;
  if (ctx.caches.nodeRules.get(`${vpcId}|${nodeRulesKey(nodeGroups, range, health)}`) === backend) return cluster;
  const res = await ctx.api.ec2(new DescribeSecurityGroupsCommand({ GroupIds: nodeGroups }), ctx.signal);
  cluster.nodeRules = new Map(
    (res.SecurityGroups ?? []).map((g) => [
      g.GroupId ?? '',
      (g.IpPermissions ?? []).filter((p) => (p.UserIdGroupPairs ?? []).some((u) => u.GroupId === backend)),
    ]),
  );
  return cluster;
}

/** The account's ELBv2 limits (cached 10 minutes); AWS's defaults where it reports none. */
async function accountLimits(ctx: Ctx): Promise<Record<string, number>> {
  const cached = ctx.caches.limits.get('elbv2');
  if (cached) return cached;
  const out: Record<string, number> = { ...DEFAULT_LIMITS };
  let marker: string | undefined;
  do {
    const page = await ctx.api.elbv2(new DescribeAccountLimitsCommand({ Marker: marker }), ctx.signal);
    for (const l of page.Limits ?? []) if (l.Name && l.Max) out[l.Name] = Number(l.Max);
    marker = page.NextMarker;
  } while (marker);
  return ctx.caches.limits.set('elbv2', out);
}

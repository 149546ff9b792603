/**
 * The plan of an ensure: from the desired state and what observe.ts read, the list of steps that converges
 * the Service's NLB, in the order they must run: security groups, the NLB (created, or changed in place),
 * per port its target group, targets and listener, then what went away (listeners, certificates, target
 * groups), tags and digests, and last the NLBs a replacement retires. Pure: the same inputs give the same
 * plan, which `lb-provisioner plan` prints and the applier runs.
 */
import type { LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import { InvalidSpecError } from '../../src/model/errors.ts';
import { attributeWrites, DEFAULT_LOAD_BALANCER_ATTRIBUTES, desiredLoadBalancerAttributes } from './attributes.ts';
import { certificateDigest } from './certificates.ts';
import type { NodePortRange, Observed, ObservedLoadBalancer, SubnetInfo } from './observed.ts';
import type { AwsOptions } from './options.ts';
import { place } from './placement.ts';
import type { Placement } from './placement.ts';
import { forwardTarget, planListeners } from './plan-listeners.ts';
import { nodeRulesKey, planSecurityGroups } from './plan-security.ts';
import { planTags } from './plan-tags.ts';
import type { TaggedResource } from './plan-tags.ts';
import { healthPorts, planFrontendRules, planPorts, planTargets } from './plan.ts';
import { checkQuotas } from './quotas.ts';
import { existing, pending } from './steps.ts';
import type { Ref, Step, SubnetMappingInput } from './steps.ts';
import { additionalTagSet, digest, ownership, ownershipTags, TAG, tagMap } from './tags.ts';

export interface PlanSettings {
  clusterName: string;
  adopt: boolean;
  quotaPrecheck: boolean;
  nodePortRange: NodePortRange;
  /** the name this process last synced the Service's NLB under */
  knownName?: string;
}

export interface EnsurePlan {
  steps: Step[];
  /** for the Ready condition (stable wording, no counts) */
  warnings: string[];
  lb: Ref;
  /** the NLB as it is now, when it is kept (its state and DNS name make the status) */
  current?: LoadBalancer;
  targetGroups: { port: number; tg: Ref }[];
  instances: string[];
  /** the shared groups and the node-rule check this plan completes (the provider caches them) */
  cluster?: { vpcId: string; backend?: Ref; nodeRulesKey?: string; open?: Ref };
}

export function mappings(subnets: SubnetInfo[], opts: AwsOptions): SubnetMappingInput[] {
  return subnets.map((s, i) => ({
    SubnetId: s.id,
    ...(opts.eipAllocations[i] ? { AllocationId: opts.eipAllocations[i] } : {}),
    ...(opts.privateIPv4Addresses[i] ? { PrivateIPv4Address: opts.privateIPv4Addresses[i] } : {}),
    ...(opts.ipv6Addresses[i] ? { IPv6Address: opts.ipv6Addresses[i] } : {}),
  }));
}

/** The placement of a Service's NLB; observe.ts uses it too, to read only what the plan will need. */
export function placementOf(lb: DesiredLoadBalancer, opts: AwsOptions, observed: Observed, settings: PlanSettings) {
  return place(
    {
      ref: lb.ref,
      opts,
      loadBalancers: observed.loadBalancers,
      ...(settings.knownName ? { knownName: settings.knownName } : {}),
      adopt: settings.adopt,
    },
    observed.subnets,
  );
}

export function planEnsure(
  lb: DesiredLoadBalancer,
  opts: AwsOptions,
  observed: Observed,
  settings: PlanSettings,
): EnsurePlan {
  const ref = lb.ref;
  if (lb.ports.length === 0) throw new InvalidSpecError('the Service has no ports');
  const targets = planTargets(lb, opts);
  const placement = placementOf(lb, opts, observed, settings);
  const subnets = observed.subnets;
  for (const [values, what] of [
    [opts.eipAllocations, 'Elastic IPs'],
    [opts.privateIPv4Addresses, 'private addresses'],
    [opts.ipv6Addresses, 'IPv6 addresses'],
  ] as const) {
    if (values.length > 0 && values.length !== subnets.length)
      throw new InvalidSpecError(`${values.length} ${what} for ${subnets.length} subnets; give one per subnet`);
  }
  const ports = planPorts(lb, opts, placement.slot);
  const current = placement.current;
  const vpcId = current?.lb.VpcId ?? subnets[0]!.vpcId;
  if (settings.quotaPrecheck && observed.quota && (!current || ports.length > current.listeners.length)) {
    const perZone = new Map([...targets.zones].map(([z, n]) => [z, n * ports.length]));
    checkQuotas({ creatingLoadBalancer: !current, listeners: ports.length, targetsPerZone: perZone }, observed.quota);
  }

  const security = planSecurityGroups({
    ref,
    clusterName: settings.clusterName,
    opts,
    vpcId,
    rules: planFrontendRules(ports, opts),
    ...(observed.frontendGroup ? { frontend: observed.frontendGroup } : {}),
    ...(observed.openGroup ? { open: observed.openGroup } : {}),
    ...(observed.cluster ? { cluster: observed.cluster } : {}),
    nodePortRange: settings.nodePortRange,
    healthPorts: healthPorts(ports),
  });
  const lbRef = current
    ? existing(`lb:${placement.name}`, placement.name, current.lb.LoadBalancerArn!)
    : pending(`lb:${placement.name}`, placement.name);
  const extra = additionalTagSet(opts.additionalTags);
  const nlb = current
    ? convergeLoadBalancer(current, lbRef, subnets, security.groups, opts)
    : createLoadBalancer(lb, placement, lbRef, subnets, security.groups, opts, settings);

  const listeners = planListeners({
    ref,
    opts,
    ports,
    lb: lbRef,
    ...(current ? { current } : {}),
    retiring: placement.retire,
    targetGroups: observed.targetGroups,
    instances: targets.instances,
    vpcId,
  });

  const certificates = certificateDigest(ports);
  const tagged: TaggedResource[] = [
    {
      ref: lbRef,
      have: nlb.tags,
      want: {
        ...tagMap(ownershipTags(ref, 'load-balancer', extra)),
        ...(certificates ? { [TAG.certificates]: certificates } : {}),
        [TAG.attributes]: digest(desiredLoadBalancerAttributes(opts)),
      },
    },
    ...listeners.targetGroups.map(({ tg, tags, attributes }) => ({
      ref: tg,
      have: tags,
      want: { ...tagMap(ownershipTags(ref, 'target-group', extra)), [TAG.attributes]: attributes },
    })),
  ];

  return {
    steps: [
      ...security.steps,
      ...nlb.steps,
      ...listeners.steps,
      ...listeners.cleanup,
      ...planTags(tagged),
      ...placement.retire.flatMap((r) => retireSteps(ref, r, observed)),
      ...security.retire,
    ],
    warnings: [...placement.warnings, ...security.warnings, ...nlb.warnings],
    lb: lbRef,
    ...(current ? { current: current.lb } : {}),
    targetGroups: listeners.targetGroups.map(({ port, tg }) => ({ port, tg })),
    instances: targets.instances,
    ...(security.backend || security.open
      ? {
          cluster: {
            vpcId,
            ...(security.open ? { open: security.open } : {}),
            ...(security.backend ? { backend: security.backend } : {}),
            ...(security.backend && observed.cluster && observed.cluster.nodeGroups.length > 0
              ? { nodeRulesKey: nodeRulesKey(observed.cluster.nodeGroups, settings.nodePortRange, healthPorts(ports)) }
              : {}),
          },
        }
      : {}),
  };
}

interface LoadBalancerSteps {
  steps: Step[];
  /** the tags the NLB carries before the tag steps */
  tags: Record<string, string>;
  warnings: string[];
}

function createLoadBalancer(
  lb: DesiredLoadBalancer,
  placement: Placement,
  lbRef: Ref,
  subnets: SubnetInfo[],
  groups: Ref[],
  opts: AwsOptions,
  settings: PlanSettings,
): LoadBalancerSteps {
  const created = ownershipTags(lb.ref, 'load-balancer', {
    ...additionalTagSet(opts.additionalTags),
    [TAG.attributes]: DEFAULT_LOAD_BALANCER_ATTRIBUTES,
  });
  const steps: Step[] = [
    {
      op: 'CreateLoadBalancer',
      lb: lbRef,
      scheme: placement.scheme,
      ipAddressType: opts.ipAddressType,
      subnets: mappings(subnets, opts),
      securityGroups: groups,
      tags: created,
      owner: lb.ref,
      adopt: settings.adopt,
    },
  ];
  const writes = attributeWrites(desiredLoadBalancerAttributes(opts), DEFAULT_LOAD_BALANCER_ATTRIBUTES, undefined);
  if (Object.keys(writes).length > 0) steps.push({ op: 'ModifyLoadBalancerAttributes', lb: lbRef, attributes: writes });
  return { steps, tags: tagMap(created), warnings: [] };
}

/** What can change in place: subnets (keeping the mappings of those that stay), address type, groups, attributes. */
function convergeLoadBalancer(
  current: ObservedLoadBalancer,
  lbRef: Ref,
  subnets: SubnetInfo[],
  groups: Ref[],
  opts: AwsOptions,
): LoadBalancerSteps {
  const steps: Step[] = [];
  const warnings: string[] = [];
  const have = new Map((current.lb.AvailabilityZones ?? []).map((z) => [z.SubnetId!, z]));
  const wanted = mappings(subnets, opts);
  if (wanted.length !== have.size || !wanted.every((m) => have.has(m.SubnetId))) {
    const keep = wanted.map((m): SubnetMappingInput => {
      const z = have.get(m.SubnetId);
      const a = z?.LoadBalancerAddresses?.[0];
      if (!z) return m;
      return {
        SubnetId: m.SubnetId,
        ...(a?.AllocationId ? { AllocationId: a.AllocationId } : {}),
        ...(a?.PrivateIPv4Address ? { PrivateIPv4Address: a.PrivateIPv4Address } : {}),
      };
    });
    steps.push({ op: 'SetSubnets', lb: lbRef, subnets: keep });
  }
  if ((current.lb.IpAddressType ?? 'ipv4') !== opts.ipAddressType)
    steps.push({ op: 'SetIpAddressType', lb: lbRef, ipAddressType: opts.ipAddressType });
  const attached = [...(current.lb.SecurityGroups ?? [])].sort().join(',');
  if (attached === '') {
    // security groups can only be attached at creation; an NLB made without them stays open
    warnings.push('the NLB has no security groups (it was created without them), so source ranges are not enforced');
  } else if (
    groups.some((g) => g.id === undefined) ||
    attached !==
      groups
        .map((g) => g.id)
        .sort()
        .join(',')
  ) {
    steps.push({ op: 'SetSecurityGroups', lb: lbRef, securityGroups: groups });
  }
  const writes = attributeWrites(desiredLoadBalancerAttributes(opts), current.tags[TAG.attributes], current.attributes);
  if (Object.keys(writes).length > 0) steps.push({ op: 'ModifyLoadBalancerAttributes', lb: lbRef, attributes: writes });
  return { steps, tags: current.tags, warnings };
}

/** An NLB a replacement took over from goes, then the target groups it used (the frontend group stays). */
function retireSteps(ref: DesiredLoadBalancer['ref'], nlb: ObservedLoadBalancer, observed: Observed): Step[] {
  const name = nlb.lb.LoadBalancerName ?? '';
  const steps: Step[] = [{ op: 'DeleteLoadBalancer', lb: existing(`lb:${name}`, name, nlb.lb.LoadBalancerArn!) }];
  const tags = new Map(observed.targetGroups.map((t) => [t.tg.TargetGroupArn!, t]));
  for (const arn of new Set(nlb.listeners.map((l) => forwardTarget(l.DefaultActions)))) {
    if (!arn) continue;
    const t = tags.get(arn);
    const whose = t ? ownership(ref, t.tags) : 'unknown';
    if (whose !== 'ours' && whose !== 'adoptable') continue;
    const tgName = t?.tg.TargetGroupName ?? arn;
    steps.push({ op: 'DeleteTargetGroup', tg: existing(`tg:${tgName}`, tgName, arn) });
  }
  return steps;
}

/**
 * The NLB itself: find it (by our name, or cloud-provider-aws's for adoption), create it, and converge
 * what can change in place: subnets (SetSubnets keeps existing mappings), address type, security groups,
 * attributes and tags.
 */
import {
  AddTagsCommand,
  CreateLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  RemoveTagsCommand,
  SetIpAddressTypeCommand,
  SetSecurityGroupsCommand,
  SetSubnetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { LoadBalancer, SubnetMapping } from '@aws-sdk/client-elastic-load-balancing-v2';
import { NotOwnedError } from '../../src/provider.ts';
import type { LoadBalancerStatus } from '../../src/provider.ts';
import type { LoadBalancerRef } from '../../src/model/desired.ts';
import { errorCode } from './aws-api.ts';
import { syncAttributes } from './attributes.ts';
import type { Ctx } from './context.ts';
import { chunks } from './context.ts';
import { eipAddresses } from './discovery.ts';
import type { SubnetInfo } from './discovery.ts';
import { readListeners } from './listeners.ts';
import type { AwsOptions, Scheme } from './options.ts';
import { quotaError } from './quotas.ts';
import { indexAdd, indexRemove, loadBalancerIndex } from './lb-index.ts';
import { additionalTagSet, digest, ownership, ownershipTags, removableTags, tagMap, TAG } from './tags.ts';

/** The first NLB found under these names (a describe only for names the index holds). */
export async function findLoadBalancer(ctx: Ctx, names: string[]): Promise<LoadBalancer | undefined> {
  const index = await loadBalancerIndex(ctx);
  for (const name of new Set(names)) {
    if (!index.has(name)) continue;
    try {
      const res = await ctx.api.elbv2(new DescribeLoadBalancersCommand({ Names: [name] }), ctx.signal);
      const lb = res.LoadBalancers?.find((l) => l.Type === 'network' || l.Type === undefined);
      if (lb) return lb;
    } catch (err) {
      if (errorCode(err) !== 'LoadBalancerNotFound') throw err;
      indexRemove(ctx, name); // deleted behind our back
    }
  }
  return undefined;
}

export async function findLoadBalancerByArn(ctx: Ctx, arn: string): Promise<LoadBalancer | undefined> {
  try {
    const res = await ctx.api.elbv2(new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] }), ctx.signal);
    return res.LoadBalancers?.[0];
  } catch (err) {
    if (errorCode(err) !== 'LoadBalancerNotFound') throw err;
    return undefined;
  }
}

/** Tags of many ELBv2 resources, 20 ARNs per call (the API's limit). */
export async function describeTags(ctx: Ctx, arns: string[]): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  for (const batch of chunks(arns, 20)) {
    const res = await ctx.api.elbv2(new DescribeTagsCommand({ ResourceArns: batch }), ctx.signal);
    for (const d of res.TagDescriptions ?? []) if (d.ResourceArn) out.set(d.ResourceArn, tagMap(d.Tags));
  }
  return out;
}

/** Attributes we always state, so removing an annotation turns the setting back off. */
export function desiredLoadBalancerAttributes(opts: AwsOptions): Record<string, string> {
  return {
    'load_balancing.cross_zone.enabled': 'false',
    'deletion_protection.enabled': 'false',
    ...opts.loadBalancerAttributes,
  };
}

const DEFAULT_ATTRIBUTES = digest({
  'load_balancing.cross_zone.enabled': 'false',
  'deletion_protection.enabled': 'false',
});

function mappings(subnets: SubnetInfo[], opts: AwsOptions): SubnetMapping[] {
  return subnets.map((s, i) => ({
    SubnetId: s.id,
    ...(opts.eipAllocations[i] ? { AllocationId: opts.eipAllocations[i] } : {}),
    ...(opts.privateIPv4Addresses[i] ? { PrivateIPv4Address: opts.privateIPv4Addresses[i] } : {}),
    ...(opts.ipv6Addresses[i] ? { IPv6Address: opts.ipv6Addresses[i] } : {}),
  }));
}

export async function createLoadBalancer(
  ctx: Ctx,
  ref: LoadBalancerRef,
  name: string,
  scheme: Scheme,
  subnets: SubnetInfo[],
  securityGroups: string[],
  opts: AwsOptions,
): Promise<{ lb: LoadBalancer; tags: Record<string, string> }> {
  const tags = ownershipTags(ref, 'load-balancer', {
    ...additionalTagSet(opts.additionalTags),
    [TAG.attributes]: DEFAULT_ATTRIBUTES,
  });
  try {
    const res = await ctx.api.elbv2(
      new CreateLoadBalancerCommand({
        Name: name,
        Type: 'network',
        Scheme: scheme,
        IpAddressType: opts.ipAddressType,
        SubnetMappings: mappings(subnets, opts),
        ...(securityGroups.length > 0 ? { SecurityGroups: securityGroups } : {}),
        Tags: tags,
      }),
      ctx.signal,
    );
    ctx.changed = true;
    indexAdd(ctx, name);
    return { lb: res.LoadBalancers![0]!, tags: tagMap(tags) };
  } catch (err) {
    // AWS answers a create with the same name and settings with the existing NLB, and
    // DuplicateLoadBalancerName when settings differ: then the existing one is converged instead
    if (errorCode(err) === 'DuplicateLoadBalancerName') {
      const lb = await findLoadBalancer(ctx, [name]);
      if (lb) return { lb, tags: (await describeTags(ctx, [lb.LoadBalancerArn!])).get(lb.LoadBalancerArn!) ?? {} };
    }
    throw quotaError(err);
  }
}

/** Converge an existing NLB in place (what needs a new NLB is decided by replacementReason). */
export async function convergeLoadBalancer(
  ctx: Ctx,
  lb: LoadBalancer,
  tags: Record<string, string>,
  subnets: SubnetInfo[],
  securityGroups: string[],
  opts: AwsOptions,
): Promise<void> {
  const arn = lb.LoadBalancerArn!;
  const current = new Map((lb.AvailabilityZones ?? []).map((z) => [z.SubnetId!, z]));
  const wanted = mappings(subnets, opts);
  const sameSubnets = wanted.length === current.size && wanted.every((m) => current.has(m.SubnetId!));
  if (!sameSubnets) {
    // keep the mapping (EIP, private address) of every subnet that stays
    const keep = wanted.map((m) => {
      const z = current.get(m.SubnetId!);
      const a = z?.LoadBalancerAddresses?.[0];
      return z
        ? {
            SubnetId: m.SubnetId,
            ...(a?.AllocationId ? { AllocationId: a.AllocationId } : {}),
            ...(a?.PrivateIPv4Address ? { PrivateIPv4Address: a.PrivateIPv4Address } : {}),
          }
        : m;
    });
    await ctx.api.elbv2(new SetSubnetsCommand({ LoadBalancerArn: arn, SubnetMappings: keep }), ctx.signal);
    ctx.changed = true;
  }
  if ((lb.IpAddressType ?? 'ipv4') !== opts.ipAddressType) {
    await ctx.api.elbv2(
      new SetIpAddressTypeCommand({ LoadBalancerArn: arn, IpAddressType: opts.ipAddressType }),
      ctx.signal,
    );
    ctx.changed = true;
  }
  const have = [...(lb.SecurityGroups ?? [])].sort();
  if (have.length === 0) {
    // security groups can only be attached at creation; an NLB made without them stays open
    ctx.warnings.push(
      'the NLB has no security groups (it was created without them), so source ranges are not enforced',
    );
  } else if (have.join(',') !== [...securityGroups].sort().join(',')) {
    await ctx.api.elbv2(
      new SetSecurityGroupsCommand({ LoadBalancerArn: arn, SecurityGroups: securityGroups }),
      ctx.signal,
    );
    ctx.changed = true;
  }
  await syncAttributes(ctx, 'load-balancer', arn, desiredLoadBalancerAttributes(opts), tags[TAG.attributes]);
}

/**
 * Tags: ownership (on adoption) and aws-load-balancer-additional-resource-tags. Keys the annotation put
 * there and no longer names are removed first (RemoveTags, keeping us within the tag limit), then what is
 * missing or different is added; one call per 20 resources that need the same change. Tags set by hand
 * stay (see additionalTagSet).
 */
export async function convergeTags(
  ctx: Ctx,
  want: Map<string, Record<string, string>>,
  have: Map<string, Record<string, string>>,
): Promise<void> {
  const removals = new Map<string, { arns: string[]; keys: string[] }>();
  const groups = new Map<string, { arns: string[]; tags: Record<string, string> }>();
  for (const [arn, tags] of want) {
    const current = have.get(arn) ?? {};
    const remove = removableTags(current, tags).sort();
    if (remove.length > 0) {
      const r = removals.get(remove.join('\n')) ?? { arns: [], keys: remove };
      r.arns.push(arn);
      removals.set(remove.join('\n'), r);
    }
    const missing = Object.fromEntries(Object.entries(tags).filter(([k, v]) => current[k] !== v));
    if (Object.keys(missing).length === 0) continue;
    const key = digest(missing);
    const g = groups.get(key) ?? { arns: [], tags: missing };
    g.arns.push(arn);
    groups.set(key, g);
  }
  for (const r of removals.values()) {
    for (const batch of chunks(r.arns, 20)) {
      await ctx.api.elbv2(new RemoveTagsCommand({ ResourceArns: batch, TagKeys: r.keys }), ctx.signal);
      ctx.changed = true;
    }
  }
  for (const g of groups.values()) {
    for (const batch of chunks(g.arns, 20)) {
      await ctx.api.elbv2(
        new AddTagsCommand({
          ResourceArns: batch,
          Tags: Object.entries(g.tags).map(([Key, Value]) => ({ Key, Value })),
        }),
        ctx.signal,
      );
      ctx.changed = true;
    }
  }
}

/** The tags each resource should carry: ownership, the annotation's (with their record), the certificate digest. */
export function wantedTags(
  ref: LoadBalancerRef,
  lbArn: string,
  targetGroups: { arn: string }[],
  opts: AwsOptions,
  certificates: string | undefined,
): Map<string, Record<string, string>> {
  const extra = additionalTagSet(opts.additionalTags);
  const want = new Map<string, Record<string, string>>();
  want.set(lbArn, {
    ...tagMap(ownershipTags(ref, 'load-balancer', extra)),
    ...(certificates ? { [TAG.certificates]: certificates } : {}),
  });
  for (const tg of targetGroups) want.set(tg.arn, tagMap(ownershipTags(ref, 'target-group', extra)));
  return want;
}

/** An NLB's listeners, target groups and tags, refusing one that is neither ours nor adoptable. */
export async function readOwnedLoadBalancer(ctx: Ctx, ref: LoadBalancerRef, adopt: boolean, found: LoadBalancer) {
  const listeners = await readListeners(ctx, found.LoadBalancerArn!);
  const tags = await describeTags(ctx, [
    found.LoadBalancerArn!,
    ...listeners.targetGroups.map((t) => t.TargetGroupArn!),
  ]);
  const whose = ownership(ref, tags.get(found.LoadBalancerArn!) ?? {});
  if (whose === 'adoptable' && !adopt) {
    throw new NotOwnedError(
      `NLB ${found.LoadBalancerName} was made for this Service by another controller and adoption is off (--aws-adopt)`,
    );
  }
  if (whose !== 'ours' && whose !== 'adoptable') {
    throw new NotOwnedError(
      `NLB ${found.LoadBalancerName} belongs to ${whose === 'other-cluster' ? 'another cluster' : 'another Service'}; refusing to touch it`,
    );
  }
  return { listeners, tags };
}

/**
 * Status: the NLB's DNS name (a hostname entry carries no ipMode), and with Elastic IPs their addresses
 * with ipMode Proxy: traffic must pass the NLB for TLS and security groups to apply (KEP-1860).
 */
export async function loadBalancerStatus(
  ctx: Ctx,
  state: string | undefined,
  dnsName: string | undefined,
  eips: string[],
): Promise<LoadBalancerStatus> {
  const ingress: LoadBalancerStatus['ingress'] = dnsName ? [{ hostname: dnsName }] : [];
  for (const ip of await eipAddresses(ctx, eips)) ingress.push({ ip, ipMode: 'Proxy' });
  const ready = state === 'active';
  const provisioning = state === 'failed' ? 'AWS failed to provision the NLB' : 'the NLB is being provisioned';
  const message = [...(ready ? [] : [provisioning]), ...ctx.warnings].join('; ') || undefined;
  return {
    ingress,
    ready,
    changed: ctx.changed,
    ...(message ? { message } : {}),
    ...(ctx.warnings.length ? { warnings: [...ctx.warnings] } : {}),
  };
}

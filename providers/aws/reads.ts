/**
 * The describe calls observe.ts and the delete path are made of, each batched as far as the API allows
 * (DescribeTags: 20 ARNs; load balancers by up to 20 names; target groups by ARN in one call).
 */
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import type { SecurityGroup } from '@aws-sdk/client-ec2';
import {
  DescribeListenerCertificatesCommand,
  DescribeListenersCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Listener, LoadBalancer, TargetGroup } from '@aws-sdk/client-elastic-load-balancing-v2';
import { chunks } from './chunks.ts';
import type { Ctx } from './context.ts';
import { errorCode } from './error-codes.ts';
import { indexRemove, loadBalancerIndex, targetGroupIndexRemove } from './lb-index.ts';
import { tagMap } from './tags.ts';

/** The NLBs under these names, one call for those the index holds (a name deleted behind our back is dropped). */
export async function loadBalancersNamed(ctx: Ctx, names: string[]): Promise<LoadBalancer[]> {
  const index = await loadBalancerIndex(ctx);
  const present = [...new Set(names)].filter((n) => index.has(n));
  const out: LoadBalancer[] = [];
  for (const batch of chunks(present, 20)) {
    try {
      const res = await ctx.api.elbv2(new DescribeLoadBalancersCommand({ Names: batch }), ctx.signal);
      out.push(...(res.LoadBalancers ?? []));
    } catch (err) {
      if (errorCode(err) !== 'LoadBalancerNotFound') throw err;
      // one of them went behind our back: ask one by one, and forget the missing
      for (const name of batch) {
        const one = await loadBalancerNamed(ctx, name);
        if (one) out.push(one);
        else indexRemove(ctx, name);
      }
    }
  }
  return out.filter((l) => l.Type === 'network' || l.Type === undefined);
}

/** One NLB by name, asking AWS directly (not the index). */
export async function loadBalancerNamed(ctx: Ctx, name: string): Promise<LoadBalancer | undefined> {
  try {
    return (await ctx.api.elbv2(new DescribeLoadBalancersCommand({ Names: [name] }), ctx.signal)).LoadBalancers?.[0];
  } catch (err) {
    if (errorCode(err) !== 'LoadBalancerNotFound') throw err;
    return undefined;
  }
}

/** The NLBs with these ARNs that exist, 20 per call (one gone makes AWS refuse its batch: then one by one). */
export async function loadBalancersByArn(ctx: Ctx, arns: string[]): Promise<LoadBalancer[]> {
  /** the NLBs of a batch, or undefined when AWS refuses the batch because one of them is gone */
  const existing = async (batch: string[]): Promise<LoadBalancer[] | undefined> => {
    try {
      const res = await ctx.api.elbv2(new DescribeLoadBalancersCommand({ LoadBalancerArns: batch }), ctx.signal);
      return res.LoadBalancers ?? [];
    } catch (err) {
      if (errorCode(err) !== 'LoadBalancerNotFound') throw err;
      return undefined;
    }
  };
  const out: LoadBalancer[] = [];
  for (const batch of chunks([...new Set(arns)], 20)) {
    const found = await existing(batch);
    if (found) out.push(...found);
    else if (batch.length > 1) for (const arn of batch) out.push(...((await existing([arn])) ?? []));
  }
  return out;
}

export async function listenersOf(ctx: Ctx, loadBalancerArn: string): Promise<Listener[]> {
  const out: Listener[] = [];
  let marker: string | undefined;
  do {
    const page = await ctx.api.elbv2(
      new DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn, Marker: marker }),
      ctx.signal,
    );
    out.push(...(page.Listeners ?? []));
    marker = page.NextMarker;
  } while (marker);
  return out;
}

/** Target groups by ARN, one call; one deleted behind our back is left out (and forgotten by the index). */
export async function targetGroupsByArn(ctx: Ctx, arns: string[]): Promise<TargetGroup[]> {
  if (arns.length === 0) return [];
  try {
    return (
      (await ctx.api.elbv2(new DescribeTargetGroupsCommand({ TargetGroupArns: arns }), ctx.signal)).TargetGroups ?? []
    );
  } catch (err) {
    if (errorCode(err) !== 'TargetGroupNotFound') throw err;
  }
  const out: TargetGroup[] = [];
  for (const arn of arns) {
    try {
      const res = await ctx.api.elbv2(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn] }), ctx.signal);
      out.push(...(res.TargetGroups ?? []));
    } catch (err) {
      if (errorCode(err) !== 'TargetGroupNotFound') throw err;
      targetGroupIndexRemove(ctx, arn);
    }
  }
  return out;
}

/** One target group by name, asking AWS directly (after CreateTargetGroup answered "duplicate"). */
export async function targetGroupNamed(ctx: Ctx, name: string): Promise<TargetGroup | undefined> {
  try {
    return (await ctx.api.elbv2(new DescribeTargetGroupsCommand({ Names: [name] }), ctx.signal)).TargetGroups?.[0];
  } catch (err) {
    if (errorCode(err) !== 'TargetGroupNotFound') throw err;
    return undefined;
  }
}

/** Tags of many ELBv2 resources, 20 ARNs per call (the API's limit). */
export async function tagsOf(ctx: Ctx, arns: string[]): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>();
  for (const batch of chunks(arns, 20)) {
    const res = await ctx.api.elbv2(new DescribeTagsCommand({ ResourceArns: batch }), ctx.signal);
    for (const d of res.TagDescriptions ?? []) if (d.ResourceArn) out.set(d.ResourceArn, tagMap(d.Tags));
  }
  return out;
}

/** Instances registered in a target group, leaving out those already draining. */
export async function registeredTargets(ctx: Ctx, targetGroupArn: string): Promise<Set<string>> {
  const res = await ctx.api.elbv2(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }), ctx.signal);
  const out = new Set<string>();
  for (const d of res.TargetHealthDescriptions ?? []) {
    const state = d.TargetHealth?.State;
    if (state === 'draining' || d.TargetHealth?.Reason === 'Target.NotRegistered') continue;
    if (d.Target?.Id) out.add(d.Target.Id);
  }
  return out;
}

export async function attributesOf(
  ctx: Ctx,
  kind: 'load-balancer' | 'target-group',
  arn: string,
): Promise<Record<string, string>> {
  const res =
    kind === 'load-balancer'
      ? await ctx.api.elbv2(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: arn }), ctx.signal)
      : await ctx.api.elbv2(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }), ctx.signal);
  const out: Record<string, string> = {};
  for (const a of res.Attributes ?? []) if (a.Key !== undefined) out[a.Key] = a.Value ?? '';
  return out;
}

/** A listener's certificates other than its default one (AWS lists the default too, marked IsDefault). */
export async function extraCertificatesOf(ctx: Ctx, listener: Listener): Promise<string[]> {
  const defaultCert = listener.Certificates?.[0]?.CertificateArn;
  const out: string[] = [];
  let marker: string | undefined;
  do {
    const page = await ctx.api.elbv2(
      new DescribeListenerCertificatesCommand({ ListenerArn: listener.ListenerArn, Marker: marker }),
      ctx.signal,
    );
    for (const c of page.Certificates ?? [])
      if (c.CertificateArn && !c.IsDefault && c.CertificateArn !== defaultCert) out.push(c.CertificateArn);
    marker = page.NextMarker;
  } while (marker);
  return out;
}

/** A security group by name in a VPC. */
export async function securityGroupNamed(ctx: Ctx, vpcId: string, name: string): Promise<SecurityGroup | undefined> {
  return (await securityGroupsNamed(ctx, vpcId, [name])).get(name);
}

/** Security groups of the VPC by name, in one call. */
export async function securityGroupsNamed(
  ctx: Ctx,
  vpcId: string,
  names: string[],
): Promise<Map<string, SecurityGroup>> {
  if (names.length === 0) return new Map();
  const res = await ctx.api.ec2(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'vpc-id', Values: [vpcId] },
        { Name: 'group-name', Values: names },
      ],
    }),
    ctx.signal,
  );
  return new Map((res.SecurityGroups ?? []).map((g) => [g.GroupName ?? '', g]));
}

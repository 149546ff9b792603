/**
 * The names of every load balancer and target group in the region, each listed once (400 per call), kept
 * current by our own creates and deletes and refreshed every 10 minutes. Looking for a Service's NLB under
 * its possible names (both replacement slots, a fixed name, cloud-provider-aws's name) then costs a call
 * only where one exists, the NLB count for the quota pre-check comes free, and a Service's full set of
 * target groups (attached or not) is found by the prefix every one of its group names shares. Only this
 * controller (one leader) makes resources under our names; a name deleted by hand is dropped when a
 * describe misses it, and a create answered "duplicate" adds it.
 */
import { DescribeLoadBalancersCommand, DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { LoadBalancer, TargetGroup } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Ctx } from './context.ts';

export async function listLoadBalancers(ctx: Ctx): Promise<LoadBalancer[]> {
  const out: LoadBalancer[] = [];
  let marker: string | undefined;
  do {
    const page = await ctx.api.elbv2(new DescribeLoadBalancersCommand({ Marker: marker, PageSize: 400 }), ctx.signal);
    out.push(...(page.LoadBalancers ?? []));
    marker = page.NextMarker;
  } while (marker);
  return out;
}

export async function listTargetGroups(ctx: Ctx): Promise<TargetGroup[]> {
  const out: TargetGroup[] = [];
  let marker: string | undefined;
  do {
    const page = await ctx.api.elbv2(new DescribeTargetGroupsCommand({ Marker: marker, PageSize: 400 }), ctx.signal);
    out.push(...(page.TargetGroups ?? []));
    marker = page.NextMarker;
  } while (marker);
  return out;
}

/** Replace the index with a fresh listing (list() and the shared-group check read every NLB anyway). */
export function rememberLoadBalancers(ctx: Ctx, lbs: LoadBalancer[]): Map<string, string> {
  const index = new Map(lbs.map((lb) => [lb.LoadBalancerName ?? '', lb.Type ?? 'network']));
  return ctx.caches.loadBalancerIndex.set('all', index);
}

export function rememberTargetGroups(ctx: Ctx, tgs: TargetGroup[]): Map<string, string> {
  const index = new Map(tgs.map((tg) => [tg.TargetGroupName ?? '', tg.TargetGroupArn ?? '']));
  return ctx.caches.targetGroupIndex.set('all', index);
}

export async function loadBalancerIndex(ctx: Ctx): Promise<Map<string, string>> {
  const cached = ctx.caches.loadBalancerIndex.get('all');
  if (cached) return cached;
  // concurrent first callers share one listing
  ctx.caches.indexListing ??= listLoadBalancers(ctx).finally(() => (ctx.caches.indexListing = undefined));
  return rememberLoadBalancers(ctx, await ctx.caches.indexListing);
}

export async function targetGroupIndex(ctx: Ctx): Promise<Map<string, string>> {
  const cached = ctx.caches.targetGroupIndex.get('all');
  if (cached) return cached;
  ctx.caches.targetGroupListing ??= listTargetGroups(ctx).finally(() => (ctx.caches.targetGroupListing = undefined));
  return rememberTargetGroups(ctx, await ctx.caches.targetGroupListing);
}

/** ARNs of the target groups whose names start with `prefix` (one Service's groups). */
export async function targetGroupsNamed(ctx: Ctx, prefix: string): Promise<string[]> {
  return [...(await targetGroupIndex(ctx))].filter(([name]) => name.startsWith(prefix)).map(([, arn]) => arn);
}

export function indexAdd(ctx: Ctx, name: string): void {
  ctx.caches.loadBalancerIndex.get('all')?.set(name, 'network');
}

export function indexRemove(ctx: Ctx, name: string | undefined): void {
  if (name) ctx.caches.loadBalancerIndex.get('all')?.delete(name);
}

export function targetGroupIndexAdd(ctx: Ctx, name: string, arn: string): void {
  ctx.caches.targetGroupIndex.get('all')?.set(name, arn);
}

export function targetGroupIndexRemove(ctx: Ctx, arn: string): void {
  const index = ctx.caches.targetGroupIndex.get('all');
  for (const [name, a] of index ?? []) if (a === arn) index?.delete(name);
}

export async function networkLoadBalancerCount(ctx: Ctx): Promise<number> {
  return [...(await loadBalancerIndex(ctx)).values()].filter((t) => t === 'network').length;
}

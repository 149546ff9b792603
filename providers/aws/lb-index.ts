/**
 * The names and types of every load balancer in the region, listed once (400 per call) and kept current
 * by our own creates and deletes, refreshed every 10 minutes. Looking for a Service's NLB under its
 * possible names (both replacement slots, cloud-provider-aws's name) then costs a call only where one
 * exists, and the NLB count for the quota pre-check comes free. Only this controller (one leader) makes
 * NLBs under our names, so the index cannot miss one of ours; a load balancer deleted by hand is dropped
 * when its describe finds nothing.
 */
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
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

/** Replace the index with a fresh listing (list() and delete's tag scans read every NLB anyway). */
export function rememberLoadBalancers(ctx: Ctx, lbs: LoadBalancer[]): Map<string, string> {
  const index = new Map(lbs.map((lb) => [lb.LoadBalancerName ?? '', lb.Type ?? 'network']));
  return ctx.caches.loadBalancerIndex.set('all', index);
}

export async function loadBalancerIndex(ctx: Ctx): Promise<Map<string, string>> {
  const cached = ctx.caches.loadBalancerIndex.get('all');
  if (cached) return cached;
  // concurrent first callers share one listing
  ctx.caches.indexListing ??= listLoadBalancers(ctx).finally(() => (ctx.caches.indexListing = undefined));
  return rememberLoadBalancers(ctx, await ctx.caches.indexListing);
}

export function indexAdd(ctx: Ctx, name: string): void {
  ctx.caches.loadBalancerIndex.get('all')?.set(name, 'network');
}

export function indexRemove(ctx: Ctx, name: string | undefined): void {
  if (name) ctx.caches.loadBalancerIndex.get('all')?.delete(name);
}

export async function networkLoadBalancerCount(ctx: Ctx): Promise<number> {
  return [...(await loadBalancerIndex(ctx)).values()].filter((t) => t === 'network').length;
}

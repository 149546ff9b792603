/**
 * Syncing one Service: decide, then ensure or clean up. The order is the contract (ARCHITECTURE.md):
 * finalizer (with the provider and allocation annotations, one metadata patch) before any cloud
 * resource; status only when it changed; delete() always called on cleanup, then the finalizer goes,
 * then the status is cleared. A sync that changes nothing writes nothing, Events included.
 */
import type { Logger } from 'pino';
import type { DesiredLoadBalancer, EnsureOptions, LoadBalancerProvider, RecordedAllocation } from '../provider.ts';
import type { TargetSet } from './target-sets.ts';
import type { NodeObject, ServiceObject } from '../model/objects.ts';
import type { EventSink } from '../kube/events.ts';
import type { ServiceWriter } from '../kube/service-writer.ts';
import type { Metrics } from '../metrics.ts';
import { desiredLoadBalancer, recordedLoadBalancer } from '../model/desired-load-balancer.ts';
import { finalizerFor, hasFinalizer, isBeingDeleted, ourFinalizers, recordedProvider } from '../model/ownership.ts';
import { PROVIDER_ANNOTATION, READY_CONDITION } from '../model/names.ts';
import { ingressEqual, ingressFor, readyCondition, readyConditionDiffers, type ReadyState } from '../model/status.ts';
import type { Classified } from './errors.ts';
import { relevantService } from './fingerprints.ts';

/** What we last applied for a Service: the node sync's baseline. */
export interface Applied {
  provider: string;
  lb: DesiredLoadBalancer;
  targets: string;
  /** the Service's relevant fields as they stood after our writes (fingerprints.ts) */
  service: string;
  /** false while the provider is still provisioning: the controller checks again later */
  ready: boolean;
  /** nodes left out for lack of a providerID, as last reported */
  missing: string;
}

export interface SyncContext {
  clusterName: string;
  providers: ReadonlyMap<string, LoadBalancerProvider>;
  writer: ServiceWriter;
  events: EventSink;
  metrics: Metrics;
  log: Logger;
  nodes: () => readonly NodeObject[];
  /** the target set of the current nodes for a provider, shared by every load balancer, with its fingerprint */
  targets: (requireProviderID: boolean) => TargetSet;
  namespaceLabels: (namespace: string) => Record<string, string>;
  /** remember the newest object we wrote, so a lagging cache doesn't make us write twice */
  wrote: (svc: ServiceObject) => void;
}

export function modelFor(ctx: SyncContext, provider: LoadBalancerProvider, svc: ServiceObject): DesiredLoadBalancer {
  return desiredLoadBalancer(svc, ctx.nodes(), {
    targets: ctx.targets(provider.capabilities.mapsNodesByProviderID).targets,
    clusterName: ctx.clusterName,
    requireProviderID: provider.capabilities.mapsNodesByProviderID,
    needsNodePorts: provider.capabilities.needsNodePorts,
    healthCheck: provider.healthCheck,
    namespaceLabels: ctx.namespaceLabels(svc.metadata?.namespace ?? ''),
  });
}

function providerOrThrow(ctx: SyncContext, name: string): LoadBalancerProvider {
  const p = ctx.providers.get(name);
  if (!p) throw new Error(`provider ${name} is not running in this controller`);
  return p;
}

async function timed<T>(ctx: SyncContext, provider: string, operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    const result = await fn();
    ctx.metrics.providerCalls.inc({ provider, operation, result: 'success' });
    return result;
  } catch (err) {
    ctx.metrics.providerCalls.inc({ provider, operation, result: 'error' });
    throw err;
  }
}

/** Ensure the load balancer of a Service we own. Returns what was applied. */
export async function ensureService(
  ctx: SyncContext,
  svc: ServiceObject,
  providerName: string,
  signal: AbortSignal,
  options: EnsureOptions = {},
): Promise<Applied> {
  const provider = providerOrThrow(ctx, providerName);
  const lb = modelFor(ctx, provider, svc);
  const missing = reportNodesWithoutProviderID(ctx, provider, svc);
  const allocation = provider.allocate
    ? await timed(ctx, providerName, 'allocate', () => provider.allocate!(lb, signal))
    : undefined;

  // the metadata patch: finalizer + provider + allocation, before anything is built
  let current = svc;
  const annotations: Record<string, string | null> = {};
  const have = svc.metadata?.annotations ?? {};
  if (have[PROVIDER_ANNOTATION] !== providerName) annotations[PROVIDER_ANNOTATION] = providerName;
  for (const [k, v] of Object.entries(allocation?.annotations ?? {})) {
    if (v === null ? k in have : have[k] !== v) annotations[k] = v;
  }
  const finalizer = finalizerFor(svc);
  const needsFinalizer = !hasFinalizer(svc, finalizer);
  if (needsFinalizer || Object.keys(annotations).length > 0) {
    // never add a finalizer to an object being deleted (decide() routes those to cleanup)
    if (isBeingDeleted(svc)) throw new Error('the Service is being deleted');
    current = await ctx.writer.patchMetadata(svc, { addFinalizers: needsFinalizer ? [finalizer] : [], annotations });
    ctx.wrote(current);
    lb.annotations = Object.fromEntries(
      Object.entries({ ...lb.annotations, ...annotations }).filter((e): e is [string, string] => e[1] !== null),
    );
  }
  const isNew = needsFinalizer;
  if (isNew) ctx.events.record(current, 'Normal', 'EnsuringLoadBalancer', 'Ensuring load balancer');

  const status = await timed(ctx, providerName, 'ensure', () => provider.ensure(lb, signal, options));
  for (const warning of status.warnings ?? []) ctx.events.record(current, 'Warning', 'LoadBalancerWarning', warning);
  const ingress = ingressFor(status.ingress, provider.capabilities.ipMode);
  const ready: ReadyState = status.ready
    ? { status: 'True', reason: 'Provisioned', message: status.message ?? 'the load balancer is ready' }
    : { status: 'False', reason: 'Provisioning', message: status.message ?? 'the load balancer is being provisioned' };
  const ingressChanged = !ingressEqual(current.status?.loadBalancer?.ingress, ingress);
  const conditionChanged = readyConditionDiffers(current, ready);
  if (ingressChanged || conditionChanged) {
    const written = await ctx.writer.patchStatus(current, {
      ...(ingressChanged ? { ingress } : {}),
      ...(conditionChanged ? { condition: readyCondition(current, ready, new Date()) } : {}),
    });
    ctx.wrote(written);
  }
  if (isNew || status.changed || ingressChanged) {
    const where = ingress.map((i) => i.ip ?? i.hostname).join(', ');
    ctx.events.record(
      current,
      'Normal',
      isNew ? 'EnsuredLoadBalancer' : 'UpdatedLoadBalancer',
      `Load balancer ${isNew ? 'ensured' : 'updated'}${where ? `: ${where}` : ''}`,
    );
  }
  return {
    provider: providerName,
    lb,
    targets: ctx.targets(provider.capabilities.mapsNodesByProviderID).fingerprint,
    service: relevantService(current),
    ready: status.ready,
    missing,
  };
}

/**
 * What existing Services recorded for `provider`, oldest first (if two recorded the same address, the older
 * keeps it): restore() takes it before anything new is allocated, so a restart never moves an address.
 */
export function recordedAllocations(
  ctx: SyncContext,
  provider: LoadBalancerProvider,
  services: readonly ServiceObject[],
): RecordedAllocation[] {
  const ageOf = (svc: ServiceObject) =>
    svc.metadata?.creationTimestamp ? new Date(svc.metadata.creationTimestamp).getTime() : 0;
  return [...services]
    .filter((svc) => recordedProvider(svc) === provider.name)
    .sort((a, b) => ageOf(a) - ageOf(b))
    .map((svc) => {
      let lb: DesiredLoadBalancer;
      try {
        lb = modelFor(ctx, provider, svc);
      } catch {
        // a Service whose spec or annotations are now invalid still holds its addresses
        lb = recordedLoadBalancer(svc, ctx.clusterName, provider.healthCheck.defaults);
      }
      return { ref: lb.ref, lb };
    });
}

/**
 * Nodes a providerID-mapping provider must leave out are reported, never dropped silently (a Warning
 * Event, deduplicated). Returns them as a fingerprint so node churn can report a change.
 */
export function reportNodesWithoutProviderID(
  ctx: SyncContext,
  provider: LoadBalancerProvider,
  svc: ServiceObject,
): string {
  if (!provider.capabilities.mapsNodesByProviderID) return '';
  const missing = ctx.targets(true).missing;
  if (missing) {
    ctx.events.record(
      svc,
      'Warning',
      'NodesWithoutProviderID',
      `nodes without spec.providerID are not targets: ${missing.replace(/,/g, ', ')}`,
    );
  }
  return missing;
}

/** Clean up what `providerName` built: delete (always), then the finalizer, then the status. */
export async function cleanupService(
  ctx: SyncContext,
  svc: ServiceObject,
  providerName: string,
  signal: AbortSignal,
): Promise<void> {
  const provider = providerOrThrow(ctx, providerName);
  const meta = svc.metadata ?? {};
  const ref = {
    clusterName: ctx.clusterName,
    namespace: meta.namespace ?? '',
    name: meta.name ?? '',
    uid: meta.uid ?? '',
  };
  ctx.events.record(svc, 'Normal', 'DeletingLoadBalancer', 'Deleting load balancer');
  await timed(ctx, providerName, 'delete', () => provider.delete(ref, signal));
  const remove = ourFinalizers(svc);
  const annotations: Record<string, string | null> = {};
  for (const k of [PROVIDER_ANNOTATION, ...(provider.allocationAnnotations ?? [])])
    if (k in (meta.annotations ?? {})) annotations[k] = null;
  let current = svc;
  if (remove.length > 0 || Object.keys(annotations).length > 0) {
    current = await ctx.writer.patchMetadata(svc, { removeFinalizers: remove, annotations });
    ctx.wrote(current);
  }
  ctx.events.record(svc, 'Normal', 'DeletedLoadBalancer', 'Deleted load balancer');
  if (isBeingDeleted(current)) return; // the object is going away: no status to clear
  const hasIngress = (current.status?.loadBalancer?.ingress?.length ?? 0) > 0;
  const hasCondition = current.status?.conditions?.some((c) => c.type === READY_CONDITION) ?? false;
  if (hasIngress || hasCondition) {
    const written = await ctx.writer.patchStatus(current, {
      ingress: null,
      ...(hasCondition ? { removeConditionType: READY_CONDITION } : {}),
    });
    ctx.wrote(written);
  }
}

/** Show a failed sync to the user: a Warning Event and a False condition (only when it changes). */
export async function reportFailure(ctx: SyncContext, svc: ServiceObject, failure: Classified): Promise<void> {
  if (!failure.userVisible) return;
  ctx.events.record(svc, 'Warning', failure.reason, failure.message);
  const state: ReadyState = { status: 'False', reason: failure.reason, message: failure.message };
  if (isBeingDeleted(svc) || svc.spec?.type !== 'LoadBalancer' || !readyConditionDiffers(svc, state)) return;
  try {
    ctx.wrote(await ctx.writer.patchStatus(svc, { condition: readyCondition(svc, state, new Date()) }));
  } catch (err) {
    ctx.log.warn({ err: String(err) }, 'could not write the Ready condition');
  }
}

/**
 * The one sync of one key: compute -> write -> provider call -> status, for ensure, cleanup and targets
 * alike. It returns a SyncResult; outcome.ts alone turns that into queue moves, metrics and Events.
 *
 * The order is the contract (ARCHITECTURE.md): the finalizer (with the provider and allocation
 * annotations, one metadata patch) before any cloud resource; status only when it changed; delete()
 * always called on cleanup, then the finalizer goes, then the status is cleared. A sync that changes
 * nothing writes nothing, Events included. A Service that vanished without our cleanup, or was re-created
 * under the same name, has its load balancer deleted from what we last applied.
 *
 * An ensure writes only onto the version it read (a resourceVersion precondition): a cache behind a watch
 * that is restarting (a new leader after an apiserver restart) must not put our finalizer, annotations or
 * an address on a Service that has since changed. The Conflict reads the Service afresh, and the retry
 * acts on that; what the provider was handed before the write failed is deleted if the Service turns out
 * not to be this provider's (book.ts Building).
 */
import type { Logger } from 'pino';
import type { LoadBalancerProvider, LoadBalancerRef } from '../provider.ts';
import type { DesiredLoadBalancer } from '../model/desired.ts';
import type { NodeObject, ServiceObject } from '../model/objects.ts';
import type { Metrics } from '../metrics.ts';
import type { ServiceWrites } from '../kube/service-writer.ts';
import { desiredLoadBalancer } from '../model/desired-load-balancer.ts';
import {
  decide,
  finalizerFor,
  hasFinalizer,
  isBeingDeleted,
  ourFinalizers,
  type Decision,
  type OwnershipConfig,
} from '../model/ownership.ts';
import { PROVIDER_ANNOTATION, READY_CONDITION } from '../model/names.ts';
import { ingressEqual, ingressFor, readyCondition, readyConditionDiffers, type ReadyState } from '../model/status.ts';
import { apiStatusCode } from '../kube/api-error.ts';
import type { Applied, Building, Intent, ServiceBook } from './book.ts';
import { classify, type Classified } from './errors.ts';
import { relevantService } from './fingerprints.ts';
import type { TargetSet } from './target-sets.ts';

export type Operation = 'ensure' | 'cleanup' | 'targets' | 'orphan' | 'none';

/** What happens to the key next. */
export type Next =
  /** done (or nothing to do): reset its backoff */
  | { kind: 'forget' }
  /** done, but the cloud is still provisioning: look again later */
  | { kind: 'recheck'; delayMs: number }
  /** done with one provider, another builds next (a class change): sync again now */
  | { kind: 'again' }
  /** the provider named a delay (throttling, a long operation) */
  | { kind: 'after'; delayMs: number }
  /** failed: per-key exponential backoff */
  | { kind: 'backoff' }
  /** raced with another writer: again shortly, nothing shown */
  | { kind: 'soon' }
  /** failed terminally (bad input): wait until the Service changes */
  | { kind: 'stop' }
  /** done, but the node set moved while the provider worked: a targets-only sync now */
  | { kind: 'targets' };

export interface Notice {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface SyncResult {
  operation: Operation;
  provider?: string;
  next: Next;
  /** the Service Events and the condition attach to */
  svc?: ServiceObject;
  /** Events to record */
  notices: Notice[];
  /** a failure to show as a Warning Event and a False condition */
  failure?: Classified;
}

/** What the pipeline reads and writes through. */
export interface SyncDeps {
  clusterName: string;
  providers: ReadonlyMap<string, LoadBalancerProvider>;
  ownership: OwnershipConfig;
  book: ServiceBook;
  writer: ServiceWrites;
  metrics: Metrics;
  log: Logger;
  service(key: string): ServiceObject | undefined;
  nodes(): readonly NodeObject[];
  targets(requireProviderID: boolean): TargetSet;
  namespaceLabels(namespace: string): Record<string, string>;
  /**
   * A progress Event (EnsuringLoadBalancer...) for a provider call about to start, shown if the call is
   * slow; the returned function is called once the call is done (outcome.ts)
   */
  progress(svc: ServiceObject, reason: string, message: string): () => void;
  /** the Service as the apiserver has it now (after a Conflict: the cache is behind); undefined if gone */
  readLive?(key: string): Promise<ServiceObject | undefined>;
  /** whether the apiserver keeps ipMode in status (false before KEP-1860's gate): learnt from our writes */
  apiserver: { dropsIpMode: boolean };
  provisioningRecheckMs: number;
}

export function modelFor(d: SyncDeps, provider: LoadBalancerProvider, svc: ServiceObject): DesiredLoadBalancer {
  return desiredLoadBalancer(svc, d.nodes(), {
    targets: d.targets(provider.capabilities.mapsNodesByProviderID).targets,
    clusterName: d.clusterName,
    requireProviderID: provider.capabilities.mapsNodesByProviderID,
    needsNodePorts: provider.capabilities.needsNodePorts,
    healthCheck: provider.healthCheck,
    namespaceLabels: d.namespaceLabels(svc.metadata?.namespace ?? ''),
  });
}

/** One provider call, counted the same way for every operation. */
async function call<T>(d: SyncDeps, provider: string, operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    const result = await fn();
    d.metrics.providerCalls.inc({ provider, operation, result: 'success' });
    return result;
  } catch (err) {
    d.metrics.providerCalls.inc({ provider, operation, result: 'error' });
    throw err;
  }
}

function providerOf(d: SyncDeps, name: string): LoadBalancerProvider {
  const p = d.providers.get(name);
  if (!p) throw new Error(`provider ${name} is not running in this controller`);
  return p;
}

function refOf(d: SyncDeps, svc: ServiceObject): LoadBalancerRef {
  const m = svc.metadata ?? {};
  return { clusterName: d.clusterName, namespace: m.namespace ?? '', name: m.name ?? '', uid: m.uid ?? '' };
}

/** Sync one key. Never throws: every failure is a result. */
export async function syncKey(d: SyncDeps, key: string, signal: AbortSignal): Promise<SyncResult> {
  const intent = d.book.takeIntent(key);
  const svc = d.book.current(key, d.service(key));
  const r: SyncResult = { operation: 'none', next: { kind: 'forget' }, notices: [] };
  if (svc) r.svc = svc;
  try {
    await deleteOrphans(d, key, svc, r, signal);
    const applied = d.book.applied(key);
    if (applied && (!svc || svc.metadata?.uid !== applied.lb.ref.uid)) {
      // vanished without our cleanup (finalizer removed by hand, namespace force-deleted), or re-created
      // under the same name: the old load balancer goes, from what we last applied
      await deleteKnown(d, key, appliedOf(applied), r, signal);
    }
    const building = d.book.building(key);
    if (!svc) {
      if (building) await deleteKnown(d, key, buildingOf(building), r, signal);
      return r;
    }
    const decision = decide(svc, d.ownership);
    if (decision.action === 'ignore') return await ignore(d, key, svc, decision, r, signal);
    // handed to a provider that no longer builds this Service (or for a Service re-created since): deleted
    if (building && (building.provider !== decision.provider || building.ref.uid !== svc.metadata?.uid))
      await deleteKnown(d, key, buildingOf(building), r, signal);
    d.book.noteLeftAlone(key, undefined);
    r.provider = decision.provider;
    if (decision.action === 'cleanup') {
      await cleanup(d, key, svc, decision.provider, r, signal);
      if (decision.then) r.next = { kind: 'again' };
      return r;
    }
    if (!needsEnsure(d, key, intent, svc, decision.provider)) {
      await updateTargets(d, key, svc, decision.provider, r, signal);
      keepRecheck(d, key, r);
      return r;
    }
    await ensure(d, key, svc, decision.provider, intent, r, signal);
    return r;
  } catch (err) {
    const failure = classify(err);
    r.failure = failure;
    r.next =
      failure.retry.kind === 'after'
        ? { kind: 'after', delayMs: failure.retry.delayMs }
        : failure.retry.kind === 'backoff'
          ? { kind: 'backoff' }
          : failure.retry.kind === 'soon'
            ? { kind: 'soon' }
            : { kind: 'stop' };
    // a Conflict: the Service changed since the version this sync read, so the cache is behind; the retry
    // acts on the Service as it is now
    if (apiStatusCode(err) === 409 && d.readLive) {
      const live = await d.readLive(key).catch(() => undefined);
      if (live) d.book.read(live);
    }
    // the newest object, so a failure condition is written on top of what we just wrote
    const current = d.book.current(key, d.service(key));
    if (current) r.svc = current;
    return r;
  }
}

/** A full ensure, or is the node set the only thing that may have moved? */
function needsEnsure(d: SyncDeps, key: string, intent: Intent, svc: ServiceObject, provider: string): boolean {
  const applied = d.book.applied(key);
  if (intent === 'force' || intent === 'drift' || !applied || applied.provider !== provider) return true;
  return intent === 'changed' && applied.service !== relevantService(svc);
}

async function deleteOrphans(
  d: SyncDeps,
  key: string,
  svc: ServiceObject | undefined,
  r: SyncResult,
  signal: AbortSignal,
): Promise<void> {
  for (const { provider, ref } of d.book.takeOrphans(key)) {
    r.provider = provider;
    // re-checked on the key's turn: the Service may have appeared or become ours since the sweep
    if (svc && svc.metadata?.uid === ref.uid) {
      const decision = decide(svc, d.ownership);
      if (decision.action !== 'ignore' && decision.provider === provider) continue;
      if (decision.action === 'ignore' && decision.why?.reason === 'UnknownProvider') {
        // our finalizer without its record: the provider that lists this Service's load balancer built it
        await cleanup(d, key, svc, provider, r, signal);
        continue;
      }
    }
    r.operation = 'orphan';
    await call(d, provider, 'delete', () => providerOf(d, provider).delete(ref, signal));
    d.metrics.orphansDeleted.inc({ provider });
    d.log.warn(
      { service: key, uid: ref.uid, provider },
      'deleted an orphaned load balancer: its Service is gone or no longer ours',
    );
  }
}

/**
 * Deletes what a provider holds for a key, from what this process knows of it: the load balancer last
 * applied for a Service that is gone or was re-created without our cleanup, or what a provider was handed
 * for a Service that turned out gone or not its own (book.ts Building).
 */
async function deleteKnown(
  d: SyncDeps,
  key: string,
  held: { kind: 'applied' | 'building'; provider: string; ref: LoadBalancerRef },
  r: SyncResult,
  signal: AbortSignal,
): Promise<void> {
  r.operation = 'cleanup';
  r.provider = held.provider;
  const provider = providerOf(d, held.provider);
  await call(d, held.provider, 'delete', () => provider.delete(held.ref, signal));
  if (held.kind === 'applied') d.book.forgetApplied(key);
  else d.book.forgetBuilding(key);
  d.log.info(
    { service: key, uid: held.ref.uid, provider: held.provider },
    held.kind === 'applied'
      ? 'deleted the load balancer of a Service that is gone (or was re-created) without our cleanup'
      : 'released what a provider was given for a Service that is gone or no longer its own',
  );
}

const appliedOf = (a: Applied) => ({ kind: 'applied' as const, provider: a.provider, ref: a.lb.ref });
const buildingOf = (b: Building) => ({ kind: 'building' as const, ...b });

async function ignore(
  d: SyncDeps,
  key: string,
  svc: ServiceObject,
  decision: Extract<Decision, { action: 'ignore' }>,
  r: SyncResult,
  signal: AbortSignal,
): Promise<SyncResult> {
  const applied = d.book.applied(key);
  const building = d.book.building(key);
  const built = applied?.provider ?? building?.provider;
  if (built && decision.why?.reason === 'UnknownProvider') {
    // the record annotation was removed, but this process knows who built the load balancer
    r.provider = built;
    await cleanup(d, key, svc, built, r, signal);
    return r;
  }
  if (applied) await deleteKnown(d, key, appliedOf(applied), r, signal);
  if (building) await deleteKnown(d, key, buildingOf(building), r, signal);
  const why = decision.why;
  if (d.book.noteLeftAlone(key, why?.message) && why) {
    d.log[why.type === 'Warning' ? 'warn' : 'info']({ service: key, reason: why.reason }, why.message);
    r.notices.push(why);
  }
  return r;
}

/** Ensure the load balancer of a Service we own. */
async function ensure(
  d: SyncDeps,
  key: string,
  svc: ServiceObject,
  providerName: string,
  intent: Intent,
  r: SyncResult,
  signal: AbortSignal,
): Promise<void> {
  r.operation = 'ensure';
  const provider = providerOf(d, providerName);
  const lb = modelFor(d, provider, svc);
  // the targets this ensure hands the provider: a node event during the call must still find them stale
  const targetsApplied = d.targets(provider.capabilities.mapsNodesByProviderID).fingerprint;
  const missing = nodesWithoutProviderID(d, provider, r);
  d.book.noteBuilding(key, { provider: providerName, ref: lb.ref });
  const allocation = provider.allocate
    ? await call(d, providerName, 'allocate', () => provider.allocate!(lb, signal))
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
  const isNew = !hasFinalizer(svc, finalizer);
  // the first build of this load balancer: a new Service, or one whose first ensure failed (retried, the
  // finalizer in place, no address shown yet); it is "ensured", not "updated". A restart meets addresses
  // shown, builds nothing new and says nothing.
  const firstBuild =
    isNew || ((svc.status?.loadBalancer?.ingress?.length ?? 0) === 0 && d.book.applied(key) === undefined);
  if (isNew || Object.keys(annotations).length > 0) {
    // never add a finalizer to an object being deleted (decide() routes those to cleanup)
    if (isBeingDeleted(svc)) throw new Error('the Service is being deleted');
    current = await d.writer.patchMetadata(svc, {
      addFinalizers: isNew ? [finalizer] : [],
      annotations,
      ifUnchanged: true,
    });
    d.book.wrote(current);
    r.svc = current;
    lb.annotations = Object.fromEntries(
      Object.entries({ ...lb.annotations, ...annotations }).filter((e): e is [string, string] => e[1] !== null),
    );
  }
  const build = () => call(d, providerName, 'ensure', () => provider.ensure(lb, signal, { drift: intent === 'drift' }));
  const status = firstBuild
    ? await announced(d, current, 'EnsuringLoadBalancer', 'Ensuring load balancer', build)
    : await build();
  for (const warning of status.warnings ?? [])
    r.notices.push({ type: 'Warning', reason: 'LoadBalancerWarning', message: warning });
  const ingress = ingressFor(status.ingress, provider.capabilities.ipMode);
  const ready: ReadyState = status.ready
    ? { status: 'True', reason: 'Provisioned', message: status.message ?? 'the load balancer is ready' }
    : { status: 'False', reason: 'Provisioning', message: status.message ?? 'the load balancer is being provisioned' };
  const shown = current.status?.loadBalancer?.ingress;
  const ingressChanged = !ingressEqual(shown, ingress, { ignoreIpMode: d.apiserver.dropsIpMode });
  const conditionChanged = readyConditionDiffers(current, ready);
  if (ingressChanged || conditionChanged) {
    const written = await d.writer.patchStatus(current, {
      ...(ingressChanged ? { ingress } : {}),
      ...(conditionChanged ? { condition: readyCondition(current, ready, new Date()) } : {}),
      ifUnchanged: true,
    });
    if (ingressChanged) learnIpMode(d, ingress, written);
    d.book.wrote(written);
    r.svc = written;
  }
  if (firstBuild || status.changed || ingressChanged) {
    const where = ingress.map((i) => i.ip ?? i.hostname).join(', ');
    r.notices.push({
      type: 'Normal',
      reason: firstBuild ? 'EnsuredLoadBalancer' : 'UpdatedLoadBalancer',
      message: `Load balancer ${firstBuild ? 'ensured' : 'updated'}${where ? `: ${where}` : ''}`,
    });
  }
  // what we wrote is the version we read plus our changes (the writes' precondition): its watch event, our
  // own write coming back, is not a change to act on
  d.book.setApplied(key, {
    provider: providerName,
    lb,
    targets: targetsApplied,
    service: relevantService(r.svc ?? current),
    ready: status.ready,
    ...(status.ready ? {} : { recheckAt: Date.now() + d.provisioningRecheckMs }),
    missing,
  });
  if (!status.ready) r.next = { kind: 'recheck', delayMs: d.provisioningRecheckMs };
  // a node sync during the call may have skipped this key (nothing applied yet, as on a new leader)
  else if (d.targets(provider.capabilities.mapsNodesByProviderID).fingerprint !== targetsApplied)
    r.next = { kind: 'targets' };
}

/**
 * A sync that ensured nothing (our own write coming back, a node change) took the key while its recheck
 * was pending, which cancels the recheck: arm it again for the time it was due.
 */
function keepRecheck(d: SyncDeps, key: string, r: SyncResult): void {
  const applied = d.book.applied(key);
  if (r.next.kind !== 'forget' || !applied || applied.ready || applied.recheckAt === undefined) return;
  r.next = { kind: 'recheck', delayMs: Math.max(0, applied.recheckAt - Date.now()) };
}

/**
 * An apiserver with the LoadBalancerIPMode gate off (Kubernetes <= 1.29) drops ipMode from what we write:
 * compare without it from then on, or every full sync would rewrite the status.
 */
function learnIpMode(d: SyncDeps, sent: readonly { ipMode?: string }[], written: ServiceObject): void {
  if (d.apiserver.dropsIpMode || !sent.some((i) => i.ipMode)) return;
  const kept = written.status?.loadBalancer?.ingress ?? [];
  if (kept.length > 0 && kept.every((i) => !i.ipMode)) {
    d.apiserver.dropsIpMode = true;
    d.log.info(
      'the apiserver does not keep status.loadBalancer.ingress[].ipMode (KEP-1860 gate off): comparing without it',
    );
  }
}

/** The node set moved: only the targets change. */
async function updateTargets(
  d: SyncDeps,
  key: string,
  svc: ServiceObject,
  providerName: string,
  r: SyncResult,
  signal: AbortSignal,
): Promise<void> {
  r.operation = 'targets';
  const applied = d.book.applied(key);
  const p = providerOf(d, providerName);
  if (!applied) return;
  const { targets, fingerprint } = d.targets(p.capabilities.mapsNodesByProviderID);
  const missing = nodesWithoutProviderID(d, p, r);
  if (fingerprint === applied.targets) {
    d.book.setApplied(key, { ...applied, missing });
    return;
  }
  const lb = { ...applied.lb, targets };
  await call(d, providerName, 'updateTargets', () => p.updateTargets(lb, signal));
  d.book.setApplied(key, { ...applied, lb, targets: fingerprint, missing });
  r.notices.push({
    type: 'Normal',
    reason: 'UpdatedLoadBalancer',
    message: `Updated load balancer targets: ${targets.length} nodes`,
  });
  r.svc = svc;
}

/**
 * Nodes a providerID-mapping provider must leave out are reported, never dropped silently (a Warning
 * Event, deduplicated). Returns them as a fingerprint so node churn can report a change.
 */
function nodesWithoutProviderID(d: SyncDeps, provider: LoadBalancerProvider, r: SyncResult): string {
  if (!provider.capabilities.mapsNodesByProviderID) return '';
  const missing = d.targets(true).missing;
  if (missing) {
    r.notices.push({
      type: 'Warning',
      reason: 'NodesWithoutProviderID',
      message: `nodes without spec.providerID are not targets: ${missing.replace(/,/g, ', ')}`,
    });
  }
  return missing;
}

/** A provider call with its progress Event, which shows only if the call is slow (d.progress). */
async function announced<T>(
  d: SyncDeps,
  svc: ServiceObject,
  reason: string,
  message: string,
  work: () => Promise<T>,
): Promise<T> {
  const done = d.progress(svc, reason, message);
  try {
    return await work();
  } finally {
    done();
  }
}

/** Clean up what `providerName` built: delete (always), then the finalizer, then the status. */
async function cleanup(
  d: SyncDeps,
  key: string,
  svc: ServiceObject,
  providerName: string,
  r: SyncResult,
  signal: AbortSignal,
): Promise<void> {
  r.operation = 'cleanup';
  const provider = providerOf(d, providerName);
  const meta = svc.metadata ?? {};
  await announced(d, svc, 'DeletingLoadBalancer', 'Deleting load balancer', () =>
    call(d, providerName, 'delete', () => provider.delete(refOf(d, svc), signal)),
  );
  d.book.forgetApplied(key);
  const building = d.book.building(key);
  if (building?.provider === providerName && building.ref.uid === meta.uid) d.book.forgetBuilding(key);
  const remove = ourFinalizers(svc);
  const annotations: Record<string, string | null> = {};
  for (const k of [PROVIDER_ANNOTATION, ...(provider.allocationAnnotations ?? [])])
    if (k in (meta.annotations ?? {})) annotations[k] = null;
  let current = svc;
  if (remove.length > 0 || Object.keys(annotations).length > 0) {
    current = await d.writer.patchMetadata(svc, { removeFinalizers: remove, annotations });
    d.book.wrote(current);
  }
  r.notices.push({ type: 'Normal', reason: 'DeletedLoadBalancer', message: 'Deleted load balancer' });
  r.svc = current;
  if (isBeingDeleted(current)) return; // the object is going away: no status to clear
  const hasIngress = (current.status?.loadBalancer?.ingress?.length ?? 0) > 0;
  const hasCondition = current.status?.conditions?.some((c) => c.type === READY_CONDITION) ?? false;
  if (hasIngress || hasCondition) {
    const written = await d.writer.patchStatus(current, {
      ingress: null,
      ...(hasCondition ? { removeConditionType: READY_CONDITION } : {}),
    });
    d.book.wrote(written);
    r.svc = written;
  }
}

/**
 * `lb-provisioner plan`: what the controller would do for each Service now, changing nothing. The same
 * decision the sync makes (ownership.decide, the desired model), then the provider's own plan where it
 * has one (a cloud provider observes and diffs); otherwise the desired model against what the Service
 * records (its status ports, its Ready condition's observedGeneration).
 */
import type { DesiredLoadBalancer, LoadBalancerRef, PlanStep } from '../provider.ts';
import type { ServiceObject } from '../model/objects.ts';
import { decide, hasFinalizer, isLoadBalancer, recordedProvider } from '../model/ownership.ts';
import { OUR_FINALIZER, UPSTREAM_FINALIZER } from '../model/names.ts';
import { currentReadyCondition } from '../model/status.ts';
import { desiredFor, type Snapshot } from './snapshot.ts';

export type PlanAction = 'create' | 'update' | 'delete' | 'nothing' | 'error';

export interface PlanEntry {
  /** namespace/name */
  service: string;
  provider: string;
  action: PlanAction;
  /** what would change; empty for nothing */
  steps: PlanStep[];
  /** why (an error, a deletion's cause, where the diff came from) */
  message?: string;
}

const keyOf = (svc: ServiceObject) => `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;

export async function planAll(s: Snapshot, clusterName: string, signal: AbortSignal): Promise<PlanEntry[]> {
  const entries: PlanEntry[] = [];
  const services = [...s.services].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  for (const svc of services) {
    const entry = await planService(s, clusterName, svc, signal);
    if (entry) entries.push(entry);
  }
  return entries;
}

function refOf(clusterName: string, svc: ServiceObject): LoadBalancerRef {
  const m = svc.metadata ?? {};
  return { clusterName, namespace: m.namespace ?? '', name: m.name ?? '', uid: m.uid ?? '' };
}

async function planService(
  s: Snapshot,
  clusterName: string,
  svc: ServiceObject,
  signal: AbortSignal,
): Promise<PlanEntry | undefined> {
  const decision = decide(svc, s.ownership);
  const service = keyOf(svc);
  if (decision.action === 'ignore') return undefined;
  const provider = s.providers.get(decision.provider);
  if (!provider) return undefined;
  try {
    if (decision.action === 'cleanup') {
      const ref = refOf(clusterName, svc);
      const steps = provider.planDelete
        ? await provider.planDelete(ref, signal)
        : [{ action: 'delete' as const, resource: 'LoadBalancer', name: service, detail: addressOf(svc) }];
      steps.push(...finalizerSteps(svc));
      return {
        service,
        provider: decision.provider,
        action: 'delete',
        steps,
        message: `${whyCleanup(svc)}${decision.then ? `; then ${decision.then} builds one` : ''}`,
      };
    }
    const lb = desiredFor(s, svc, provider, clusterName);
    const built = recordedProvider(svc) === decision.provider && (svc.status?.loadBalancer?.ingress?.length ?? 0) > 0;
    if (!built) {
      const steps = provider.plan ? await provider.plan(lb, signal) : createSteps(service, lb);
      const failed = currentReadyCondition(svc);
      return {
        service,
        provider: decision.provider,
        action: 'create',
        steps,
        ...(failed?.status === 'False' ? { message: `the last try failed: ${failed.reason}: ${failed.message}` } : {}),
      };
    }
    const steps = provider.plan ? await provider.plan(lb, signal) : diffRecorded(service, svc, lb);
    return {
      service,
      provider: decision.provider,
      action: steps.length > 0 ? 'update' : 'nothing',
      steps,
      ...(provider.plan ? {} : { message: 'compared with what the Service status records' }),
    };
  } catch (err) {
    return {
      service,
      provider: decision.provider,
      action: 'error',
      steps: [],
      message: err instanceof Error ? err.message : String(err),
    };
  }
}

const portText = (p: { port: number; protocol: string; nodePort?: number }) =>
  `${p.port}/${p.protocol}${p.nodePort ? ` -> nodePort ${p.nodePort}` : ''}`;

function createSteps(service: string, lb: DesiredLoadBalancer): PlanStep[] {
  return [
    {
      action: 'create',
      resource: 'LoadBalancer',
      name: service,
      detail: `ports ${lb.ports.map(portText).join(', ')}; ${lb.targets.length} target node(s)`,
    },
  ];
}

/**
 * For a provider without a plan of its own: the ports the status shows against the desired ports, and
 * whether the spec moved since the controller last wrote the Ready condition.
 */
export function diffRecorded(service: string, svc: ServiceObject, lb: DesiredLoadBalancer): PlanStep[] {
  const steps: PlanStep[] = [];
  const recorded = new Set(
    (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ports ?? []).map((p) => `${p.port}/${p.protocol}`)),
  );
  const desired = new Set(lb.ports.map((p) => `${p.port}/${p.protocol}`));
  if (recorded.size > 0) {
    for (const p of lb.ports)
      if (!recorded.has(`${p.port}/${p.protocol}`))
        steps.push({ action: 'create', resource: 'Port', name: `${p.port}/${p.protocol}`, detail: `+ ${portText(p)}` });
    for (const p of recorded)
      if (!desired.has(p)) steps.push({ action: 'delete', resource: 'Port', name: p, detail: `- ${p}` });
  }
  const ready = currentReadyCondition(svc);
  const generation = svc.metadata?.generation ?? 0;
  if (steps.length === 0 && ready && (ready.observedGeneration ?? 0) !== generation)
    steps.push({
      action: 'update',
      resource: 'LoadBalancer',
      name: service,
      detail: `the spec changed since the last sync (generation ${ready.observedGeneration ?? 0} -> ${generation})`,
    });
  if (steps.length === 0 && ready?.status === 'False')
    steps.push({
      action: 'update',
      resource: 'LoadBalancer',
      name: service,
      detail: `retry: ${ready.reason}: ${ready.message}`,
    });
  return steps;
}

function addressOf(svc: ServiceObject): string {
  const addresses = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '').filter(Boolean);
  return addresses.length ? `address ${addresses.join(', ')}` : 'no address recorded';
}

function finalizerSteps(svc: ServiceObject): PlanStep[] {
  return [OUR_FINALIZER, UPSTREAM_FINALIZER]
    .filter((f) => hasFinalizer(svc, f))
    .map((f) => ({ action: 'delete' as const, resource: 'Finalizer', name: f, detail: 'then clear the status' }));
}

function whyCleanup(svc: ServiceObject): string {
  if (svc.metadata?.deletionTimestamp) return 'the Service is being deleted';
  if (!isLoadBalancer(svc)) return `the Service is now type ${svc.spec?.type ?? 'ClusterIP'}`;
  return 'its loadBalancerClass or provider changed';
}

/**
 * `lb-provisioner status`: every Service this configuration owns, with its address, provider, the health
 * of its targets where the provider can tell (targetHealth), and the last error (the Ready condition when
 * False, else the newest Warning Event).
 */
import * as k8s from '@kubernetes/client-node';
import type { ServiceObject } from '../model/objects.ts';
import { decide, recordedProvider } from '../model/ownership.ts';
import { currentReadyCondition } from '../model/status.ts';
import type { TargetHealth } from '../provider.ts';
import { desiredFor, type Snapshot } from './snapshot.ts';
import { tryRead } from './reads.ts';

export interface ServiceStatusRow {
  /** namespace/name */
  service: string;
  class: string;
  provider: string;
  addresses: string[];
  /** the Ready condition: True, False, or Unknown when not written yet */
  ready: 'True' | 'False' | 'Unknown';
  reason: string;
  /** 'n/a' where the provider cannot tell */
  targets: TargetHealth[] | 'n/a';
  lastError?: string;
}

const keyOf = (svc: ServiceObject) => `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;

export async function statusAll(s: Snapshot, clusterName: string, signal: AbortSignal): Promise<ServiceStatusRow[]> {
  const rows: ServiceStatusRow[] = [];
  const core = s.kubeConfig.makeApiClient(k8s.CoreV1Api);
  for (const svc of [...s.services].sort((a, b) => keyOf(a).localeCompare(keyOf(b)))) {
    const decision = decide(svc, s.ownership);
    const providerName = decision.action === 'ignore' ? recordedProvider(svc) : decision.provider;
    if (!providerName) continue;
    const provider = s.providers.get(providerName);
    const ready = currentReadyCondition(svc);
    let targets: ServiceStatusRow['targets'] = 'n/a';
    if (provider?.targetHealth && decision.action === 'ensure') {
      try {
        const lb = desiredFor(s, svc, provider, clusterName);
        targets = await provider.targetHealth(lb, signal);
      } catch {
        targets = 'n/a';
      }
    }
    const lastError = ready?.status === 'False' ? `${ready.reason}: ${ready.message}` : await lastWarning(core, svc);
    rows.push({
      service: keyOf(svc),
      class: svc.spec?.loadBalancerClass ?? '',
      provider: providerName,
      addresses: (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '').filter(Boolean),
      ready: ready?.status === 'True' || ready?.status === 'False' ? ready.status : 'Unknown',
      reason: ready?.reason ?? '',
      targets,
      ...(lastError ? { lastError } : {}),
    });
  }
  return rows;
}

/** The newest Warning Event on the Service (after its Ready condition last turned True, if it did). */
async function lastWarning(core: k8s.CoreV1Api, svc: ServiceObject): Promise<string | undefined> {
  const m = svc.metadata ?? {};
  const read = await tryRead((o) =>
    core.listNamespacedEvent(
      {
        namespace: m.namespace ?? '',
        fieldSelector: `involvedObject.kind=Service,involvedObject.name=${m.name ?? ''},type=Warning`,
      },
      o,
    ),
  );
  if (read.kind !== 'found') return undefined;
  const at = (e: k8s.CoreV1Event) =>
    new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? 0).getTime();
  const since =
    currentReadyCondition(svc)?.status === 'True'
      ? new Date(currentReadyCondition(svc)?.lastTransitionTime ?? 0).getTime()
      : 0;
  const events = read.value.items
    .filter((e) => e.involvedObject.uid === undefined || e.involvedObject.uid === m.uid)
    .filter((e) => at(e) >= since)
    .sort((a, b) => at(b) - at(a));
  const newest = events[0];
  return newest ? `${newest.reason ?? ''}: ${newest.message ?? ''}` : undefined;
}

export function targetsText(targets: ServiceStatusRow['targets']): string {
  if (targets === 'n/a') return 'n/a';
  if (targets.length === 0) return 'none';
  const healthy = targets.filter((t) => t.state === 'healthy').length;
  return `${healthy}/${targets.length} healthy`;
}

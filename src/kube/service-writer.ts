/**
 * The one place that writes Services: a metadata patch (finalizers + our annotations) and a status patch
 * (ingress + our condition), both strategic merge patches, so other controllers' finalizers and
 * conditions are kept (a JSON merge patch would replace the whole lists).
 */
import * as k8s from '@kubernetes/client-node';
import type { ConditionObject, IngressObject, ServiceObject } from '../model/objects.ts';

const SMP = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
/** our name in managedFields, so another controller (and we) can tell who set a finalizer or the status */
export const FIELD_MANAGER = 'lb-provisioner';

export interface MetadataChange {
  addFinalizers?: string[];
  removeFinalizers?: string[];
  /** null removes the annotation */
  annotations?: Record<string, string | null>;
}

export interface StatusChange {
  /** undefined: leave as is; null or []: clear */
  ingress?: IngressObject[] | null;
  condition?: ConditionObject;
  removeConditionType?: string;
}

/** What the sync pipeline writes through (a test can stand in for the apiserver here). */
export interface ServiceWrites {
  patchMetadata(svc: ServiceObject, change: MetadataChange): Promise<ServiceObject>;
  patchStatus(svc: ServiceObject, change: StatusChange): Promise<ServiceObject>;
}

export class ServiceWriter implements ServiceWrites {
  private readonly api: k8s.CoreV1Api;
  /** writes issued, by kind (tests and the benchmark read these) */
  readonly counts = { metadata: 0, status: 0 };

  constructor(kc: k8s.KubeConfig) {
    this.api = kc.makeApiClient(k8s.CoreV1Api);
  }

  async patchMetadata(svc: ServiceObject, change: MetadataChange): Promise<ServiceObject> {
    const metadata: Record<string, unknown> = {};
    if (change.addFinalizers?.length) metadata['finalizers'] = change.addFinalizers;
    if (change.removeFinalizers?.length) metadata['$deleteFromPrimitiveList/finalizers'] = change.removeFinalizers;
    if (change.annotations && Object.keys(change.annotations).length > 0) metadata['annotations'] = change.annotations;
    this.counts.metadata++;
    return (await this.api.patchNamespacedService(
      {
        name: svc.metadata?.name ?? '',
        namespace: svc.metadata?.namespace ?? '',
        body: { metadata },
        fieldManager: FIELD_MANAGER,
      },
      SMP,
    )) as ServiceObject;
  }

  async patchStatus(svc: ServiceObject, change: StatusChange): Promise<ServiceObject> {
    const status: Record<string, unknown> = {};
    if (change.ingress !== undefined)
      status['loadBalancer'] = { ingress: change.ingress?.length ? change.ingress : null };
    const conditions: Record<string, unknown>[] = [];
    if (change.condition) conditions.push({ ...change.condition });
    if (change.removeConditionType) conditions.push({ type: change.removeConditionType, $patch: 'delete' });
    if (conditions.length) status['conditions'] = conditions;
    this.counts.status++;
    return (await this.api.patchNamespacedServiceStatus(
      {
        name: svc.metadata?.name ?? '',
        namespace: svc.metadata?.namespace ?? '',
        body: { status },
        fieldManager: FIELD_MANAGER,
      },
      SMP,
    )) as ServiceObject;
  }
}

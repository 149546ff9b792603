/**
 * The one place that writes Services (and reads one afresh, outside the cache): a metadata patch (finalizers + our annotations) and a status patch
 * (ingress + our condition), both strategic merge patches, so other controllers' finalizers and
 * conditions are kept (a JSON merge patch would replace the whole lists).
 * The answers are read as plain JSON (plain-request.ts), as watch events are, not through client-node's model.
 */
import * as k8s from '@kubernetes/client-node';
import type { ConditionObject, IngressObject, ServiceObject } from '../model/objects.ts';
import { apiStatusCode } from './api-error.ts';
import { plainJson } from './plain-request.ts';

const SMP = 'application/strategic-merge-patch+json';
/** our name in managedFields, so another controller (and we) can tell who set a finalizer or the status */
export const FIELD_MANAGER = 'lb-provisioner';

/** Write only onto the version the change was computed from: 409 Conflict if the Service changed since. */
export interface Precondition {
  ifUnchanged?: boolean;
}

export interface MetadataChange extends Precondition {
  addFinalizers?: string[];
  removeFinalizers?: string[];
  /** null removes the annotation */
  annotations?: Record<string, string | null>;
}

export interface StatusChange extends Precondition {
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
  private readonly kc: k8s.KubeConfig;
  /** writes issued, by kind (tests and the benchmark read these) */
  readonly counts = { metadata: 0, status: 0 };

  constructor(kc: k8s.KubeConfig) {
    this.kc = kc;
  }

  async patchMetadata(svc: ServiceObject, change: MetadataChange): Promise<ServiceObject> {
    const metadata: Record<string, unknown> = {};
    if (change.addFinalizers?.length) metadata['finalizers'] = change.addFinalizers;
    if (change.removeFinalizers?.length) metadata['$deleteFromPrimitiveList/finalizers'] = change.removeFinalizers;
    if (change.annotations && Object.keys(change.annotations).length > 0) metadata['annotations'] = change.annotations;
    precondition(svc, change, metadata);
    this.counts.metadata++;
    return this.patch(svc, '', { metadata });
  }

  async patchStatus(svc: ServiceObject, change: StatusChange): Promise<ServiceObject> {
    const status: Record<string, unknown> = {};
    if (change.ingress !== undefined)
      status['loadBalancer'] = { ingress: change.ingress?.length ? change.ingress : null };
    const conditions: Record<string, unknown>[] = [];
    if (change.condition) conditions.push({ ...change.condition });
    if (change.removeConditionType) conditions.push({ type: change.removeConditionType, $patch: 'delete' });
    if (conditions.length) status['conditions'] = conditions;
    const metadata: Record<string, unknown> = {};
    precondition(svc, change, metadata);
    this.counts.status++;
    return this.patch(svc, '/status', Object.keys(metadata).length ? { metadata, status } : { status });
  }

  /** The Service as the apiserver has it now (not the cache's); undefined if it is gone. */
  async read(namespace: string, name: string): Promise<ServiceObject | undefined> {
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(name)}`;
    try {
      return await plainJson<ServiceObject>(this.kc, 'GET', path);
    } catch (err) {
      if (apiStatusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** One strategic merge patch of a Service (or its status); the Service as the apiserver returns it. */
  private async patch(svc: ServiceObject, subresource: '' | '/status', body: unknown): Promise<ServiceObject> {
    const namespace = encodeURIComponent(svc.metadata?.namespace ?? '');
    const name = encodeURIComponent(svc.metadata?.name ?? '');
    const path = `/api/v1/namespaces/${namespace}/services/${name}${subresource}?fieldManager=${FIELD_MANAGER}`;
    return plainJson<ServiceObject>(this.kc, 'PATCH', path, { body, contentType: SMP });
  }
}

/** A patch that names a resourceVersion applies only to that version (the apiserver answers 409 otherwise). */
function precondition(svc: ServiceObject, change: Precondition, metadata: Record<string, unknown>): void {
  const rv = svc.metadata?.resourceVersion;
  if (change.ifUnchanged && rv) metadata['resourceVersion'] = rv;
}

/**
 * What the controller's caches keep of each object (client-go's informer transforms): managedFields are a
 * large share of every Service, Node and Namespace and are read for one thing only, who set a Service's
 * finalizer (ownership.ts finalizerManager, to name the controller a Service is left to). A Node's image
 * list is never read. Trimmed on arrival, before the cache holds the object: less memory per cached object
 * (10,000 Services) and less to collect.
 */
import type { ServiceObject } from '../model/objects.ts';

type ManagedField = NonNullable<NonNullable<ServiceObject['metadata']>['managedFields']>[number];
interface WithMetadata {
  metadata?: { managedFields?: unknown[] | undefined };
}

/** The managedFields entries that set finalizers, each cut down to its manager and finalizer fields. */
export function trimService<T extends ServiceObject>(svc: T): T {
  const m = svc.metadata;
  if (!m?.managedFields) return svc;
  const kept: ManagedField[] = [];
  for (const entry of m.managedFields) {
    const finalizers = (entry.fieldsV1 as { 'f:metadata'?: { 'f:finalizers'?: object } } | undefined)?.['f:metadata']?.[
      'f:finalizers'
    ];
    if (finalizers) kept.push({ manager: entry.manager, fieldsV1: { 'f:metadata': { 'f:finalizers': finalizers } } });
  }
  if (kept.length > 0) m.managedFields = kept;
  else delete m.managedFields;
  return svc;
}

/** A Node without managedFields and its image list. */
export function trimNode<T extends WithMetadata & { status?: { images?: unknown } }>(node: T): T {
  trimManagedFields(node);
  if (node.status) delete node.status.images;
  return node;
}

/** Any object without managedFields. */
export function trimManagedFields<T extends WithMetadata>(obj: T): T {
  delete obj.metadata?.managedFields;
  return obj;
}

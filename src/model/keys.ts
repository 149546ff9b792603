/** The one `namespace/name` key of a Service: the work queue's key, the local provider's allocation key. */
import type { ServiceObject } from './objects.ts';

export interface NamespacedName {
  namespace: string;
  name: string;
}

/** `namespace/name` of a Service object or of anything that names one (a LoadBalancerRef). */
export function serviceKey(of: ServiceObject | NamespacedName): string {
  if ('metadata' in of || !('name' in of)) {
    const meta = (of as ServiceObject).metadata;
    return `${meta?.namespace ?? ''}/${meta?.name ?? ''}`;
  }
  return `${of.namespace}/${of.name}`;
}

/** The inverse of serviceKey. */
export function splitKey(key: string): NamespacedName {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

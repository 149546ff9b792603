/**
 * What in an object change is worth a sync. Our own status writes (ingress, condition) and
 * resourceVersion bumps are not; the drift pass catches hand edits to status.
 */
import type { NodeObject, ServiceObject } from '../model/objects.ts';

export function relevantService(svc: ServiceObject): string {
  const m = svc.metadata ?? {};
  return stableStringify([
    m.uid,
    m.generation,
    m.labels,
    m.annotations,
    m.finalizers,
    m.deletionTimestamp ?? null,
    svc.spec,
  ]);
}

/**
 * JSON with sorted keys, undefined dropped and dates as ISO strings: the same object from a watch (raw
 * JSON) and from a client-node call (its model classes, another key order) prints the same.
 */
export function stableStringify(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Node facts that move a node in or out of target sets (taints and readiness alone don't: KEP-3458). */
export function relevantNode(node: NodeObject): string {
  const m = node.metadata ?? {};
  return stableStringify([m.uid, m.labels, m.deletionTimestamp ?? null, node.spec?.providerID, node.status?.addresses]);
}

/** The newer of two versions of an object, by resourceVersion (etcd revisions, compared as integers). */
export function newestOf<T extends ServiceObject>(a: T | undefined, b: T | undefined): T | undefined {
  if (!a || !b) return a ?? b;
  if (a.metadata?.uid !== b.metadata?.uid) return a;
  try {
    return BigInt(b.metadata?.resourceVersion ?? '0') > BigInt(a.metadata?.resourceVersion ?? '0') ? b : a;
  } catch {
    return a;
  }
}

/**
 * What in an object change is worth a sync. Our own status writes (ingress, condition) and
 * resourceVersion bumps are not; the drift pass catches hand edits to status.
 */
import type { ServiceObject } from '../model/objects.ts';
import { fingerprint } from '../model/stable-json.ts';

export { fingerprint, stableStringify } from '../model/stable-json.ts';

export function relevantService(svc: ServiceObject): string {
  const m = svc.metadata ?? {};
  return fingerprint([
    m.uid,
    m.generation,
    m.labels,
    m.annotations,
    m.finalizers,
    m.deletionTimestamp ?? null,
    svc.spec,
  ]);
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

/**
 * What in an object change is worth a sync. Our own status writes (ingress, condition) and
 * resourceVersion bumps are not; the drift pass catches hand edits to status.
 */
import type { ServiceObject } from '../model/objects.ts';
import { stableStringify } from '../model/stable-json.ts';

export { stableStringify };

export function relevantService(svc: ServiceObject): string {
  const m = svc.metadata ?? {};
  return stableStringify([
    m.uid,
    m.generation,
    m.labels,
    m.annotations,
    // a set: a strategic-merge patch appends, our fingerprint of our own patch must not depend on where
    [...(m.finalizers ?? [])].sort(),
    m.deletionTimestamp ?? null,
    svc.spec,
  ]);
}

/**
 * `relevantService` of the Service a sync worked from, with only our own metadata patch applied. This,
 * not the write's answer, is what the sync applied: the answer also carries whatever others changed since
 * our read, and taking it as applied would make their change's watch event look like nothing new.
 */
export function relevantAfterOwnPatch(
  svc: ServiceObject,
  change: { addFinalizers?: readonly string[]; annotations?: Readonly<Record<string, string | null>> },
): string {
  const m = svc.metadata ?? {};
  const patch = change.annotations ?? {};
  const annotations = Object.fromEntries(
    [...Object.entries(m.annotations ?? {}), ...Object.entries(patch)].filter(
      (e): e is [string, string] => e[1] !== null && patch[e[0]] !== null,
    ),
  );
  const finalizers = [...(m.finalizers ?? [])];
  for (const f of change.addFinalizers ?? []) if (!finalizers.includes(f)) finalizers.push(f);
  return relevantService({
    ...svc,
    metadata: {
      ...m,
      ...(Object.keys(annotations).length || m.annotations ? { annotations } : {}),
      ...(finalizers.length || m.finalizers ? { finalizers } : {}),
    },
  });
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

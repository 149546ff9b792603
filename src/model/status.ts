/** The Service status we write: ingress entries and our Ready condition. Pure comparisons and builders. */
import type { IngressPoint, IpMode } from './desired.ts';
import type { ConditionObject, IngressObject, ServiceObject } from './objects.ts';
import { READY_CONDITION } from './names.ts';

/**
 * Normalise provider output into API ingress entries: ipMode only where there is an ip (the API rejects it
 * on hostname entries, KEP-1860), and the data plane's ipMode when the provider left it unset.
 */
export function ingressFor(points: readonly IngressPoint[], ipMode: IpMode): IngressObject[] {
  return points.map((p) => {
    const entry: IngressObject = {};
    if (p.ip) {
      entry.ip = p.ip;
      entry.ipMode = p.ipMode ?? ipMode;
    }
    if (p.hostname) entry.hostname = p.hostname;
    if (p.ports?.length)
      entry.ports = p.ports.map((x) => (x.error ? { ...x } : { port: x.port, protocol: x.protocol }));
    return entry;
  });
}

function canonicalIngress(list: readonly IngressObject[] | undefined, ignoreIpMode: boolean): string {
  return JSON.stringify(
    (list ?? []).map((i) => ({
      ip: i.ip ?? '',
      hostname: i.hostname ?? '',
      ipMode: ignoreIpMode ? '' : (i.ipMode ?? ''),
      ports: (i.ports ?? []).map((p) => `${p.port}/${p.protocol}/${p.error ?? ''}`),
    })),
  );
}

/**
 * Do two ingress lists show the same thing? `ignoreIpMode` for apiservers that drop the field (the
 * LoadBalancerIPMode gate off, Kubernetes <= 1.29): what they keep is what we compare.
 */
export function ingressEqual(
  a: readonly IngressObject[] | undefined,
  b: readonly IngressObject[] | undefined,
  options: { ignoreIpMode?: boolean } = {},
): boolean {
  const ignore = options.ignoreIpMode ?? false;
  return canonicalIngress(a, ignore) === canonicalIngress(b, ignore);
}

export interface ReadyState {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export function currentReadyCondition(svc: ServiceObject): ConditionObject | undefined {
  return svc.status?.conditions?.find((c) => c.type === READY_CONDITION);
}

/**
 * metav1.Condition's documented limit on message. The apiserver's Service validation does not enforce it
 * (a 40 000-character message was stored; checked against the test control plane), but clients and CRD
 * copies of the type may: we never write more.
 */
export const CONDITION_MESSAGE_MAX = 32_768;

/** The message as written: cut to the limit, so comparing with what was written stays stable. */
export function conditionMessage(message: string): string {
  if (message.length <= CONDITION_MESSAGE_MAX) return message;
  const suffix = '… (cut)';
  return message.slice(0, CONDITION_MESSAGE_MAX - suffix.length) + suffix;
}

/** Does writing `state` change what the Service shows? (generation counts: observedGeneration must follow) */
export function readyConditionDiffers(svc: ServiceObject, state: ReadyState): boolean {
  const cur = currentReadyCondition(svc);
  return (
    cur === undefined ||
    cur.status !== state.status ||
    cur.reason !== state.reason ||
    cur.message !== conditionMessage(state.message) ||
    (cur.observedGeneration ?? 0) !== (svc.metadata?.generation ?? 0)
  );
}

/** The condition to write; lastTransitionTime moves only when the status flips. */
export function readyCondition(svc: ServiceObject, state: ReadyState, now: Date): ConditionObject {
  const cur = currentReadyCondition(svc);
  const transitioned = cur === undefined || cur.status !== state.status;
  return {
    type: READY_CONDITION,
    status: state.status,
    reason: state.reason,
    message: conditionMessage(state.message),
    lastTransitionTime: transitioned ? now.toISOString() : new Date(cur.lastTransitionTime).toISOString(),
    observedGeneration: svc.metadata?.generation ?? 0,
  };
}

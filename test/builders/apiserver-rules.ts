/**
 * The apiserver's rules for our two Service writes, for in-memory stand-ins of it: a patch that names a
 * resourceVersion applies only to that version (409 Conflict), and status.loadBalancer.ingress is only
 * for type LoadBalancer (422 Invalid, as the apiserver's status validation says it). The integration
 * tests run the real rules (src/kube/service-writer.test.ts).
 */
import * as k8s from '@kubernetes/client-node';
import type { Precondition, StatusChange } from '../../src/kube/service-writer.ts';
import type { ServiceObject } from '../../src/model/objects.ts';

function apiError(code: number, reason: string, message: string): k8s.ApiException<unknown> {
  return new k8s.ApiException(code, 'Unknown API Status Code!', { kind: 'Status', code, reason, message }, {});
}

/** Throws what the apiserver answers when `change`, computed from `from`, would be refused on `stored`. */
export function refuseAsApiserver(
  stored: ServiceObject,
  from: ServiceObject,
  change: Precondition & Partial<Pick<StatusChange, 'ingress'>>,
): void {
  const name = stored.metadata?.name ?? '';
  if (change.ifUnchanged && from.metadata?.resourceVersion !== stored.metadata?.resourceVersion)
    throw apiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on services "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    );
  if (change.ingress?.length && stored.spec?.type !== 'LoadBalancer')
    throw apiError(
      422,
      'Invalid',
      `Service "${name}" is invalid: status.loadBalancer.ingress: Forbidden: may only be used when \`spec.type\` is 'LoadBalancer'`,
    );
}

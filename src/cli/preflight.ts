/**
 * What `run` checks before it starts the controller, so a new user's mistake ends within seconds in one
 * line that names the fix, instead of a controller that waits forever while it reports ready.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { apiStatusCode, describeApiError } from '../kube/api-error.ts';
import { plainJson } from '../kube/plain-request.ts';
import { RunFailure, UserFixableError } from './exit-errors.ts';

const REQUEST_TIMEOUT_MS = 5000;

export function serverOf(kc: KubeConfig): string {
  return kc.getCurrentCluster()?.server ?? '(no server in the kubeconfig)';
}

/**
 * Resolves once the apiserver answers (any answer but a 5xx or 429 shows it is there); a 401 is the
 * user's to fix. After `timeoutMs` without an answer (0: never give up) the process must not go on.
 */
export async function waitForApiserver(kc: KubeConfig, timeoutMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let warned = false;
  for (;;) {
    let failure: unknown;
    try {
      await plainJson(kc, 'GET', '/version', { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      return;
    } catch (err) {
      const code = apiStatusCode(err);
      if (code === 401)
        throw new UserFixableError(
          `the apiserver ${serverOf(kc)} does not accept the credentials of this kubeconfig (${describeApiError(err)}); check --kubeconfig`,
        );
      if (code !== undefined && code < 500 && code !== 429) return;
      failure = err;
    }
    if (timeoutMs > 0 && Date.now() >= deadline)
      throw new RunFailure(
        `the apiserver ${serverOf(kc)} did not answer within ${timeoutMs / 1000}s (${describeApiError(failure)}); --apiserver-timeout sets how long to wait`,
      );
    if (!warned) log.warn({ server: serverOf(kc), err: describeApiError(failure) }, 'waiting for the apiserver');
    warned = true;
    await sleep(1000);
  }
}

export interface LeaseLocation {
  namespace: string;
  name: string;
}

const LEASE_FIXES = '--leader-elect-namespace <a namespace it may use>, --no-leader-elect, or kubectl apply -k deploy/';

/**
 * The Lease's namespace exists, or is created when these credentials may (an admin kubeconfig on a
 * host). In a cluster deploy/ creates it, so the controller's ClusterRole needs no namespace create.
 */
export async function ensureLeaseNamespace(kc: KubeConfig, lease: LeaseLocation, log: Logger): Promise<void> {
  const within = () => AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  try {
    await plainJson(kc, 'GET', `/api/v1/namespaces/${encodeURIComponent(lease.namespace)}`, { signal: within() });
    return;
  } catch (err) {
    const code = apiStatusCode(err);
    // may not read namespaces: can't tell here; the Lease check below says what is missing
    if (code === 403) return;
    if (code !== 404) throw new RunFailure(`reading namespace ${lease.namespace}: ${describeApiError(err)}`);
  }
  try {
    const body = { metadata: { name: lease.namespace, labels: { 'app.kubernetes.io/created-by': 'lb-provisioner' } } };
    await plainJson(kc, 'POST', '/api/v1/namespaces', { body, signal: within() });
    log.info({ namespace: lease.namespace }, 'created the namespace of the leader Lease');
  } catch (err) {
    const code = apiStatusCode(err);
    if (code === 409) return;
    if (code === 403)
      throw new UserFixableError(
        `the leader Lease's namespace "${lease.namespace}" does not exist and these credentials may not create it (${describeApiError(err)}); use ${LEASE_FIXES}`,
      );
    throw new RunFailure(`creating namespace ${lease.namespace}: ${describeApiError(err)}`);
  }
}

/**
 * The credentials may get, update and create the Lease (SelfSubjectAccessReview, which every
 * authenticated user may ask). Without this a replica would campaign forever, warning every 2 s.
 */
export async function checkLeaseAccess(kc: KubeConfig, lease: LeaseLocation): Promise<void> {
  const denied: string[] = [];
  for (const verb of ['get', 'update', 'create']) {
    try {
      const body = {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: {
          resourceAttributes: {
            group: 'coordination.k8s.io',
            resource: 'leases',
            namespace: lease.namespace,
            verb,
            // RBAC can't restrict a create by name: the name is not known when it is authorized
            ...(verb === 'create' ? {} : { name: lease.name }),
          },
        },
      };
      const review = await plainJson<{ status?: { allowed?: boolean } }>(
        kc,
        'POST',
        '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        { body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
      );
      if (!review.status?.allowed) denied.push(verb);
    } catch {
      return; // the review itself is not available: the elector's own log will say what fails
    }
  }
  if (denied.length > 0)
    throw new UserFixableError(
      `these credentials may not ${denied.join(', ')} the leader Lease ${lease.namespace}/${lease.name} (leases.coordination.k8s.io); use ${LEASE_FIXES}`,
    );
}

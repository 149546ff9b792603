/**
 * Reads for the operator commands (doctor, plan, status): they run with the operator's credentials, which
 * may not allow every read. A read is a value (found, missing, or why it could not be done), so a
 * forbidden read becomes a WARN "could not check", never a crash.
 */
import * as k8s from '@kubernetes/client-node';
import { apiStatusCode, describeApiError } from '../kube/api-error.ts';
import { abortWith } from '../kube/client.ts';
import type { DoctorCheck } from '../provider-descriptor.ts';

export const READ_TIMEOUT_MS = 5000;

export type Read<T> =
  | { kind: 'found'; value: T }
  | { kind: 'missing' }
  | { kind: 'forbidden'; message: string }
  | { kind: 'failed'; message: string };

/** One read with a timeout; 404 is `missing`, 403 `forbidden`. */
export async function tryRead<T>(fn: (options: k8s.ConfigurationOptions) => Promise<T>): Promise<Read<T>> {
  try {
    return { kind: 'found', value: await fn(abortWith(AbortSignal.timeout(READ_TIMEOUT_MS))) };
  } catch (err) {
    const code = apiStatusCode(err);
    if (code === 404) return { kind: 'missing' };
    if (code === 403) return { kind: 'forbidden', message: describeApiError(err) };
    return { kind: 'failed', message: describeApiError(err) };
  }
}

/** The WARN for a read that could not be done. */
export function couldNotCheck(check: string, read: { kind: 'forbidden' | 'failed'; message: string }): DoctorCheck {
  return {
    check,
    result: 'WARN',
    detail: `could not check (${read.kind === 'forbidden' ? 'forbidden' : 'read failed'}: ${read.message})`,
    fix:
      read.kind === 'forbidden'
        ? 'run doctor with credentials that may read it (doctor is an operator tool; the controller does not need this)'
        : 'run doctor again when the apiserver answers',
  };
}

/** Does this CRD exist? */
export function readCrd(kc: k8s.KubeConfig, name: string): Promise<Read<k8s.V1CustomResourceDefinition>> {
  const api = kc.makeApiClient(k8s.ApiextensionsV1Api);
  return tryRead((o) => api.readCustomResourceDefinition({ name }, o));
}

/** Every error a sync can meet, mapped once to what the user sees (Event reason, condition) and to a retry. */
import { isProviderError } from '../model/errors.ts';
import { apiStatusCode, describeApiError } from '../kube/api-error.ts';

export type Retry = { kind: 'backoff' } | { kind: 'after'; delayMs: number } | { kind: 'none' } | { kind: 'soon' };

export interface Classified {
  reason: string;
  message: string;
  retry: Retry;
  /** a Warning Event and a False condition are shown for it */
  userVisible: boolean;
}

export function classify(err: unknown): Classified {
  if (isProviderError(err)) {
    const delayMs = (err as { delayMs?: unknown }).delayMs;
    const retry: Retry =
      typeof delayMs === 'number' ? { kind: 'after', delayMs } : err.terminal ? { kind: 'none' } : { kind: 'backoff' };
    return { reason: err.reason, message: err.message, retry, userVisible: true };
  }
  const name = (err as { name?: unknown })?.name;
  if (name === 'AbortError')
    return { reason: 'Aborted', message: 'shutting down', retry: { kind: 'none' }, userVisible: false };
  // a write raced with another writer: our cache will catch up, try again shortly without a Warning
  if (apiStatusCode(err) === 409)
    return { reason: 'Conflict', message: 'conflict writing the Service', retry: { kind: 'soon' }, userVisible: false };
  // a Kubernetes API error reads like kubectl's, never as client-node's HTTP dump
  const message = describeApiError(err);
  return {
    reason: 'SyncLoadBalancerFailed',
    message: `error syncing load balancer: ${message}`,
    retry: { kind: 'backoff' },
    userVisible: true,
  };
}

/**
 * A request (a write, or a read outside the informers) whose answer we read as plain JSON, or not at all.
 * client-node's typed methods run every request body and every answer through its ObjectSerializer model
 * (managedFields and all, dates into Date objects): in a burst of Service creates that was a visible share
 * of the controller's CPU, for answers we only read plain fields of (the Service after a patch) or discard
 * (an Event). This sends the request with the KubeConfig's credentials over the pooled connections of
 * transport.ts; a failure is client-node's ApiException, as its typed methods throw it, so callers and
 * describeApiError() see the same error.
 */
import type * as k8s from '@kubernetes/client-node';
import { send as sendPlain, type Method } from './transport.ts';

/** The answer's text; a `signal` aborts the request (the leader's renew deadline, a check's timeout) */
export { sendPlain };

/**
 * The answer of `method` `path` (with `body`, as sendPlain sends it) parsed as JSON: the object as the
 * apiserver wrote it (timestamps stay strings). The `run` path reads everything this way, so it loads
 * none of client-node's typed API classes and their models (about 15 MB of a process's memory).
 */
export async function plainJson<T>(
  kc: k8s.KubeConfig,
  method: Method,
  path: string,
  options: { body?: unknown; contentType?: string; signal?: AbortSignal } = {},
): Promise<T> {
  const text = await sendPlain(kc, method, path, options.body, options.contentType, options.signal);
  return JSON.parse(text) as T;
}

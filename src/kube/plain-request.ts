/**
 * A request (a write, or a read outside the informers) whose answer we read as plain JSON, or not at all.
 * client-node's typed methods run every request body and every answer through its ObjectSerializer model
 * (managedFields and all, dates into Date objects): in a burst of Service creates that was a visible share
 * of the controller's CPU, for answers we only read plain fields of (the Service after a patch) or discard
 * (an Event). This sends the request through client-node's RequestContext with the KubeConfig's auth and
 * TLS (its dispatcher: the pooled connections of client.ts), by undici's request() rather than the WHATWG
 * fetch client-node uses (no web streams, Request and Response objects per call); a failure is
 * client-node's ApiException, as its typed methods throw it, so callers and describeApiError() see the
 * same error.
 */
import * as k8s from '@kubernetes/client-node';
import { request } from 'undici';

/** Send `body` as JSON (`contentType`; no body for a GET) to `path` (with its query); the answer's text. */
export async function sendPlain(
  kc: k8s.KubeConfig,
  method: 'GET' | 'PATCH' | 'POST',
  path: string,
  body: unknown,
  contentType = 'application/json',
): Promise<string> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  const ctx = new k8s.RequestContext(`${server}${path}`, k8s.HttpMethod[method]);
  await kc.applySecurityAuthentication(ctx);
  if (method !== 'GET') ctx.setHeaderParam('Content-Type', contentType);
  ctx.setHeaderParam('Accept', 'application/json');
  const response = await request(ctx.getUrl(), {
    method,
    headers: ctx.getHeaders(),
    ...(method === 'GET' ? {} : { body: JSON.stringify(body) }),
    ...(ctx.getDispatcher() ? { dispatcher: ctx.getDispatcher() } : {}),
  });
  const text = await response.body.text();
  if (response.statusCode < 200 || response.statusCode > 299) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers))
      if (value !== undefined) headers[name] = String(value);
    throw new k8s.ApiException(response.statusCode, 'Unknown API Status Code!', bodyOf(text, headers), headers);
  }
  return text;
}

/** As client-node hands an error's body over: parsed when it is JSON, else the text. */
function bodyOf(text: string, headers: Record<string, string>): unknown {
  if (!headers['content-type']?.includes('json')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

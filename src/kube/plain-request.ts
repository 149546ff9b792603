/**
 * A write whose answer we read as plain JSON, or not at all. client-node's typed methods run every request
 * body and every answer through its ObjectSerializer model (managedFields and all, dates into Date
 * objects): in a burst of Service creates that was a visible share of the controller's CPU, for answers we
 * only read plain fields of (the Service after a patch) or discard (an Event). This sends the request
 * through client-node's own pieces instead: its RequestContext, the KubeConfig's auth and TLS (so the
 * pooled connections of client.ts), and its fetch library; a failure is client-node's ApiException, as
 * its typed methods throw it, so callers and describeApiError() see the same error.
 */
import * as k8s from '@kubernetes/client-node';

const http = new k8s.IsomorphicFetchHttpLibrary();

/** Send `body` as JSON (`contentType`) to `path` (with its query) on the current cluster; the answer's text. */
export async function sendPlain(
  kc: k8s.KubeConfig,
  method: 'PATCH' | 'POST',
  path: string,
  body: unknown,
  contentType = 'application/json',
): Promise<string> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  const ctx = new k8s.RequestContext(
    `${server}${path}`,
    method === 'PATCH' ? k8s.HttpMethod.PATCH : k8s.HttpMethod.POST,
  );
  await kc.applySecurityAuthentication(ctx);
  ctx.setHeaderParam('Content-Type', contentType);
  ctx.setHeaderParam('Accept', 'application/json');
  ctx.setBody(JSON.stringify(body));
  const response = await http.send(ctx).toPromise();
  if (response.httpStatusCode < 200 || response.httpStatusCode > 299)
    throw new k8s.ApiException(
      response.httpStatusCode,
      'Unknown API Status Code!',
      await response.getBodyAsAny(),
      response.headers,
    );
  return response.body.text();
}

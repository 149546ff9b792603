/**
 * A request (a write, or a read outside the informers) whose answer we read as plain JSON, or not at all.
 * client-node's typed methods run every request body and every answer through its ObjectSerializer model
 * (managedFields and all, dates into Date objects): in a burst of Service creates that was a visible share
 * of the controller's CPU, for answers we only read plain fields of (the Service after a patch) or discard
 * (an Event). This sends the request through client-node's RequestContext with the KubeConfig's auth and
 * TLS (its dispatcher: the pooled connections of client.ts), by undici's request() rather than the WHATWG
 * fetch client-node uses (no web streams, Request and Response objects per call); a failure is
 * client-node's ApiException, as its typed methods throw it, so callers and describeApiError() see the
 * same error. The credentials and connections are worked out once a second, not per request.
 */
import * as k8s from '@kubernetes/client-node';
import { request } from 'undici';

/**
 * How long the credentials and connections client-node worked out for one request serve the next ones.
 * Working them out (client-node's applySecurityAuthentication: its TLS options, its auth provider, our
 * pool's identity check) was a visible share of the CPU of a burst, for an answer that changes only when
 * a token or certificate rotates; a rotated one is picked up within this time (client-go re-reads a
 * token file once a minute).
 */
const AUTH_REUSE_MS = 1000;

interface Auth {
  at: number;
  server: string;
  headers: Record<string, string>;
  dispatcher: ReturnType<k8s.RequestContext['getDispatcher']>;
}

const authOf = new WeakMap<k8s.KubeConfig, Auth>();

async function authFor(kc: k8s.KubeConfig): Promise<Auth> {
  const cached = authOf.get(kc);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  if (cached && cached.server === server && performance.now() - cached.at < AUTH_REUSE_MS) return cached;
  const ctx = new k8s.RequestContext(server, k8s.HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  const auth: Auth = { at: performance.now(), server, headers: ctx.getHeaders(), dispatcher: ctx.getDispatcher() };
  authOf.set(kc, auth);
  return auth;
}

/**
 * Send `body` as JSON (`contentType`; no body for a GET) to `path` (with its query); the answer's text.
 * A `signal` aborts the request (the leader's renew deadline, a check's timeout).
 */
export async function sendPlain(
  kc: k8s.KubeConfig,
  method: 'GET' | 'PATCH' | 'POST' | 'PUT',
  path: string,
  body: unknown,
  contentType = 'application/json',
  signal?: AbortSignal,
): Promise<string> {
  const auth = await authFor(kc);
  const headers: Record<string, string> = { ...auth.headers, Accept: 'application/json' };
  if (method !== 'GET') headers['Content-Type'] = contentType;
  const response = await request(`${auth.server}${path}`, {
    method,
    headers,
    ...(method === 'GET' ? {} : { body: JSON.stringify(body) }),
    ...(auth.dispatcher ? { dispatcher: auth.dispatcher } : {}),
    ...(signal ? { signal } : {}),
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

/**
 * The answer of `method` `path` (with `body`, as sendPlain sends it) parsed as JSON: the object as the
 * apiserver wrote it (timestamps stay strings). The `run` path reads everything this way, so it loads
 * none of client-node's typed API classes and their models (about 15 MB of a process's memory).
 */
export async function plainJson<T>(
  kc: k8s.KubeConfig,
  method: 'GET' | 'PATCH' | 'POST' | 'PUT',
  path: string,
  options: { body?: unknown; contentType?: string; signal?: AbortSignal } = {},
): Promise<T> {
  const text = await sendPlain(kc, method, path, options.body, options.contentType, options.signal);
  return JSON.parse(text) as T;
}

/**
 * Kubernetes API errors as kubectl shows them: `namespaces "lb-provisioner" not found (404 NotFound)`.
 * client-node's ApiException message is an HTTP dump (`HTTP-Code: 404 Message: Unknown API Status Code!
 * Body: "{\"kind\":\"Status\"...`); logs, Events and conditions use describeApiError() instead.
 */

/** The reason the apiserver gives for a code when a response carries no Status (k8s metav1.StatusReason). */
const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** What kubectl prints for a code without a Status body (k8s.io/apimachinery's NewGenericServerResponse). */
const GENERIC: Record<number, string> = {
  401: 'the server has asked for the client to provide credentials',
  403: 'the server does not allow access to the requested resource',
  404: 'the server could not find the requested resource',
  409: 'the server reported a conflict',
  410: 'the resource version is too old',
  429: 'the server has received too many requests and has asked us to try again later',
  500: 'an error on the server has prevented the request from succeeding',
  503: 'the server is currently unable to handle the request',
  504: 'the server was unable to return a response in the time allotted',
};

export interface ApiStatus {
  code: number;
  reason: string;
  message: string;
}

/** The HTTP status of an API error (an ApiException's `code`, a watch error's `statusCode`). */
export function apiStatusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  // a DOMException has a numeric code of its own (23 for a timeout): only HTTP codes count
  const code = typeof e.code === 'number' ? e.code : e.statusCode;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

/** The apiserver's answer in an error, when there was one. */
export function apiStatus(err: unknown): ApiStatus | undefined {
  const code = apiStatusCode(err);
  if (code === undefined) return undefined;
  const status = statusBody((err as { body?: unknown }).body);
  return {
    code,
    reason: status?.reason || REASONS[code] || 'Unknown',
    message: status?.message || GENERIC[code] || `the server answered HTTP ${code}`,
  };
}

/** One line, as kubectl would put it; never a client-node dump. */
export function describeApiError(err: unknown): string {
  const status = apiStatus(err);
  if (status) return `${status.message} (${status.code} ${status.reason})`;
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as { name?: unknown; message?: unknown; cause?: unknown };
  if (e.name === 'TimeoutError') return 'the request to the apiserver timed out';
  if (e.name === 'AbortError') return 'the request to the apiserver was cancelled';
  const network = networkCause(err);
  if (network) return `cannot reach the apiserver: ${network}`;
  const message = typeof e.message === 'string' ? e.message : String(err);
  return message.split('\n')[0] ?? message;
}

function statusBody(body: unknown): { reason?: string; message?: string } | undefined {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const s = value as { kind?: unknown; reason?: unknown; message?: unknown };
  if (s.kind !== 'Status') return undefined;
  return {
    ...(typeof s.reason === 'string' ? { reason: s.reason } : {}),
    ...(typeof s.message === 'string' ? { message: s.message } : {}),
  };
}

/** `connect ECONNREFUSED 127.0.0.1:6443` from undici's `fetch failed` and its causes. */
function networkCause(err: unknown): string | undefined {
  const chain: { code?: unknown; message?: unknown }[] = [];
  for (let e = err; typeof e === 'object' && e !== null && chain.length < 5; e = (e as { cause?: unknown }).cause)
    chain.push(e as { code?: unknown; message?: unknown });
  const coded = chain.find((e) => typeof e.code === 'string' && /^(E[A-Z]+|UND_ERR)/.test(e.code));
  if (typeof coded?.message === 'string') return coded.message;
  const inner = chain[1]?.message;
  return chain[0]?.message === 'fetch failed' && typeof inner === 'string' ? inner : undefined;
}

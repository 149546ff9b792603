/**
 * How `run` talks to the apiserver: Node's own HTTP client (its native llhttp parser) over one pool of
 * kept-alive connections per server and identity, bounded as client-go's transport is. The other commands
 * go through client-node's typed clients (client.ts pools their undici connections).
 *
 * Why not undici, which client-node 2.x sends everything through: in a process of its own, listing and
 * watching 1000 Services over TLS took 8-10 MB more RSS with undici's request() than with Node's https (its
 * HTTP parser is a WebAssembly module, compiled and instantiated beside the native one Node already
 * carries), and client-node's watch reads each event through WHATWG fetch, a web stream and readline.
 *
 * The credentials are client-node's (KubeConfig.applyToHTTPSOptions: certificates, tokens, exec and auth
 * providers), worked out once a second, not per request, so a rotated token or certificate is picked up
 * within a second; a new certificate gets a new pool. A cluster with a `proxy-url` goes through the agent
 * client-node makes for it (HTTP CONNECT or SOCKS).
 */
import * as k8s from '@kubernetes/client-node';
import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type RequestOptions as HttpRequestOptions,
} from 'node:http';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';

/** At most this many connections to one apiserver (client-go's default is no limit over HTTP/2's one) */
export const MAX_CONNECTIONS = 32;

/**
 * How long the credentials and connections worked out for one request serve the next ones: working them out
 * (client-node's applyToHTTPSOptions: its TLS options, its auth provider) was a visible share of the CPU
 * of a burst, for an answer that changes only when a token or certificate rotates (client-go re-reads a
 * token file once a minute).
 */
const AUTH_REUSE_MS = 1000;

/** A request that gets no answer at all for this long fails (undici's default header and body timeout) */
const REQUEST_IDLE_TIMEOUT_MS = 300_000;

/** A watch that gets no data for this long is closed and reopened from its last resourceVersion */
const WATCH_IDLE_TIMEOUT_MS = 30_000;

export type Method = 'GET' | 'PATCH' | 'POST' | 'PUT';

interface Session {
  at: number;
  server: string;
  headers: Record<string, string>;
  send: (url: URL, options: HttpRequestOptions, answer: (res: IncomingMessage) => void) => ClientRequest;
  agent: HttpAgent;
}

interface Pool {
  identity: readonly unknown[];
  agent: HttpAgent;
}

const sessions = new WeakMap<k8s.KubeConfig, Session>();
const pools = new WeakMap<k8s.KubeConfig, Pool>();

async function sessionFor(kc: k8s.KubeConfig): Promise<Session> {
  const cached = sessions.get(kc);
  const cluster = kc.getCurrentCluster();
  const server = cluster?.server;
  if (!cluster || !server) throw new Error('the kubeconfig has no current cluster');
  if (cached && cached.server === server && performance.now() - cached.at < AUTH_REUSE_MS) return cached;
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(opts.headers ?? {}))
    if (value !== undefined) headers[name] = String(value);
  if (opts.auth) headers['Authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  const plain = server.startsWith('http:');
  const agent = cluster.proxyUrl ? (opts.agent as HttpAgent) : poolFor(kc, server, plain, opts);
  const send = plain ? httpRequest : httpsRequest;
  const session: Session = { at: performance.now(), server, headers, send, agent };
  sessions.set(kc, session);
  return session;
}

/** The pool for this server and TLS identity; a new identity (a rotated certificate) closes the old pool */
function poolFor(kc: k8s.KubeConfig, server: string, plain: boolean, opts: RequestOptions): Pool['agent'] {
  const identity = [server, opts.rejectUnauthorized, opts.servername, opts.ca, opts.cert, opts.key, opts.pfx];
  const pool = pools.get(kc);
  if (pool && sameIdentity(pool.identity, identity)) return pool.agent;
  if (pool) retire(pool.agent);
  const common = { keepAlive: true, keepAliveMsecs: 30_000, maxSockets: MAX_CONNECTIONS, scheduling: 'lifo' as const };
  const agent = plain
    ? new HttpAgent(common)
    : new Agent({
        ...common,
        secureContext: sharedSecureContext(opts),
        ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
        ...(opts.servername ? { servername: opts.servername } : {}),
      });
  pools.set(kc, { identity, agent });
  return agent;
}

/**
 * One TLS context for every connection of a pool. Given only the CA, certificate and key, each connection
 * parses them into an OpenSSL context of its own, about 220 KB apiece (32 connections to a dev apiserver:
 * 12.5 MB of RSS with a context each, 5.2 MB sharing one).
 */
export function sharedSecureContext(
  o: Pick<SecureContextOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase'>,
): SecureContext {
  return createSecureContext({ ca: o.ca, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase });
}

/**
 * Close an old pool without cutting what is in flight (a watch, a write): its idle connections now, each
 * busy one when its request ends (an agent without keep-alive closes a socket it gets back).
 */
function retire(agent: HttpAgent): void {
  (agent as HttpAgent & { keepAlive: boolean }).keepAlive = false;
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
}

/** What a pool of connections is for: the server and the TLS credentials, compared byte for byte */
export type Identity = readonly unknown[];

export function sameIdentity(a: Identity, b: Identity): boolean {
  return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return sameIdentity(a, b);
  return a === b;
}

/** Open a request; `answer` gets the response (any status). The caller ends the request. */
async function open(
  kc: k8s.KubeConfig,
  method: Method,
  path: string,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
  answer: (res: IncomingMessage) => void,
): Promise<ClientRequest> {
  const s = await sessionFor(kc);
  const url = new URL(`${s.server}${path}`);
  return s.send(
    url,
    { method, agent: s.agent, headers: { ...s.headers, ...headers }, ...(signal ? { signal } : {}) },
    answer,
  );
}

/**
 * Send `body` as JSON (`contentType`; no body for a GET) to `path` (with its query); the answer's text. A
 * `signal` aborts the request. A status outside 2xx is client-node's ApiException, as its typed methods
 * throw it, so callers and describeApiError() see the same error.
 */
export async function send(
  kc: k8s.KubeConfig,
  method: Method,
  path: string,
  body: unknown,
  contentType = 'application/json',
  signal?: AbortSignal,
): Promise<string> {
  const payload = method === 'GET' || body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (payload !== undefined) headers['Content-Type'] = contentType;
  const { res, text } = await new Promise<{ res: IncomingMessage; text: string }>((resolve, reject) => {
    open(kc, method, path, headers, signal, (res) => {
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ res, text }));
      res.on('error', reject);
    }).then((req) => {
      req.on('error', reject);
      req.setTimeout(REQUEST_IDLE_TIMEOUT_MS, () =>
        req.destroy(new Error(`${method} ${path}: no answer in ${REQUEST_IDLE_TIMEOUT_MS / 1000}s`)),
      );
      req.end(payload);
    }, reject);
  });
  const status = res.statusCode ?? 0;
  if (status >= 200 && status <= 299) return text;
  const answered = headersOf(res);
  throw new k8s.ApiException(status, 'Unknown API Status Code!', bodyOf(text, answered), answered);
}

function headersOf(res: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers[name] = String(value);
  return headers;
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

/** What a watch error carries for client-node's ListWatch: a status (410 Gone relists) or a timeout's name */
class WatchError extends Error {
  readonly statusCode: number | undefined;
  constructor(message: string, statusCode?: number, name?: string) {
    super(message);
    this.statusCode = statusCode;
    if (name) this.name = name;
  }
}

/**
 * A watch as client-node's ListWatch drives it (its Watch class's `watch` method): each event's type and
 * object to `callback`, then `done` once, with nothing when the server closed the stream, a TimeoutError
 * when no data came for WATCH_IDLE_TIMEOUT_MS (ListWatch reopens from its last resourceVersion), or the
 * error. The returned controller stops it.
 */
export class PlainWatch {
  private readonly kc: k8s.KubeConfig;
  constructor(kc: k8s.KubeConfig) {
    this.kc = kc;
  }

  async watch(
    path: string,
    params: Record<string, unknown>,
    callback: (phase: string, obj: unknown, watchObj?: unknown) => void,
    done: (err?: unknown) => void,
  ): Promise<AbortController> {
    const controller = new AbortController();
    const query = new URLSearchParams({ watch: 'true' });
    for (const [key, value] of Object.entries(params)) if (value !== undefined) query.set(key, String(value));
    let finished = false;
    const finish = (err?: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(idle);
      done(err ?? null);
    };
    // restarted by every chunk that arrives
    const idle = setTimeout(() => {
      finish(new WatchError(`no data for ${WATCH_IDLE_TIMEOUT_MS / 1000}s`, undefined, 'TimeoutError'));
      controller.abort(); // the connection may be dead: close it rather than hand it back to the pool
    }, WATCH_IDLE_TIMEOUT_MS);
    idle.unref();
    const sep = path.includes('?') ? '&' : '?';
    try {
      const req = await open(this.kc, 'GET', `${path}${sep}${query}`, {}, controller.signal, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          finish(new WatchError(res.statusMessage || `HTTP ${res.statusCode}`, res.statusCode));
          return;
        }
        idle.refresh();
        res.setEncoding('utf8');
        let pending = '';
        res.on('data', (chunk: string) => {
          idle.refresh();
          pending += chunk;
          let start = 0;
          for (let nl = pending.indexOf('\n'); nl >= 0; start = nl + 1, nl = pending.indexOf('\n', start)) {
            const line = pending.slice(start, nl);
            if (!line.trim()) continue;
            let event: { type: string; object: unknown };
            try {
              event = JSON.parse(line) as { type: string; object: unknown };
            } catch {
              continue; // as client-node's watch: a line that is not JSON is skipped
            }
            callback(event.type, event.object, event);
          }
          pending = pending.slice(start);
        });
        res.on('end', () => finish());
        res.on('close', () => finish());
        res.on('error', (err) => finish(err));
      });
      req.on('error', (err) => finish(controller.signal.aborted ? undefined : err));
      req.end();
    } catch (err) {
      finish(err);
    }
    return controller;
  }
}

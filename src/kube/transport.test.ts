/**
 * The controller's transport (transport.ts) against a TLS server that offers both HTTP/2 and HTTP/1.1 (as
 * the kube-apiserver does, by ALPN): requests speak HTTP/1.1, and a burst of them reuses a bounded set of
 * connections instead of opening one per request. The credentials are worked out once a second, so a
 * rotated token is sent within a second. A failure is client-node's ApiException; a watch hands each event
 * over and ends as client-node's ListWatch expects. client-node's typed clients (the operator commands) go
 * through client.ts's pool of undici connections, bounded and HTTP/1.1 too (client-node alone builds a new
 * connection pool for every request).
 */
import { afterAll, beforeAll, beforeEach, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCerts } from '../devcluster/certs.ts';
import { withConnectionPool } from './client.ts';
import { sendPlain } from './plain-request.ts';
import { PlainWatch } from './transport.ts';

let dir: string;
let server: Http2SecureServer;
let kc: k8s.KubeConfig;
const versions: string[] = [];
const authorizations: string[] = [];
const sockets = new Set<unknown>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lbp-client-'));
  const certs = await generateCerts(dir);
  server = createSecureServer(
    { key: await readFile(certs.servingKey), cert: await readFile(certs.servingCert), allowHTTP1: true },
    (req, res) => {
      versions.push(req.httpVersion);
      authorizations.push(String(req.headers.authorization));
      sockets.add(req.socket);
      res.setHeader('content-type', 'application/json');
      const url = new URL(req.url ?? '/', 'https://x');
      if (url.pathname === '/missing') {
        res.statusCode = 404;
        res.end(JSON.stringify({ kind: 'Status', code: 404, reason: 'NotFound', message: 'not here' }));
      } else if (url.pathname === '/gone' && url.searchParams.get('watch') === 'true') {
        res.statusCode = 410;
        res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired' }));
      } else if (url.searchParams.get('watch') === 'true') {
        // two events, the second split over two writes with a blank line and a line that is not JSON before it
        const rv = url.searchParams.get('resourceVersion');
        res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: rv } } })}\n`);
        res.write('\nnot json\n{"type":"DELETED","object":{"meta');
        setTimeout(() => res.end('data":{"name":"a"}}}\n'), 20);
      } else res.end(JSON.stringify({ kind: 'Status', path: req.url }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, caData: Buffer.from(certs.caPem).toString('base64') }],
    users: [{ name: 'u', token: 'not-a-real-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  withConnectionPool(kc);
});

afterAll(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  versions.length = 0;
  authorizations.length = 0;
  sockets.clear();
});

it('speaks HTTP/1.1 to a server that offers HTTP/2 too', async () => {
  const text = await sendPlain(kc, 'GET', '/api/v1/namespaces', undefined);
  expect(JSON.parse(text)).toEqual({ kind: 'Status', path: '/api/v1/namespaces' });
  expect(versions).toEqual(['1.1']);
});

it('reuses a bounded set of connections for a burst of requests', async () => {
  await Promise.all(Array.from({ length: 200 }, (_, i) => sendPlain(kc, 'POST', `/e/${i}`, { i })));
  expect(versions).toHaveLength(200);
  expect(new Set(versions)).toEqual(new Set(['1.1']));
  expect(sockets.size).toBeGreaterThan(1);
  expect(sockets.size).toBeLessThanOrEqual(32);
});

it('sends a rotated token within a second, and reuses the credentials in between', async () => {
  const user = kc.getCurrentUser() as { token?: string };
  await sendPlain(kc, 'GET', '/before', undefined);
  user.token = 'rotated-token';
  await sendPlain(kc, 'GET', '/at-once', undefined);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await sendPlain(kc, 'GET', '/a-second-later', undefined);
  expect(authorizations).toEqual(['Bearer not-a-real-token', 'Bearer not-a-real-token', 'Bearer rotated-token']);
});

it("fails a request outside 2xx with client-node's ApiException, the Status parsed", async () => {
  const err = await sendPlain(kc, 'GET', '/missing', undefined).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(k8s.ApiException);
  expect((err as k8s.ApiException<{ reason: string }>).code).toBe(404);
  expect((err as k8s.ApiException<{ reason: string }>).body.reason).toBe('NotFound');
});

it('hands each watch event over, skips what is not an event, and ends cleanly when the server closes', async () => {
  const events: [string, unknown][] = [];
  const ended = await new Promise<unknown>((resolve) => {
    void new PlainWatch(kc).watch(
      '/api/v1/services',
      { resourceVersion: '7', allowWatchBookmarks: true, unset: undefined },
      (phase, obj) => events.push([phase, obj]),
      resolve,
    );
  });
  expect(ended).toBeNull();
  expect(events).toEqual([
    ['ADDED', { metadata: { name: 'a', resourceVersion: '7' } }],
    ['DELETED', { metadata: { name: 'a' } }],
  ]);
});

it('ends a watch the server refuses with its status code (410 makes the ListWatch relist)', async () => {
  const ended = await new Promise<unknown>((resolve) => {
    void new PlainWatch(kc).watch('/gone', {}, () => undefined, resolve);
  });
  expect((ended as { statusCode?: number }).statusCode).toBe(410);
});

it('a watch stopped by its controller ends once, without an error', async () => {
  const ends: unknown[] = [];
  let stop: AbortController | undefined;
  await new Promise<void>((resolve) => {
    void new PlainWatch(kc)
      .watch(
        '/api/v1/nodes',
        {},
        () => {
          stop?.abort();
          resolve();
        },
        (err) => ends.push(err),
      )
      .then((c) => (stop = c));
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(ends).toEqual([null]);
});

it('a typed client speaks HTTP/1.1 to a server that offers HTTP/2 too', async () => {
  await kc.makeApiClient(k8s.CoreV1Api).listNamespace();
  expect(versions).toEqual(['1.1']);
  // the user's token as it is now (an earlier test rotates it)
  expect(authorizations).toEqual([`Bearer ${(kc.getCurrentUser() as { token?: string }).token}`]);
});

it('typed clients reuse a bounded set of connections for a burst of requests', async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await Promise.all(Array.from({ length: 100 }, () => core.listNamespace()));
  expect(versions).toHaveLength(100);
  expect(sockets.size).toBeGreaterThan(1);
  expect(sockets.size).toBeLessThanOrEqual(32);
});

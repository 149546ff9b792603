/**
 * The pooled connections of client.ts against a TLS server that offers both HTTP/2 and HTTP/1.1 (as the
 * kube-apiserver does, by ALPN): requests speak HTTP/1.1, and a burst of them reuses a bounded set of
 * connections instead of opening one per request. The credentials are worked out once a second, so a
 * rotated token is sent within a second.
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
      res.end(JSON.stringify({ kind: 'Status', path: req.url }));
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

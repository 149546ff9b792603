/**
 * The pooled connections of client.ts (client-node's typed clients, as the operator commands use them)
 * against a TLS server that offers both HTTP/2 and HTTP/1.1 (as the kube-apiserver does, by ALPN): requests
 * speak HTTP/1.1, and a burst of them reuses a bounded set of connections instead of opening one per
 * request (client-node alone builds a new connection pool for every request).
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

it('a typed client speaks HTTP/1.1 to a server that offers HTTP/2 too', async () => {
  await kc.makeApiClient(k8s.CoreV1Api).listNamespace();
  expect(versions).toEqual(['1.1']);
  expect(authorizations).toEqual(['Bearer not-a-real-token']);
});

it('typed clients reuse a bounded set of connections for a burst of requests', async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  await Promise.all(Array.from({ length: 100 }, () => core.listNamespace()));
  expect(versions).toHaveLength(100);
  expect(sockets.size).toBeGreaterThan(1);
  expect(sockets.size).toBeLessThanOrEqual(32);
});

/**
 * The controller with the local provider in proxy mode, against a real apiserver: the userspace back end
 * on loopback (it needs no privilege), stand-in kube-proxies on three loopback "nodes", and real HTTP
 * through the VIP. The nftables back end is covered with real packets in test/e2e (network namespaces).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { request } from 'node:http';
import { createLocalProvider, type KubeLocalProvider } from '../../providers/local/index.ts';
import { NodeStandIns } from '../../src/cli/demo-nodes.ts';
import { silentLogger } from '../../src/log.ts';
import type { ServiceController } from '../../src/controller/controller.ts';
import { aService } from '../builders/service.ts';
import { createNode, uniqueNamespace, waitFor } from '../harness/fixtures.ts';
import {
  deleteService,
  readyOf,
  startCluster,
  startController,
  waitForEvent,
  waitForService,
  type Cluster,
} from './support.ts';

const NODES = [
  { name: 'proxy-a', ip: '127.0.61.1' },
  { name: 'proxy-b', ip: '127.0.61.2' },
  { name: 'proxy-c', ip: '127.0.61.3' },
];

function get(ip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ip, port, path: '/', agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('local provider, proxy data plane (userspace on loopback)', () => {
  let cluster: Cluster;
  let ns: string;
  let controller: ServiceController;
  let provider: KubeLocalProvider;
  let nodes: NodeStandIns;

  beforeAll(async () => {
    cluster = await startCluster();
    ns = await uniqueNamespace(cluster.admin, 'proxy');
    for (const n of NODES) await createNode(cluster.admin, { name: n.name, internalIP: n.ip });
    nodes = new NodeStandIns(NODES);
    await nodes.start();
    provider = (await createLocalProvider({
      clusterName: 'proxy-it',
      pools: ['127.0.62.10-127.0.62.20'],
      dataplane: 'proxy',
      proxyBackend: 'userspace',
      vipInterface: 'lo',
      log: silentLogger(),
    })) as KubeLocalProvider;
    controller = await startController(cluster, { providers: [provider] });
  });
  afterAll(async () => {
    await controller?.stop();
    await provider?.teardown();
    await nodes?.close();
    await cluster?.stop();
  });

  it('forwards VIP:port to every node, spread evenly, with ipMode Proxy and per-port status', async () => {
    await cluster.core.createNamespacedService({ namespace: ns, body: aService('web', ns).withPorts(80).manifest() });
    const svc = await waitForService(
      cluster,
      ns,
      'web',
      (s) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0,
      'an address',
    );
    await nodes.sync([svc]);
    const ingress = svc.status!.loadBalancer!.ingress![0]!;
    expect(ingress.ipMode).toBe('Proxy');
    expect(ingress.ports).toEqual([{ port: 80, protocol: 'TCP' }]);
    expect(readyOf(svc)?.status).toBe('True');
    const answers = await waitFor(
      async () => {
        const got = await Promise.all(Array.from({ length: 30 }, () => get(ingress.ip!, 80)));
        return new Set(got).size === 3 ? got : undefined;
      },
      { message: 'answers from all three nodes through the VIP', timeoutMs: 15_000, intervalMs: 500 },
    );
    const counts = NODES.map((n) => answers.filter((a) => a === n.name).length);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(5); // round robin over 3: 10 each
  });

  it('takes a node whose kube-proxy health check fails out of rotation, with an Event', async () => {
    const svc = (await cluster.core.readNamespacedService({ name: 'web', namespace: ns }))!;
    const ip = svc.status!.loadBalancer!.ingress![0]!.ip!;
    // proxy-a's kube-proxy stops (its /healthz on 10256 and its NodePorts); b and c keep serving
    await nodes.close();
    nodes = new NodeStandIns(NODES.slice(1));
    await nodes.start();
    await nodes.sync([svc]);
    const stoppedAt = Date.now();
    await waitFor(
      async () => {
        const got = await Promise.all(Array.from({ length: 12 }, () => get(ip, 80).catch(() => 'failed')));
        return got.every((g) => g === 'proxy-b' || g === 'proxy-c') ? got : undefined;
      },
      { message: 'proxy-a out of rotation', timeoutMs: 10_000, intervalMs: 200 },
    );
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
    const event = await waitForEvent(cluster, ns, 'web', 'TargetUnhealthy');
    expect(event.message).toContain('proxy-a');
  });

  it('a port added live is served too', async () => {
    await cluster.core.patchNamespacedService(
      {
        name: 'web',
        namespace: ns,
        body: [{ op: 'add', path: '/spec/ports/-', value: { name: 'alt', port: 8080, protocol: 'TCP' } }],
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    const svc = await waitForService(
      cluster,
      ns,
      'web',
      (s) => s.status?.loadBalancer?.ingress?.[0]?.ports?.length === 2,
      'two ports in status',
    );
    await nodes.sync([svc]);
    const ip = svc.status!.loadBalancer!.ingress![0]!.ip!;
    const answer = await waitFor(() => get(ip, 8080), { message: 'an answer on the new port', timeoutMs: 10_000 });
    expect(['proxy-b', 'proxy-c']).toContain(answer);
    await deleteService(cluster, ns, 'web');
    await expect(get(ip, 80)).rejects.toThrow();
  });
});

/** The controller keeps working through an apiserver restart, and its process runs under its own ClusterRole. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { FakeProvider } from '../../providers/fake/provider.ts';
import { aService } from '../builders/service.ts';
import { uniqueNamespace, waitFor } from '../harness/fixtures.ts';
import type { ServiceController } from '../../src/controller/controller.ts';
import { deleteService, startCluster, startController, waitForService, type Cluster } from './support.ts';

const BIN = fileURLToPath(new URL('../../bin/lb-provisioner.js', import.meta.url));
const hasIngress = (s: k8s.V1Service) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0;

describe('resilience and the real process', () => {
  let cluster: Cluster;
  let ns: string;

  beforeAll(async () => {
    cluster = await startCluster();
    ns = await uniqueNamespace(cluster.admin, 'resilience');
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('informers survive an apiserver restart: a Service created after it is still served', async () => {
    const fake = new FakeProvider();
    const controller: ServiceController = await startController(cluster, { providers: [fake] });
    try {
      await cluster.core.createNamespacedService({
        namespace: ns,
        body: aService('before', ns).withPorts(80).manifest(),
      });
      await waitForService(cluster, ns, 'before', hasIngress, 'an ingress before the restart');
      await cluster.cp.stopApiserver({ graceful: false });
      await new Promise((r) => setTimeout(r, 1500));
      await cluster.cp.startApiserver();
      await cluster.core.createNamespacedService({
        namespace: ns,
        body: aService('after', ns).withPorts(80).manifest(),
      });
      await waitForService(cluster, ns, 'after', hasIngress, 'an ingress after the restart', 45_000);
      await deleteService(cluster, ns, 'before');
      await deleteService(cluster, ns, 'after');
    } finally {
      await controller.stop();
    }
  }, 90_000);

  it('`lb-provisioner run` under the ServiceAccount from deploy/controller/rbac.yaml serves Services, metrics and readiness', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [
        BIN,
        'run',
        '--kubeconfig',
        cluster.controllerKubeconfig,
        '--provider',
        'local',
        '--pool',
        '192.0.2.64/28',
        '--cluster-name',
        'cli',
        '--metrics-bind-address',
        '127.0.0.1:0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const address = await waitFor(() => /"address":"([^"]+)"/.exec(output)?.[1], {
        message: 'the metrics address in the log',
        timeoutMs: 20_000,
      });
      await cluster.core.createNamespacedService({ namespace: ns, body: aService('cli', ns).withPorts(80).manifest() });
      const svc = await waitForService(cluster, ns, 'cli', hasIngress, 'an address from the CLI controller', 30_000);
      expect(svc.status!.loadBalancer!.ingress![0]!.ip).toMatch(/^192\.0\.2\.(6[4-9]|7[0-9])$/);
      const ready = await waitFor(
        async () => ((await fetch(`http://${address}/readyz`)).status === 200 ? true : undefined),
        {
          message: '/readyz to answer 200',
          timeoutMs: 10_000,
        },
      );
      expect(ready).toBe(true);
      const metrics = await (await fetch(`http://${address}/metrics`)).text();
      expect(metrics).toMatch(
        /lbprovisioner_reconcile_duration_seconds_count\{provider="local",operation="ensure",outcome="success"\} [1-9]/,
      );
      expect(metrics).toMatch(/lbprovisioner_leader 1/);
      // one JSON object per line, every sync line names its Service, and no credential reaches a line
      const lines = output.trim().split('\n');
      expect(lines.every((l) => l.startsWith('{'))).toBe(true);
      const token =
        (await import('node:fs')).readFileSync(cluster.controllerKubeconfig, 'utf8').match(/token: (\S+)/)?.[1] ??
        'no-token';
      expect(token.length).toBeGreaterThan(20);
      expect(output).not.toContain(token);
      await cluster.core.deleteNamespacedService({ name: 'cli', namespace: ns });
      await waitFor(
        async () =>
          (await cluster.core.listNamespacedService({ namespace: ns })).items.length === 0 ? true : undefined,
        {
          message: 'the CLI controller to clean up',
          timeoutMs: 15_000,
        },
      );
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    // exited on its own after SIGTERM: code 0 and no signal (a process killed by the signal has code null)
    expect({ code: child.exitCode, signal: child.signalCode }).toEqual({ code: 0, signal: null });
  }, 90_000);

  it('a bad flag is refused before anything starts, naming the flag', async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'run', '--provider', 'local', '--workers', 'lots', '--kubeconfig', cluster.controllerKubeconfig],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(2);
    expect(stderr).toContain('--workers: must be a whole number');
  });
});

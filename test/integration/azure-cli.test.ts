/**
 * What an operator types, end to end: `lb-provisioner dev-cluster`, then `lb-provisioner run --provider
 * azure --azure-* ... --azure-arm-endpoint <fake>` against it with the admin kubeconfig it printed,
 * credentials from the environment (a service principal, through the fake authority). A LoadBalancer
 * Service gets an address; deleting it leaves nothing this cluster owns in the fake ARM.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { aService } from '../builders/service.ts';
import { createNode, waitFor } from '../harness/fixtures.ts';
import { ownedBy } from '../azure-fake/inventory.ts';
import { startFakeArmWorld, type FakeArmWorld } from '../azure-fake/world.ts';
import { BIN, REPO, startAzureController, type ControllerProcess } from './azure-controller.ts';

describe('lb-provisioner run --provider azure against a fresh dev-cluster', () => {
  let dir = '';
  let devCluster: ChildProcess | undefined;
  let world: FakeArmWorld | undefined;
  let controller: ControllerProcess | undefined;
  let core: k8s.CoreV1Api;
  const devLog: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'azure-cli-'));
    const kubeconfig = join(dir, 'kubeconfig');
    devCluster = spawn(
      'setpriv',
      ['--pdeathsig', 'SIGKILL', '--', process.execPath, BIN, 'dev-cluster', '--kubeconfig-out', kubeconfig],
      {
        cwd: REPO,
        env: { ...process.env, NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    createInterface({ input: devCluster.stdout! }).on('line', (l) => devLog.push(l));
    createInterface({ input: devCluster.stderr! }).on('line', (l) => devLog.push(l));
    world = await startFakeArmWorld();
    await waitFor(() => devLog.some((l) => l.startsWith('dev cluster ready')), {
      message: `dev-cluster to print its ready line\n${devLog.slice(-20).join('\n')}`,
      timeoutMs: 120_000,
      intervalMs: 200,
    });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfig);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await createNode(kc, { name: 'node-1', internalIP: '10.240.2.10' });
    controller = await startAzureController(world, kubeconfig, { cluster: 'cli' });
  }, 180_000);

  afterAll(async () => {
    await controller?.stop();
    if (devCluster?.pid && devCluster.exitCode === null) {
      const exited = new Promise((r) => devCluster!.once('exit', r));
      process.kill(-devCluster.pid, 'SIGTERM');
      await exited;
    }
    await world?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('gives a Service an address, and deleting it leaves nothing owned', async () => {
    await core.createNamespacedService({ namespace: 'default', body: aService('hello').withPorts(80).manifest() });
    const svc = await waitFor(
      async () => {
        const s = await core.readNamespacedService({ name: 'hello', namespace: 'default' });
        return s.status?.loadBalancer?.ingress?.[0]?.ip ? s : undefined;
      },
      { message: `hello to get an address\n${controller?.tail()}`, timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(svc.status!.loadBalancer!.ingress![0]).toMatchObject({ ipMode: 'VIP' });
    expect(ownedBy(world!.fake, 'cli').total).toBe(3); // the load balancer, its public IP, one NSG rule
    await core.deleteNamespacedService({ name: 'hello', namespace: 'default' });
    await waitFor(
      async () =>
        (await core.listNamespacedService({ namespace: 'default' })).items.every((s) => s.metadata?.name !== 'hello'),
      {
        message: 'hello to be let go',
        timeoutMs: 30_000,
      },
    );
    expect(ownedBy(world!.fake, 'cli').total).toBe(0);
    // the service principal's secret went to the authority, never into a log line
    expect(world!.fake.authority.tokenRequests.length).toBeGreaterThan(0);
    expect(controller!.logs.join('\n')).not.toContain('not-a-real-secret');
  });
});

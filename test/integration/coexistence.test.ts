/**
 * Beside another service controller: a class-less Service it finalized first is left to it, and while a
 * cloud controller manager holds its Lease every new class-less Service is too; each is said once, with a
 * Normal Event naming the other controller. Fake provider, real apiserver, the controller's own RBAC.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { FakeProvider } from '../../providers/fake/provider.ts';
import { aService } from '../builders/service.ts';
import { uniqueNamespace, waitFor } from '../harness/fixtures.ts';
import { UPSTREAM_FINALIZER } from '../../src/model/names.ts';
import type { ServiceController } from '../../src/controller/controller.ts';
import {
  deleteService,
  eventsOf,
  readService,
  startCluster,
  startController,
  waitForEvent,
  waitForService,
  type Cluster,
} from './support.ts';

const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

describe('beside another service controller (fake provider, real apiserver)', () => {
  let cluster: Cluster;
  let ns: string;
  let fake: FakeProvider;
  let controller: ServiceController | undefined;

  beforeAll(async () => {
    cluster = await startCluster();
    ns = await uniqueNamespace(cluster.admin, 'coexist');
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  afterEach(async () => {
    await controller?.stop();
    controller = undefined;
  });

  async function start(): Promise<void> {
    fake = new FakeProvider();
    controller = await startController(cluster, { providers: [fake] });
  }

  it('a class-less Service another controller finalized first is left to it, said once with its name', async () => {
    // "the other controller": an admin client with its own field manager sets the upstream finalizer
    await cluster.core.createNamespacedService({
      namespace: ns,
      body: aService('theirs', ns).withPorts(80).manifest(),
      fieldManager: 'other-cloud-controller',
    });
    await cluster.core.patchNamespacedService(
      {
        name: 'theirs',
        namespace: ns,
        body: { metadata: { finalizers: [UPSTREAM_FINALIZER] } },
        fieldManager: 'other-cloud-controller',
      },
      MERGE,
    );
    await start();
    const event = await waitForEvent(cluster, ns, 'theirs', 'LeftToAnotherController');
    expect(event.type).toBe('Normal');
    expect(event.message).toContain('(other-cloud-controller)');
    await controller!.idle();
    expect(fake.callsOf('ensure', `${ns}/theirs`)).toEqual([]);
    const svc = await readService(cluster, ns, 'theirs');
    expect(svc?.metadata?.annotations?.['lbprovisioner.io/provider']).toBeUndefined();
    expect(svc?.status?.loadBalancer?.ingress ?? []).toEqual([]);
    // said once: a label change syncs the Service again and records nothing new
    await cluster.core.patchNamespacedService(
      { name: 'theirs', namespace: ns, body: { metadata: { labels: { x: 'y' } } } },
      MERGE,
    );
    await waitForService(cluster, ns, 'theirs', (s) => s.metadata?.labels?.['x'] === 'y', 'the label');
    await controller!.idle();
    expect((await eventsOf(cluster, ns, 'theirs')).filter((e) => e.reason === 'LeftToAnotherController')).toHaveLength(
      1,
    );
    await cluster.core.patchNamespacedService(
      { name: 'theirs', namespace: ns, body: { metadata: { finalizers: null } } },
      MERGE,
    );
    await deleteService(cluster, ns, 'theirs');
  });

  it('while a cloud controller manager holds its Lease, new class-less Services are left to it and ours stay ours', async () => {
    await start();
    await cluster.core.createNamespacedService({
      namespace: ns,
      body: aService('built-before', ns).withPorts(80).manifest(),
    });
    await waitForService(
      cluster,
      ns,
      'built-before',
      (s) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0,
      'an address',
    );
    await controller!.stop();
    controller = undefined;

    const coord = cluster.admin.makeApiClient(k8s.CoordinationV1Api);
    const now = new k8s.V1MicroTime();
    await coord.createNamespacedLease({
      namespace: 'kube-system',
      body: {
        metadata: { name: 'cloud-controller-manager', namespace: 'kube-system' },
        spec: { holderIdentity: 'ccm-0_1234', leaseDurationSeconds: 15, acquireTime: now, renewTime: now },
      },
    });
    try {
      await start();
      await cluster.core.createNamespacedService({
        namespace: ns,
        body: aService('new-one', ns).withPorts(80).manifest(),
      });
      const event = await waitForEvent(cluster, ns, 'new-one', 'LeftToAnotherController');
      expect(event.message).toContain('kube-system/cloud-controller-manager');
      expect(event.message).toContain('ccm-0_1234');
      await controller!.idle();
      expect(fake.callsOf('ensure', `${ns}/new-one`)).toEqual([]);
      // the one we built before still syncs (a port change reaches the provider)
      await cluster.core.patchNamespacedService(
        {
          name: 'built-before',
          namespace: ns,
          body: { spec: { ports: [{ name: 'tcp-81', port: 81, protocol: 'TCP' }] } },
        },
        MERGE,
      );
      await waitFor(
        () =>
          [...fake.balancers.values()].find((b) => b.ref.name === 'built-before')?.lb.ports[0]?.port === 81 ||
          undefined,
        { message: 'the port change to reach the provider' },
      );
      await deleteService(cluster, ns, 'built-before');
      await cluster.core.deleteNamespacedService({ name: 'new-one', namespace: ns });
    } finally {
      await coord.deleteNamespacedLease({ name: 'cloud-controller-manager', namespace: 'kube-system' });
    }
  });
});

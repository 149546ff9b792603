/** Two replicas: only the leader writes; the other takes over when the leader dies; a deposed leader stops at once. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { FakeProvider } from '../../providers/fake/provider.ts';
import { aService } from '../builders/service.ts';
import { uniqueNamespace, waitFor } from '../harness/fixtures.ts';
import type { ServiceController } from '../../src/controller/controller.ts';
import { deleteService, observedBy, startCluster, startController, waitForService, type Cluster } from './support.ts';

const lease = {
  namespace: 'lb-provisioner',
  name: 'lb-provisioner',
  leaseDurationMs: 3000,
  renewDeadlineMs: 2000,
  retryPeriodMs: 300,
};
const hasIngress = (s: k8s.V1Service) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0;

describe('leader election (real Lease, controller RBAC)', () => {
  let cluster: Cluster;
  let ns: string;
  const running: ServiceController[] = [];

  async function replica(
    identity: string,
    onLost?: () => void,
  ): Promise<{ controller: ServiceController; fake: FakeProvider }> {
    const fake = new FakeProvider();
    const controller = await startController(cluster, {
      providers: [fake],
      leaderElection: { ...lease, identity },
      ...(onLost ? { onLostLeadership: onLost } : {}),
    });
    running.push(controller);
    return { controller, fake };
  }

  async function create(name: string): Promise<k8s.V1Service> {
    return cluster.core.createNamespacedService({ namespace: ns, body: aService(name, ns).withPorts(80).manifest() });
  }

  beforeAll(async () => {
    cluster = await startCluster();
    ns = await uniqueNamespace(cluster.admin, 'leader');
  });
  afterAll(async () => {
    for (const c of running) await c.stop().catch(() => {});
    // a new leader cleans up what the others built (the intruder's lease goes first)
    await cluster.admin
      .makeApiClient(k8s.CoordinationV1Api)
      .deleteNamespacedLease({ name: lease.name, namespace: lease.namespace });
    const cleaner = await replica('replica-cleaner');
    await waitFor(() => cleaner.controller.isLeader || undefined, {
      message: 'the cleaner to lead',
      timeoutMs: 15_000,
    });
    for (const name of ['first', 'second', 'third', 'fourth']) await deleteService(cluster, ns, name);
    await cleaner.controller.stop();
    await cluster?.stop();
  });

  it('only the leader writes; the other takes over after the leader is killed', async () => {
    const a = await replica('replica-a');
    await waitFor(() => a.controller.isLeader || undefined, { message: 'replica-a to lead', timeoutMs: 10_000 });
    const b = await replica('replica-b');
    await create('first');
    const served = await waitForService(cluster, ns, 'first', hasIngress, 'an ingress from the leader');
    // barrier: the standby has seen the Service as the leader left it (it watches too, and writes nothing)
    await observedBy(b.controller, 'Service', `${ns}/first`, served.metadata?.resourceVersion);
    expect(b.controller.isLeader).toBe(false);
    expect(b.fake.calls).toEqual([]);
    expect(b.controller.writer.counts).toEqual({ metadata: 0, status: 0 });
    expect(a.controller.writer.counts.status).toBeGreaterThan(0);

    // the leader dies without releasing its lease
    await a.controller.stop({ crash: true });
    const killedAt = Date.now();
    await waitFor(() => b.controller.isLeader || undefined, { message: 'replica-b to take over', timeoutMs: 15_000 });
    // not before the lease could have expired, judged by replica-b's own clock
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(lease.leaseDurationMs - 1000);
    await create('second');
    await waitForService(cluster, ns, 'second', hasIngress, 'an ingress from the new leader');
    expect(b.fake.callsOf('ensure', `${ns}/second`).length).toBe(1);
    expect(a.fake.callsOf('ensure', `${ns}/second`)).toEqual([]);
    await b.controller.stop();
  }, 60_000);

  it('a graceful stop lets the sync in flight finish, and only then releases the lease', async () => {
    const fake = new FakeProvider({ latencyMs: 1500 });
    const d = await startController(cluster, {
      providers: [fake],
      leaderElection: { ...lease, identity: 'replica-d' },
    });
    running.push(d);
    await waitFor(() => d.isLeader || undefined, { message: 'replica-d to lead', timeoutMs: 15_000 });
    await create('fourth');
    // the Services of the first test are synced too on taking the lease: wait for this Service's own call
    await waitFor(() => (fake.callsOf('ensure', `${ns}/fourth`).length > 0 && fake.inFlight > 0) || undefined, {
      message: "fourth's ensure in flight",
      timeoutMs: 10_000,
    });
    const stopped = d.stop();
    // barrier: the stop has begun (no longer leading, the queue shut down) while the call is still in flight
    await waitFor(() => !d.isLeader || undefined, { message: 'replica-d to begin stopping', timeoutMs: 10_000 });
    const coord = cluster.admin.makeApiClient(k8s.CoordinationV1Api);
    const holder = async () =>
      (await coord.readNamespacedLease({ name: lease.name, namespace: lease.namespace })).spec?.holderIdentity;
    // mid-call: the lease is still ours, so no standby can take over and race us
    expect(fake.inFlight).toBeGreaterThan(0);
    expect(await holder()).toBe('replica-d');
    await stopped;
    expect(fake.inFlight).toBe(0);
    expect(fake.callsOf('ensure', `${ns}/fourth`)).toHaveLength(1);
    expect([...fake.balancers.values()].some((b) => b.ref.name === 'fourth')).toBe(true);
    const svc = await waitForService(cluster, ns, 'fourth', hasIngress, 'the drained sync to have written status');
    expect(svc.status?.loadBalancer?.ingress?.[0]?.ip).toBeDefined();
    expect(await holder()).toBeFalsy();
  }, 60_000);

  it('a leader that loses its lease to another holder stops writing at once', async () => {
    let lost = 0;
    const c = await replica('replica-c', () => lost++);
    await waitFor(() => c.controller.isLeader || undefined, { message: 'replica-c to lead', timeoutMs: 15_000 });
    // someone else holds the lease now (a partition healed in the other replica's favour)
    const coord = cluster.admin.makeApiClient(k8s.CoordinationV1Api);
    // read-modify-write, again on a conflict: replica-c renews the lease meanwhile
    await waitFor(
      async () => {
        const current = await coord.readNamespacedLease({ name: lease.name, namespace: lease.namespace });
        current.spec = {
          ...current.spec,
          holderIdentity: 'intruder',
          renewTime: new k8s.V1MicroTime(),
          leaseDurationSeconds: 60,
        };
        try {
          await coord.replaceNamespacedLease({ name: lease.name, namespace: lease.namespace, body: current });
          return true;
        } catch (err) {
          if ((err as { code?: number }).code === 409) return undefined;
          throw err;
        }
      },
      { message: 'the intruder to take the lease', timeoutMs: 10_000 },
    );
    await waitFor(() => (!c.controller.isLeader && lost === 1) || undefined, {
      message: 'replica-c to step down',
      timeoutMs: lease.renewDeadlineMs + 3000,
    });
    const writes = { ...c.controller.writer.counts };
    const calls = c.fake.calls.length;
    const third = await create('third');
    // barrier: the deposed leader has seen the new Service (its informers still run) and queued nothing
    await observedBy(c.controller, 'Service', `${ns}/third`, third.metadata?.resourceVersion);
    expect(c.controller.writer.counts).toEqual(writes);
    expect(c.fake.calls.length).toBe(calls);
    await c.controller.stop();
  }, 60_000);
});
